#pragma once
// im2col / col2im for N-D convolutions: the lowering that turns a convolution into a GEMM. A
// column matrix has one row per (channel, kernel offset) and one column per window position; the
// image is the side whose pixels the windows read (Conv's input, ConvTranspose's output).

#include <cstdint>

#include "ir/tensor.h"

namespace kiln::cpu {

struct ConvGeometry {
    Shape image;      // spatial extents of the windowed side
    Shape positions;  // spatial extents of the window grid (Conv's output, ConvTranspose's input)
    Shape kernel;
    Shape strides;
    Shape dilations;
    Shape padBegin;

    int64_t imageSize() const { return shapeElementCount(image); }
    int64_t positionCount() const { return shapeElementCount(positions); }
    int64_t kernelSize() const { return shapeElementCount(kernel); }
    /// A 1x1 window at stride 1 without padding: the image already is the column matrix.
    bool isPointwise() const;
};

/// Fills `col` ((channels * kernelSize) x positionCount) from `image` (channels x imageSize);
/// reads outside the image are zero. `parallel` spreads rows over OpenMP threads.
template <typename T>
void im2col(const ConvGeometry& g, const T* image, int64_t channels, T* col, bool parallel);

/// The adjoint of im2col: adds each column entry onto the image pixel it was read from; entries
/// whose pixel lies outside the image are dropped. `image` must be initialised by the caller.
template <typename T>
void col2imAccumulate(const ConvGeometry& g, const T* col, int64_t channels, T* image, bool parallel);

}  // namespace kiln::cpu
