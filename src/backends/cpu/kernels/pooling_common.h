#pragma once
// Pieces shared by the windowed and the global pooling kernels.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "ir/graph.h"

namespace kiln {
class CpuKernelRegistry;
}

namespace kiln::cpu {

/// Spatial axes a pooling kernel handles (index arrays live on the stack).
constexpr size_t kMaxPoolSpatialRank = 8;

/// Loops with fewer window taps than this run on one thread: the fork/join costs more.
constexpr int64_t kPoolParallelWork = 32768;

/// supports() of the pooling ops: input 0 has one of `types`, rank >= minRank, and at most
/// kMaxPoolSpatialRank spatial axes.
bool supportsPoolNode(const Node& node, std::initializer_list<DataType> types, size_t minRank, std::string* reason);

/// GlobalAveragePool, GlobalMaxPool, GlobalLpPool (pooling_global.cpp).
void registerGlobalPoolingKernels(CpuKernelRegistry& registry);

/// MaxUnpool (pooling_unpool.cpp).
void registerUnpoolingKernels(CpuKernelRegistry& registry);

}  // namespace kiln::cpu
