// Image family: LRN and GridSample against double-precision references written from the ONNX
// definitions, on random data.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

TEST(LrnOp, NormalizesOverAWindowOfChannels) {
    for (int64_t size : {1, 2, 3, 5}) {
        Tensor x = randomData(DataType::kFLOAT, {2, 6, 3, 4}, static_cast<uint32_t>(size));
        AttributeMap attrs;
        attrs.set("size", size);
        attrs.set("alpha", 0.02f);
        attrs.set("beta", 0.6f);
        attrs.set("bias", 2.0f);
        SingleNodeRun run = runOp("LRN", {&x}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        std::vector<double> ref;
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            std::vector<int64_t> c = unravel(i, x.shape());
            double square = 0;
            for (int64_t k = c[1] - (size - 1) / 2; k <= c[1] + size / 2; ++k) {
                if (k < 0 || k >= 6) continue;
                std::vector<int64_t> other = c;
                other[1] = k;
                square += std::pow(x.elementAsDouble(ravel(other, x.shape())), 2);
            }
            ref.push_back(x.elementAsDouble(i) / std::pow(2.0 + double(0.02f) / double(size) * square, double(0.6f)));
        }
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-6), "") << "size " << size;
    }
}

/// Pixel (h, w) of plane `nc` with the padding mode's rule for out-of-range indices.
double pixel(const Tensor& x, int64_t nc, int64_t h, int64_t w, const std::string& padding, bool align) {
    const int64_t H = x.shape()[2], W = x.shape()[3];
    auto fix = [&](int64_t i, int64_t n) -> int64_t {
        if (i >= 0 && i < n) return i;
        if (padding == "zeros") return -1;
        if (padding == "border") return std::clamp<int64_t>(i, 0, n - 1);
        double lo = align ? 0 : -0.5, hi = align ? double(n - 1) : double(n) - 0.5, v = double(i);
        while (v < lo || v > hi) v = v < lo ? 2 * lo - v : 2 * hi - v;
        return std::clamp<int64_t>(static_cast<int64_t>(v), 0, n - 1);
    };
    int64_t hh = fix(h, H), ww = fix(w, W);
    if (hh < 0 || ww < 0) return 0;
    return x.elementAsDouble((nc * H + hh) * W + ww);
}

TEST(GridSampleOp, ModesPaddingsAndAlignment2d) {
    Tensor x = randomData(DataType::kFLOAT, {2, 2, 4, 5}, 81);
    Tensor grid = randomTensor(DataType::kFLOAT, {2, 3, 6, 2}, -1.3, 1.3, 82);
    for (const char* mode : {"nearest", "linear", "cubic"})
        for (const char* padding : {"zeros", "border", "reflection"})
            for (int64_t align : {0, 1}) {
                AttributeMap attrs;
                attrs.set("mode", std::string(mode));
                attrs.set("padding_mode", std::string(padding));
                attrs.set("align_corners", align);
                SingleNodeRun run = runOp("GridSample", {&x, &grid}, attrs);
                std::string what = std::string(mode) + "/" + padding + "/" + std::to_string(align);
                ASSERT_TRUE(run.status) << what << ": " << run.status.message();
                ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 2, 3, 6})) << what;
                std::vector<double> ref;
                for (int64_t n = 0; n < 2; ++n)
                    for (int64_t c = 0; c < 2; ++c)
                        for (int64_t i = 0; i < 18; ++i) {
                            double coord[2];  // (w, h) from the grid
                            int64_t sizes[2] = {5, 4};
                            for (int d = 0; d < 2; ++d) {
                                double g = grid.elementAsDouble((n * 18 + i) * 2 + d);
                                double len = double(sizes[d]);
                                double v = align ? (g + 1) / 2 * (len - 1) : ((g + 1) * len - 1) / 2;
                                if (std::string(mode) == "nearest") v = std::nearbyint(v);
                                double lo = align ? 0 : -0.5, hi = align ? len - 1 : len - 0.5;
                                // Only coordinates beyond the border region move (ONNX's reference).
                                if (std::string(padding) == "border" && (v < lo || v > hi)) v = std::clamp(v, 0.0, len - 1);
                                if (std::string(padding) == "reflection")
                                    while (v < lo || v > hi) v = v < lo ? 2 * lo - v : 2 * hi - v;
                                coord[d] = v;
                            }
                            double value = 0;
                            if (std::string(mode) == "nearest") {
                                value = pixel(x, n * 2 + c, int64_t(coord[1]), int64_t(coord[0]), padding, align);
                            } else {
                                auto weight = [&](double d) {
                                    d = std::abs(d);
                                    if (std::string(mode) == "linear") return std::max(0.0, 1 - d);
                                    double a = -0.75;
                                    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
                                    if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
                                    return 0.0;
                                };
                                int64_t reach = std::string(mode) == "linear" ? 1 : 2;
                                for (int64_t h = int64_t(std::floor(coord[1])) - reach + 1; h <= int64_t(std::floor(coord[1])) + reach; ++h)
                                    for (int64_t w = int64_t(std::floor(coord[0])) - reach + 1; w <= int64_t(std::floor(coord[0])) + reach; ++w)
                                        value += weight(double(h) - coord[1]) * weight(double(w) - coord[0]) * pixel(x, n * 2 + c, h, w, padding, align);
                            }
                            ref.push_back(value);
                        }
                EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-4, 1e-4), "") << what;
            }
}

}  // namespace
}  // namespace kiln::test
