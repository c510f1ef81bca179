#pragma once
// Pieces of the CPU string family (strings.cpp registers them all): the string forms of Cast and
// CastLike (string_cast.cpp) and ai.onnx.ml LabelEncoder (ml_label_encoder.cpp).

#include <string_view>

#include "backends/cpu/kernel_registry.h"

namespace kiln::cpu {

/// Wraps the registered Cast and CastLike entries: nodes with a string input or output get the
/// string kernel, the rest keep the numeric one.
void registerStringCastKernels(CpuKernelRegistry& registry);
void registerLabelEncoderKernel(CpuKernelRegistry& registry);

/// The views of a kSTRING tensor view's elements.
inline const StringView* stringsOf(const TensorView& view) { return static_cast<const StringView*>(view.data); }
inline StringView* mutableStringsOf(const TensorView& view) { return static_cast<StringView*>(view.data); }

/// Input `index` of `node` is a string tensor.
inline bool isStringValue(const Value* v) { return v && v->dtype == DataType::kSTRING; }

}  // namespace kiln::cpu
