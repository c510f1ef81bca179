#pragma once
// Host references for channels-last (NHWC) convolution tests: tensors moved between NCHW and NHWC, and the
// fused activations in double, so a GPU FusedConv in NHWC is compared with the CPU backend's NCHW Conv.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "ir/tensor.h"

namespace kiln::cudatest {

/// A 4-D tensor with axis 1 moved last: X, Z and Y's [N, C, H, W] to [N, H, W, C], W's [K, C/g, R, S]
/// to [K, R, S, C/g].
inline Tensor channelsLast(const Tensor& t) {
    const Shape& s = t.shape();
    const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
    Tensor out = Tensor::allocate(t.dtype(), {n, h, w, c});
    const size_t size = dataTypeSize(t.dtype());
    const auto* src = static_cast<const uint8_t*>(t.data());
    auto* dst = static_cast<uint8_t*>(out.data());
    for (int64_t in = 0; in < n; ++in)
        for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t ih = 0; ih < h; ++ih)
                for (int64_t iw = 0; iw < w; ++iw)
                    std::memcpy(dst + static_cast<size_t>(((in * h + ih) * w + iw) * c + ic) * size,
                                src + static_cast<size_t>(((in * c + ic) * h + ih) * w + iw) * size, size);
    return out;
}

/// The values of an [N, C, H, W] tensor in [N, H, W, C] order.
inline std::vector<double> channelsLastValues(const std::vector<double>& values, const Shape& s) {
    const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
    std::vector<double> out(values.size());
    for (int64_t in = 0; in < n; ++in)
        for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t ih = 0; ih < h; ++ih)
                for (int64_t iw = 0; iw < w; ++iw)
                    out[static_cast<size_t>(((in * h + ih) * w + iw) * c + ic)] =
                        values[static_cast<size_t>(((in * c + ic) * h + ih) * w + iw)];
    return out;
}

/// The relative tolerance of a convolution kernel's output in `type` against a double reference: narrow
/// types round each output once after float accumulation; float sums in another order.
inline double convRelativeTolerance(DataType type) {
    switch (type) {
        case DataType::kHALF: return 2e-3;
        case DataType::kBF16: return 1.6e-2;
        default: return 1e-5;
    }
}

/// One channels-last convolution case's tensors (W [K, R, S, C/group]; bias [K]; residual and Y NHWC; X as
/// the kernel reads it), attributes and double reference.
struct PreparedConv {
    Tensor x, w, b, z;
    bool bias{false}, residual{false};
    Shape y;  // N OH OW K
    AttributeMap attrs;
    std::vector<double> reference;
    std::vector<const Tensor*> inputs() const {
        std::vector<const Tensor*> in = {&x, &w, bias ? &b : nullptr};
        if (residual) in.push_back(&z);
        return in;
    }
};

inline double activate(const char* activation, const std::vector<float>& params, double v) {
    if (!activation) return v;
    const std::string a = activation;
    if (a == "Relu") return std::max(v, 0.0);
    if (a == "LeakyRelu") return v >= 0 ? v : params[0] * v;
    if (a == "Sigmoid") return 1.0 / (1.0 + std::exp(-v));
    if (a == "Clip") return std::min(std::max(v, static_cast<double>(params[0])), static_cast<double>(params[1]));
    if (a == "HardSwish") return v * std::min(1.0, std::max(0.0, v / 6.0 + 0.5));
    ADD_FAILURE() << "no reference for " << a;
    return v;
}

}  // namespace kiln::cudatest
