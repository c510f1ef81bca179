#pragma once
// The sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: their attributes
// (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode) validated once, and the per-axis
// padding and output extent that ONNX's shape inference defines. Shape inference and the CPU
// kernels both use it, so the shapes a kernel computes are the shapes inference promised.

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "ir/attribute.h"
#include "ir/tensor.h"

namespace kiln {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

/// Convolutions take their kernel extents from the weights (kernel_shape is optional); pooling
/// requires kernel_shape and has ceil_mode.
enum class WindowKind { kConvolution, kPooling };

struct WindowSpec {
    AutoPad autoPad{AutoPad::kNotSet};
    Shape kernel;     // one extent per spatial axis
    Shape strides;
    Shape dilations;
    Shape pads;       // [begin_0, ..., begin_n-1, end_0, ..., end_n-1]; explicit pads, zeros otherwise
    bool padsGiven{false};  // the pads attribute was present (ConvTranspose's output_shape needs to know)
    bool ceilMode{false};

    size_t spatialRank() const { return kernel.size(); }
    /// Extent the dilated kernel covers on axis i.
    int64_t effectiveKernel(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
};

/// Reads and validates the window attributes for `spatialRank` axes. `weightKernel` is the weights'
/// spatial shape (Conv, ConvTranspose) when known; kernel_shape defaults to it and must agree with
/// it. Errors carry no node context (the caller adds it). When the kernel is neither given nor
/// known, the result's kernel is empty.
Expected<WindowSpec> parseWindowSpec(const AttributeMap& attrs, size_t spatialRank,
                                     const std::optional<Shape>& weightKernel, WindowKind kind);

struct AxisWindow {
    int64_t padBegin{0};
    int64_t padEnd{0};
    int64_t output{0};
};

/// Conv and pooling: padding and output extent of spatial axis `axis` for an input extent `input`,
/// by ONNX's convPoolShapeInference rules (SAME_* pads from the input extent's residual modulo the
/// stride, ceil_mode dropping a last window that would start in the end padding).
AxisWindow forwardWindow(const WindowSpec& spec, size_t axis, int64_t input);

/// True when the forward window maps every input extent onto itself (kernel 1, stride 1, no pads,
/// or SAME with stride 1), so a symbolic extent passes through unchanged.
bool forwardWindowPreservesExtent(const WindowSpec& spec, size_t axis);

/// MaxUnpool: the extent of spatial axis `axis` that inverts a pooling window over an input
/// extent `input` (the pooling input's extent before its padding): (input - 1) * stride - pads + kernel.
int64_t unpoolExtent(const WindowSpec& spec, size_t axis, int64_t input);

/// ConvTranspose's extra attributes, validated per spatial axis.
struct TransposeSpec {
    Shape outputPadding;              // one per spatial axis
    std::optional<Shape> outputShape;  // the spatial part of output_shape, when given
};
Expected<TransposeSpec> parseTransposeSpec(const AttributeMap& attrs, const WindowSpec& window);

/// ConvTranspose: padding and output extent of spatial axis `axis` (ONNX's reference semantics:
/// SAME_* gives input * stride; output_shape generates the pads when pads are not given).
AxisWindow transposeWindow(const WindowSpec& spec, const TransposeSpec& transpose, size_t axis, int64_t input);

/// "NOTSET", "SAME_UPPER", ...
const char* autoPadName(AutoPad autoPad);

}  // namespace kiln
