#pragma once
// The quantization kernel family is split over two files: the linear (de)quantizers
// (quantization_linear.cpp, which registers the family) and the integer compute ops
// (quantization_integer.cpp).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "backends/tensor_view.h"
#include "common/element_rules.h"
#include "ir/dtype.h"

namespace kiln {

class CpuKernelRegistry;

namespace quantkernels {

void registerIntegerKernels(CpuKernelRegistry& registry);  // MatMulInteger ConvInteger QLinearMatMul QLinearConv

/// Element `i` of an integer, floating or low-bit view as double.
inline double elementAt(const TensorView& view, int64_t i) {
    if (isLowBitType(view.dtype)) return lowBitToDouble(view.dtype, view.as<const uint8_t>()[i]);
    return dispatchDataType(view.dtype, [&](auto tag) { return static_cast<double>(view.as<const decltype(tag)>()[i]); });
}

}  // namespace quantkernels
}  // namespace kiln
