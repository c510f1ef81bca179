#include "backends/cpu/kernels/conv_im2col.h"

#include <algorithm>
#include <cstring>

#include "backends/cpu/kernels/conv_common.h"

namespace kiln::cpu {

namespace {

template <typename T>
void gatherLine(const T* src, int64_t width, int64_t start, int64_t stride, int64_t count, T* dst) {
    LineRange r = validRange(start, stride, width, count);
    std::fill(dst, dst + r.lo, T(0));
    if (stride == 1) {
        std::memcpy(dst + r.lo, src + start + r.lo, static_cast<size_t>(r.hi - r.lo) * sizeof(T));
    } else {
        for (int64_t o = r.lo; o < r.hi; ++o) dst[o] = src[start + o * stride];
    }
    std::fill(dst + r.hi, dst + count, T(0));
}

template <typename T>
void scatterLine(const T* src, int64_t width, int64_t start, int64_t stride, int64_t count, T* dst) {
    LineRange r = validRange(start, stride, width, count);
    for (int64_t o = r.lo; o < r.hi; ++o) dst[start + o * stride] += src[o];
}

/// Walks the lines of one column-matrix row: for each window position of every axis but the
/// last, `fn(lineIndex, imageOffset or -1 when outside, lastAxisStart)`.
template <typename Fn>
void forEachLine(const ConvGeometry& g, int64_t kernelIndex, Fn&& fn) {
    const size_t n = g.kernel.size();
    int64_t k[kMaxConvSpatialRank];
    for (size_t d = n; d-- > 0;) {
        k[d] = kernelIndex % g.kernel[d];
        kernelIndex /= g.kernel[d];
    }
    // Image pixel of window position p on axis d: p * stride - pad + k * dilation.
    int64_t base[kMaxConvSpatialRank];
    for (size_t d = 0; d < n; ++d) base[d] = k[d] * g.dilations[d] - g.padBegin[d];
    const int64_t lastStart = base[n - 1];

    int64_t outerCount = 1;
    for (size_t d = 0; d + 1 < n; ++d) outerCount *= g.positions[d];
    int64_t p[kMaxConvSpatialRank] = {};
    for (int64_t line = 0; line < outerCount; ++line) {
        int64_t offset = 0;
        bool inside = true;
        for (size_t d = 0; d + 1 < n; ++d) {
            int64_t pixel = p[d] * g.strides[d] + base[d];
            inside = inside && pixel >= 0 && pixel < g.image[d];
            offset = offset * g.image[d] + pixel;
        }
        fn(line, inside ? offset * g.image[n - 1] : int64_t{-1}, lastStart);
        for (size_t d = n - 1; d-- > 0;) {  // odometer over the outer axes
            if (++p[d] < g.positions[d]) break;
            p[d] = 0;
        }
    }
}

}  // namespace

bool ConvGeometry::isPointwise() const {
    for (size_t d = 0; d < kernel.size(); ++d)
        if (kernel[d] != 1 || strides[d] != 1 || padBegin[d] != 0 || image[d] != positions[d]) return false;
    return true;
}

template <typename T>
void im2col(const ConvGeometry& g, const T* image, int64_t channels, T* col, bool parallel) {
    const int64_t kernelSize = g.kernelSize();
    const int64_t rows = channels * kernelSize;
    const int64_t positions = g.positionCount();
    const int64_t imageSize = g.imageSize();
    const int64_t width = g.image.back();
    const int64_t lineLength = g.positions.back();
    const int64_t stride = g.strides.back();
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t row = 0; row < rows; ++row) {
        const T* src = image + (row / kernelSize) * imageSize;
        T* dst = col + row * positions;
        forEachLine(g, row % kernelSize, [&](int64_t line, int64_t offset, int64_t start) {
            T* out = dst + line * lineLength;
            if (offset < 0) std::fill(out, out + lineLength, T(0));
            else gatherLine(src + offset, width, start, stride, lineLength, out);
        });
    }
}

template <typename T>
void col2imAccumulate(const ConvGeometry& g, const T* col, int64_t channels, T* image, bool parallel) {
    const int64_t kernelSize = g.kernelSize();
    const int64_t positions = g.positionCount();
    const int64_t imageSize = g.imageSize();
    const int64_t width = g.image.back();
    const int64_t lineLength = g.positions.back();
    const int64_t stride = g.strides.back();
    // One thread per channel: the rows of a channel are the only ones writing its image plane.
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t c = 0; c < channels; ++c) {
        T* dst = image + c * imageSize;
        for (int64_t kernelIndex = 0; kernelIndex < kernelSize; ++kernelIndex) {
            const T* src = col + (c * kernelSize + kernelIndex) * positions;
            forEachLine(g, kernelIndex, [&](int64_t line, int64_t offset, int64_t start) {
                if (offset >= 0) scatterLine(src + line * lineLength, width, start, stride, lineLength, dst + offset);
            });
        }
    }
}

template void im2col<float>(const ConvGeometry&, const float*, int64_t, float*, bool);
template void im2col<double>(const ConvGeometry&, const double*, int64_t, double*, bool);
template void col2imAccumulate<float>(const ConvGeometry&, const float*, int64_t, float*, bool);
template void col2imAccumulate<double>(const ConvGeometry&, const double*, int64_t, double*, bool);

}  // namespace kiln::cpu
