#pragma once
// Dispatch helpers shared by the reduction kernels.

#include <cstdint>
#include <type_traits>

#include "backends/cpu/kernels/reduction_ops.h"
#include "ir/dtype.h"

namespace kiln {
class CpuKernelRegistry;
}

namespace kiln::cpu {

/// Reductions touching fewer elements than this run on one thread: the fork/join costs more.
constexpr int64_t kReduceParallelWork = 32768;

/// Calls fn(std::integral_constant<ReduceOp, op>{}), so kernels are instantiated per operation.
template <typename Fn>
decltype(auto) dispatchReduceOp(ReduceOp op, Fn&& fn) {
    switch (op) {
        case ReduceOp::kSum: return fn(std::integral_constant<ReduceOp, ReduceOp::kSum>{});
        case ReduceOp::kMean: return fn(std::integral_constant<ReduceOp, ReduceOp::kMean>{});
        case ReduceOp::kMax: return fn(std::integral_constant<ReduceOp, ReduceOp::kMax>{});
        case ReduceOp::kMin: return fn(std::integral_constant<ReduceOp, ReduceOp::kMin>{});
        case ReduceOp::kProd: return fn(std::integral_constant<ReduceOp, ReduceOp::kProd>{});
        case ReduceOp::kL1: return fn(std::integral_constant<ReduceOp, ReduceOp::kL1>{});
        case ReduceOp::kL2: return fn(std::integral_constant<ReduceOp, ReduceOp::kL2>{});
        case ReduceOp::kLogSum: return fn(std::integral_constant<ReduceOp, ReduceOp::kLogSum>{});
        case ReduceOp::kLogSumExp: return fn(std::integral_constant<ReduceOp, ReduceOp::kLogSumExp>{});
        case ReduceOp::kSumSquare: return fn(std::integral_constant<ReduceOp, ReduceOp::kSumSquare>{});
    }
    return fn(std::integral_constant<ReduceOp, ReduceOp::kSum>{});
}

/// The storage types a ReduceX kernel is compiled for (bool only for ReduceMax / ReduceMin).
template <ReduceOp Op, typename T>
constexpr bool reduceOpAcceptsType() {
    if constexpr (std::is_same_v<T, int16_t> || std::is_same_v<T, uint16_t>) return false;
    else if constexpr (std::is_same_v<T, bool>) return Op == ReduceOp::kMax || Op == ReduceOp::kMin;
    else return true;
}

/// "ReduceSum", ...
const char* reduceOpType(ReduceOp op);
/// "sum", ... (for tactic names)
const char* reduceOpName(ReduceOp op);

/// ArgMax and ArgMin (reduction_arg.cpp).
void registerArgReduceKernels(CpuKernelRegistry& registry);

}  // namespace kiln::cpu
