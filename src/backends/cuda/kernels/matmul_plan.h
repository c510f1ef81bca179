#pragma once
// How a numpy MatMul becomes cuBLASLt products: one product when the batch dims allow (stacked into M,
// or strided with a stride of 0 for a broadcast operand), else one product per output batch. Host-only
// and free of CUDA calls, so it is tested without a GPU.

#include <cstdint>
#include <vector>

#include "backends/cuda/kernels/cublaslt_gemm.h"
#include "common/status.h"
#include "ir/tensor.h"

namespace kiln::cuda {

struct MatMulPlan {
    enum class Mode {
        kNothing,   // an empty output
        kZeroFill,  // K = 0: every output element is an empty sum
        kSingle,    // one (possibly batched) product
        kPerBatch,  // one product per output batch, at perBatch's offsets
    };
    struct Offsets {  // elements from the start of A, B and Y
        int64_t a;
        int64_t b;
        int64_t y;
    };

    Mode mode{Mode::kNothing};
    GemmProblem problem;
    /// The pointer alignment (bytes) every product's operands keep: what cuBLASLt's algorithm is chosen for.
    uint32_t alignment{kGemmAlignment};
    std::vector<Offsets> perBatch;
};

/// Plans Y = A x B with numpy MatMul semantics (batch dims broadcast; a 1-D A is a row, a 1-D B a
/// column). invalidArgument when the shapes do not multiply or `y` does not hold the product.
Expected<MatMulPlan> planMatMul(DataType type, const Shape& a, const Shape& b, const Shape& y);

}  // namespace kiln::cuda
