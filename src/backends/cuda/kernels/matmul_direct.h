#pragma once
// A direct MatMul kernel for what cuBLASLt is not asked (or not able) to compute: double, bfloat16 and
// the integer types ONNX's MatMul lists, and float / float16 products for which cuBLASLt offers no
// algorithm. One thread per output element; numpy semantics (batch dims broadcast, 1-D operands).

#include <cuda_runtime.h>

#include <cstdint>

#include "common/status.h"
#include "ir/tensor.h"

namespace kiln::cuda {

constexpr int kMaxDirectMatMulBatchRank = 8;

struct DirectMatMulPlan {
    DataType type{DataType::kFLOAT};
    int64_t m{0}, n{0}, k{0};
    int batchRank{0};
    int64_t batchDims[kMaxDirectMatMulBatchRank]{};  // the output's batch dims, outermost first
    int64_t strideA[kMaxDirectMatMulBatchRank]{};    // elements per step of each batch dim (0: broadcast)
    int64_t strideB[kMaxDirectMatMulBatchRank]{};
    int64_t count{0};  // output elements
};

/// The direct product's plan for A `a` x B `b` into `y`, or an error naming what does not fit.
Expected<DirectMatMulPlan> planDirectMatMul(DataType type, const Shape& a, const Shape& b, const Shape& y);

/// Launches Y = A x B on `stream`: floats accumulate in float (double for double), integers wrap.
Status launchDirectMatMul(const DirectMatMulPlan& plan, const void* a, const void* b, void* y, cudaStream_t stream);

}  // namespace kiln::cuda
