#pragma once
// The selection kernel family (ops with data-dependent output shapes) is split by op over several
// files; registerSelectionKernels (selection.cpp) calls each part.

#include <type_traits>

#include "ir/dtype.h"

namespace kiln {

class CpuKernelRegistry;

namespace selectionkernels {

void registerUniqueKernel(CpuKernelRegistry& registry);             // Unique
void registerTopKKernel(CpuKernelRegistry& registry);               // TopK
void registerNonMaxSuppressionKernel(CpuKernelRegistry& registry);  // NonMaxSuppression

/// An element as a type with the usual ordering: half-precision types compare as float.
template <typename T>
auto comparable(T v) {
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
        return static_cast<float>(v);
    else
        return v;
}

}  // namespace selectionkernels
}  // namespace kiln
