#include "backends/cuda/kernels/matmul_plan.h"

#include <algorithm>
#include <optional>
#include <string>

namespace kiln::cuda {

namespace {

int64_t product(const Shape& dims) {
    int64_t p = 1;
    for (int64_t d : dims) p *= d;
    return p;
}

/// Numpy broadcast of two batch shapes; nullopt when they do not broadcast.
std::optional<Shape> broadcastBatch(const Shape& a, const Shape& b) {
    const size_t rank = std::max(a.size(), b.size());
    Shape out(rank, 1);
    for (size_t i = 0; i < rank; ++i) {
        int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da != db && da != 1 && db != 1) return std::nullopt;
        out[i] = da == 1 ? db : da;
    }
    return out;
}

/// Element offsets of each output batch's matrix in an operand with batch dims `dims` (right-aligned
/// to `out`, 1 where broadcast) and `matrixSize` elements per matrix.
std::vector<int64_t> batchOffsets(const Shape& dims, const Shape& out, int64_t matrixSize) {
    const size_t rank = out.size();
    std::vector<int64_t> strides(rank, 0);
    int64_t stride = matrixSize;
    for (size_t i = rank; i-- > 0;) {
        int64_t extent = i < rank - dims.size() ? 1 : dims[i - (rank - dims.size())];
        strides[i] = extent == 1 ? 0 : stride;
        stride *= extent;
    }
    std::vector<int64_t> offsets(static_cast<size_t>(product(out)));
    for (size_t b = 0; b < offsets.size(); ++b) {
        int64_t rest = static_cast<int64_t>(b);
        int64_t offset = 0;
        for (size_t i = rank; i-- > 0;) {
            offset += (rest % out[i]) * strides[i];
            rest /= out[i];
        }
        offsets[b] = offset;
    }
    return offsets;
}

}  // namespace

Expected<MatMulPlan> planMatMul(DataType type, const Shape& a, const Shape& b, const Shape& y) {
    if (a.empty() || b.empty()) return invalidArgument("MatMul operands must have rank >= 1");
    // A 1-D A is a row (1 x K), a 1-D B a column (K x 1); the output simply lacks that dim.
    const int64_t m = a.size() == 1 ? 1 : a[a.size() - 2];
    const int64_t k = a.back();
    const int64_t kB = b.size() == 1 ? b[0] : b[b.size() - 2];
    const int64_t n = b.size() == 1 ? 1 : b.back();
    if (k != kB)
        return invalidArgument("inner dimensions differ: A " + shapeToString(a, true) + ", B " +
                               shapeToString(b, true));
    const Shape batchA(a.begin(), a.end() - std::min<ptrdiff_t>(static_cast<ptrdiff_t>(a.size()), 2));
    const Shape batchB(b.begin(), b.end() - std::min<ptrdiff_t>(static_cast<ptrdiff_t>(b.size()), 2));
    std::optional<Shape> batchOut = broadcastBatch(batchA, batchB);
    if (!batchOut)
        return invalidArgument("batch dims of A " + shapeToString(a, true) + " and B " + shapeToString(b, true) +
                               " do not broadcast");
    const int64_t batch = product(*batchOut);
    if (shapeElementCount(y) != batch * m * n)
        return invalidArgument("output " + shapeToString(y, true) + " does not hold the product of " +
                               shapeToString(a, true) + " and " + shapeToString(b, true));

    MatMulPlan plan;
    if (batch == 0 || m == 0 || n == 0) return plan;  // kNothing
    if (k == 0) {
        plan.mode = MatMulPlan::Mode::kZeroFill;
        return plan;
    }
    const int64_t countA = product(batchA);
    const int64_t countB = product(batchB);
    const uint64_t elementSize = dataTypeSize(type);
    auto keepAlignment = [&](int64_t elements) {
        plan.alignment =
            std::min(plan.alignment, alignmentOf(static_cast<uint64_t>(elements) * elementSize, kGemmAlignment));
    };
    plan.problem = GemmProblem{type, m, n, k};
    if (countB == 1 && countA == batch) {
        // Every batch of A meets the same B: one product with the batches stacked into M.
        plan.mode = MatMulPlan::Mode::kSingle;
        plan.problem.m = batch * m;
    } else if ((countA == batch || countA == 1) && (countB == batch || countB == 1)) {
        // Each operand is batched like the output, or one matrix for all (stride 0): one strided product.
        plan.mode = MatMulPlan::Mode::kSingle;
        plan.problem.batch = batch;
        plan.problem.strideA = countA == 1 ? 0 : m * k;
        plan.problem.strideB = countB == 1 ? 0 : k * n;
        plan.problem.strideD = m * n;
        for (int64_t stride : {plan.problem.strideA, plan.problem.strideB, plan.problem.strideD}) keepAlignment(stride);
    } else {
        // Mixed broadcasting (A [2,1,M,K] with B [1,3,K,N]) has no single stride: one product per batch.
        plan.mode = MatMulPlan::Mode::kPerBatch;
        const std::vector<int64_t> offsetsA = batchOffsets(batchA, *batchOut, m * k);
        const std::vector<int64_t> offsetsB = batchOffsets(batchB, *batchOut, k * n);
        for (size_t i = 0; i < offsetsA.size(); ++i) {
            MatMulPlan::Offsets o{offsetsA[i], offsetsB[i], static_cast<int64_t>(i) * m * n};
            plan.perBatch.push_back(o);
            for (int64_t offset : {o.a, o.b, o.y}) keepAlignment(offset);
        }
    }
    return plan;
}

}  // namespace kiln::cuda
