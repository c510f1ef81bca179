// The host-side planning of the CUDA kernels, checked without a GPU: the broadcast plan the element-wise
// kernels walk, and how MatMul and Gemm are mapped onto cuBLASLt's column-major products. The products
// are emulated here exactly as cuBLASLt defines them (op, leading dimension, batch stride) and compared
// with a plain numpy-semantics reference, so a wrong layout, stride or operand order fails on any machine;
// so is the direct MatMul kernel's walk over its plan (batch strides, broadcast, 1-D operands).
// Built where the CUDA backend is (it links the backend library); elsewhere this file has no tests.

#include <gtest/gtest.h>

#ifdef KILN_TEST_HAVE_CUDA_BACKEND

#include <array>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/cublaslt_gemm.h"
#include "backends/cuda/kernels/matmul_direct.h"
#include "backends/cuda/kernels/matmul_plan.h"

namespace kiln::cuda {
namespace {

/// Offset of output element `index` in an input of shape `in` broadcast (right-aligned) to `out`.
int64_t numpyOffset(const Shape& in, const Shape& out, int64_t index) {
    const size_t rank = out.size();
    std::vector<int64_t> coord(rank);
    for (size_t d = rank; d-- > 0;) {
        coord[d] = index % out[d];
        index /= out[d];
    }
    int64_t offset = 0;
    int64_t stride = 1;
    for (size_t d = rank; d-- > rank - in.size();) {
        const int64_t extent = in[d - (rank - in.size())];
        offset += (extent == 1 ? 0 : coord[d]) * stride;
        stride *= extent;
    }
    return offset;
}

TEST(CudaBroadcastPlan, OffsetsMatchNumpyBroadcasting) {
    std::mt19937 rng(7);
    int checked = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        Shape out(rng() % 7);
        for (int64_t& d : out) d = 1 + static_cast<int64_t>(rng() % 4);
        std::vector<Shape> inputs;
        for (int i = 0; i < 2; ++i) {
            size_t drop = rng() % 2 ? rng() % (out.size() + 1) : 0;
            Shape s(out.begin() + static_cast<std::ptrdiff_t>(drop), out.end());
            for (int64_t& d : s)
                if (rng() % 3 == 0) d = 1;
            inputs.push_back(s);
        }
        auto plan = planBroadcast(inputs, out);
        ASSERT_TRUE(plan.isOk()) << plan.status().message();
        ASSERT_EQ(plan->count, shapeElementCount(out));
        for (int64_t index = 0; index < plan->count; ++index) {
            int64_t rest = index;
            int64_t offsets[2] = {0, 0};
            for (int d = 0; d < plan->rank; ++d) {  // as device_utils.cuh walks it: innermost first
                const int64_t coord = rest % plan->dims[d];
                rest /= plan->dims[d];
                for (int i = 0; i < 2; ++i) offsets[i] += coord * plan->strides[i][d];
            }
            for (int i = 0; i < 2; ++i)
                ASSERT_EQ(offsets[i], numpyOffset(inputs[static_cast<size_t>(i)], out, index))
                    << "input " << i << " " << shapeToString(inputs[static_cast<size_t>(i)], true) << " to "
                    << shapeToString(out, true) << " at " << index;
            ++checked;
        }
    }
    EXPECT_GT(checked, 10000);
}

TEST(CudaBroadcastPlan, CollapsesSameShapeAndScalarToOneDim) {
    auto same = planBroadcast({{2, 3, 4}, {2, 3, 4}}, {2, 3, 4});
    ASSERT_TRUE(same.isOk());
    EXPECT_EQ(same->rank, 1);
    EXPECT_EQ(same->dims[0], 24);
    EXPECT_EQ(same->strides[0][0], 1);
    EXPECT_EQ(same->strides[1][0], 1);
    auto scalar = planBroadcast({{2, 3, 4}, {}}, {2, 3, 4});
    ASSERT_TRUE(scalar.isOk());
    EXPECT_EQ(scalar->rank, 1);
    EXPECT_EQ(scalar->strides[1][0], 0);
    auto rank0 = planBroadcast({{}, {}}, {});
    ASSERT_TRUE(rank0.isOk());
    EXPECT_EQ(rank0->count, 1);
}

TEST(CudaBroadcastPlan, RejectsWhatDoesNotBroadcast) {
    auto bad = planBroadcast({{3}, {4}}, {4});
    ASSERT_FALSE(bad.isOk());
    EXPECT_NE(bad.status().message().find("does not broadcast"), std::string::npos) << bad.status().message();
    auto higher = planBroadcast({{2, 4}}, {4});
    EXPECT_FALSE(higher.isOk());
}

/// D = op(A) * op(B) over column-major operands, as cuBLASLt defines it: element (r, c) of a layout is
/// at r + c * ld, batch i starts at i * stride.
void emulateColumnMajor(const ColumnMajorProduct& p, const double* a, const double* b, double* d) {
    const int64_t k = p.transposeA ? p.a.rows : p.a.cols;
    ASSERT_EQ(p.transposeA ? p.a.cols : p.a.rows, p.d.rows) << "op(A) rows != D rows";
    ASSERT_EQ(p.transposeB ? p.b.rows : p.b.cols, p.d.cols) << "op(B) cols != D cols";
    ASSERT_EQ(p.transposeB ? p.b.cols : p.b.rows, k) << "op(B) rows != op(A) cols";
    for (const ColumnMajorLayout* l : {&p.a, &p.b, &p.d}) ASSERT_GE(l->ld, std::max<int64_t>(l->rows, 1));
    for (int64_t batch = 0; batch < p.d.batch; ++batch) {
        const double* ab = a + batch * p.a.stride;
        const double* bb = b + batch * p.b.stride;
        double* db = d + batch * p.d.stride;
        for (int64_t r = 0; r < p.d.rows; ++r) {
            for (int64_t c = 0; c < p.d.cols; ++c) {
                double sum = 0;
                for (int64_t i = 0; i < k; ++i) {
                    const double x = p.transposeA ? ab[i + r * p.a.ld] : ab[r + i * p.a.ld];
                    const double y = p.transposeB ? bb[c + i * p.b.ld] : bb[i + c * p.b.ld];
                    sum += x * y;
                }
                db[r + c * p.d.ld] = sum;
            }
        }
    }
}

std::vector<double> randomData(int64_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(-1, 1);
    std::vector<double> v(static_cast<size_t>(count));
    for (double& x : v) x = dist(rng);
    return v;
}

/// Numpy MatMul in double, straight from the definition.
std::vector<double> numpyMatMul(const Shape& a, const std::vector<double>& av, const Shape& b,
                                const std::vector<double>& bv, const Shape& y) {
    const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
    const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
    const int64_t m = a2[a2.size() - 2], k = a2.back(), n = b2.back();
    const Shape batchA(a2.begin(), a2.end() - 2), batchB(b2.begin(), b2.end() - 2);
    const size_t rank = std::max(batchA.size(), batchB.size());
    Shape batchOut(rank, 1);
    for (size_t i = 0; i < rank; ++i) {
        int64_t da = i < rank - batchA.size() ? 1 : batchA[i - (rank - batchA.size())];
        int64_t db = i < rank - batchB.size() ? 1 : batchB[i - (rank - batchB.size())];
        batchOut[i] = std::max(da, db);
    }
    std::vector<double> out(static_cast<size_t>(shapeElementCount(y)), 0.0);
    for (int64_t batch = 0; batch < shapeElementCount(batchOut); ++batch) {
        const int64_t offA = numpyOffset(batchA, batchOut, batch) * m * k;
        const int64_t offB = numpyOffset(batchB, batchOut, batch) * k * n;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double sum = 0;
                for (int64_t p = 0; p < k; ++p) sum += av[offA + i * k + p] * bv[offB + p * n + j];
                out[batch * m * n + i * n + j] = sum;
            }
    }
    return out;
}

/// Runs a MatMul plan with the emulated cuBLASLt.
std::vector<double> runPlan(const MatMulPlan& plan, const std::vector<double>& a, const std::vector<double>& b,
                            int64_t outCount) {
    std::vector<double> y(static_cast<size_t>(outCount), std::nan(""));
    switch (plan.mode) {
        case MatMulPlan::Mode::kNothing:
            break;
        case MatMulPlan::Mode::kZeroFill:
            std::fill(y.begin(), y.end(), 0.0);
            break;
        case MatMulPlan::Mode::kSingle:  // cuBLASLt's A is our B, its B our A
            emulateColumnMajor(toColumnMajor(plan.problem), b.data(), a.data(), y.data());
            break;
        case MatMulPlan::Mode::kPerBatch:
            for (const MatMulPlan::Offsets& o : plan.perBatch)
                emulateColumnMajor(toColumnMajor(plan.problem), b.data() + o.b, a.data() + o.a, y.data() + o.y);
            break;
    }
    return y;
}

struct MatMulCase {
    Shape a;
    Shape b;
    Shape y;
    MatMulPlan::Mode mode;
};

TEST(CudaMatMulPlan, EveryModeComputesTheNumpyProduct) {
    using Mode = MatMulPlan::Mode;
    const std::vector<MatMulCase> cases = {
        {{5, 7}, {7, 3}, {5, 3}, Mode::kSingle},
        {{3, 5, 7}, {7, 4}, {3, 5, 4}, Mode::kSingle},                 // stacked into M
        {{3, 5, 7}, {3, 7, 4}, {3, 5, 4}, Mode::kSingle},              // strided
        {{5, 7}, {3, 7, 4}, {3, 5, 4}, Mode::kSingle},                 // A broadcast: stride 0
        {{2, 3, 5, 7}, {3, 7, 4}, {2, 3, 5, 4}, Mode::kPerBatch},      // B batched but not like Y
        {{2, 1, 5, 7}, {1, 3, 7, 4}, {2, 3, 5, 4}, Mode::kPerBatch},   // mixed
        {{1, 3, 5, 7}, {2, 1, 7, 4}, {2, 3, 5, 4}, Mode::kPerBatch},   // mixed, the other way
        {{7}, {7, 4}, {4}, Mode::kSingle},                             // 1-D A
        {{3, 5, 7}, {7}, {3, 5}, Mode::kSingle},                       // 1-D B
        {{7}, {7}, {}, Mode::kSingle},                                 // dot product
        {{2, 0, 7}, {7, 4}, {2, 0, 4}, Mode::kNothing},
        {{5, 0}, {0, 4}, {5, 4}, Mode::kZeroFill},
        {{2, 3, 33, 65}, {2, 3, 65, 17}, {2, 3, 33, 17}, Mode::kSingle},
        {{4, 1, 2, 3}, {5, 3, 2}, {4, 5, 2, 2}, Mode::kPerBatch},
    };
    uint32_t seed = 1;
    for (const MatMulCase& c : cases) {
        const std::string label = shapeToString(c.a, true) + " x " + shapeToString(c.b, true);
        auto plan = planMatMul(DataType::kFLOAT, c.a, c.b, c.y);
        ASSERT_TRUE(plan.isOk()) << label << ": " << plan.status().message();
        EXPECT_EQ(plan->mode, c.mode) << label;
        const std::vector<double> a = randomData(shapeElementCount(c.a), seed++);
        const std::vector<double> b = randomData(shapeElementCount(c.b), seed++);
        const std::vector<double> expected = numpyMatMul(c.a, a, c.b, b, c.y);
        const std::vector<double> got = runPlan(*plan, a, b, shapeElementCount(c.y));
        ASSERT_EQ(got.size(), expected.size()) << label;
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-12) << label << " at " << i;
    }
}

TEST(CudaMatMulPlan, StacksBatchesIntoMWhenBIsShared) {
    auto plan = planMatMul(DataType::kFLOAT, {3, 5, 7}, {7, 4}, {3, 5, 4});
    ASSERT_TRUE(plan.isOk());
    EXPECT_EQ(plan->problem.m, 15);
    EXPECT_EQ(plan->problem.batch, 1);
}

TEST(CudaMatMulPlan, AlignmentDividesEveryOffsetAndStride) {
    // float with K = 9: matrices of 45 and 54 elements, so batch offsets are only 4-byte aligned.
    auto strided = planMatMul(DataType::kFLOAT, {4, 5, 9}, {4, 9, 6}, {4, 5, 6});
    ASSERT_TRUE(strided.isOk());
    EXPECT_EQ(strided->alignment, 4u);
    auto perBatch = planMatMul(DataType::kHALF, {2, 1, 4, 8}, {1, 3, 8, 2}, {2, 3, 4, 2});
    ASSERT_TRUE(perBatch.isOk());
    ASSERT_EQ(perBatch->mode, MatMulPlan::Mode::kPerBatch);
    for (const MatMulPlan::Offsets& o : perBatch->perBatch)
        for (int64_t offset : {o.a, o.b, o.y}) EXPECT_EQ(offset * 2 % perBatch->alignment, 0) << offset;
    auto aligned = planMatMul(DataType::kFLOAT, {2, 8, 16}, {2, 16, 8}, {2, 8, 8});
    ASSERT_TRUE(aligned.isOk());
    EXPECT_EQ(aligned->alignment, kGemmAlignment);
}

TEST(CudaMatMulPlan, RejectsShapesThatDoNotMultiply) {
    auto inner = planMatMul(DataType::kFLOAT, {2, 3}, {4, 5}, {2, 5});
    ASSERT_FALSE(inner.isOk());
    EXPECT_NE(inner.status().message().find("inner dimensions differ"), std::string::npos);
    auto batch = planMatMul(DataType::kFLOAT, {2, 2, 3}, {3, 3, 4}, {3, 2, 4});
    ASSERT_FALSE(batch.isOk());
    EXPECT_NE(batch.status().message().find("do not broadcast"), std::string::npos);
    auto output = planMatMul(DataType::kFLOAT, {2, 3}, {3, 4}, {2, 5});
    ASSERT_FALSE(output.isOk());
    EXPECT_NE(output.status().message().find("does not hold"), std::string::npos);
}

/// The direct MatMul kernel's walk (matmul_direct.cu), element by element, on the host.
std::vector<double> runDirectPlan(const DirectMatMulPlan& p, const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> y(static_cast<size_t>(p.count), std::nan(""));
    for (int64_t index = 0; index < p.count; ++index) {
        const int64_t j = index % p.n;
        const int64_t i = (index / p.n) % p.m;
        int64_t batch = index / (p.n * p.m);
        int64_t offsetA = i * p.k, offsetB = j;
        for (int d = p.batchRank - 1; d >= 0; --d) {
            const int64_t coord = batch % p.batchDims[d];
            batch /= p.batchDims[d];
            offsetA += coord * p.strideA[d];
            offsetB += coord * p.strideB[d];
        }
        double sum = 0;
        for (int64_t kk = 0; kk < p.k; ++kk) sum += a[offsetA + kk] * b[offsetB + kk * p.n];
        y[index] = sum;
    }
    return y;
}

TEST(CudaDirectMatMulPlan, WalksTheNumpyProduct) {
    const std::vector<std::array<Shape, 3>> cases = {
        {Shape{5, 7}, Shape{7, 3}, Shape{5, 3}},
        {Shape{3, 5, 7}, Shape{7, 4}, Shape{3, 5, 4}},
        {Shape{5, 7}, Shape{3, 7, 4}, Shape{3, 5, 4}},
        {Shape{2, 1, 5, 7}, Shape{1, 3, 7, 4}, Shape{2, 3, 5, 4}},
        {Shape{1, 3, 5, 7}, Shape{2, 1, 7, 4}, Shape{2, 3, 5, 4}},
        {Shape{4, 1, 2, 3}, Shape{5, 3, 2}, Shape{4, 5, 2, 2}},
        {Shape{7}, Shape{2, 7, 4}, Shape{2, 4}},
        {Shape{1, 2, 4, 3}, Shape{3}, Shape{1, 2, 4}},
        {Shape{7}, Shape{7}, Shape{}},
    };
    uint32_t seed = 50;
    for (const auto& [sa, sb, sy] : cases) {
        const std::string label = shapeToString(sa, true) + " x " + shapeToString(sb, true);
        auto plan = planDirectMatMul(DataType::kDOUBLE, sa, sb, sy);
        ASSERT_TRUE(plan.isOk()) << label << ": " << plan.status().message();
        const std::vector<double> a = randomData(shapeElementCount(sa), seed++);
        const std::vector<double> b = randomData(shapeElementCount(sb), seed++);
        const std::vector<double> expected = numpyMatMul(sa, a, sb, b, sy);
        const std::vector<double> got = runDirectPlan(*plan, a, b);
        ASSERT_EQ(got.size(), expected.size()) << label;
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-12) << label << " at " << i;
    }
    auto batch = planDirectMatMul(DataType::kINT32, {2, 2, 3}, {3, 3, 4}, {3, 2, 4});
    ASSERT_FALSE(batch.isOk());
    EXPECT_NE(batch.status().message().find("do not broadcast"), std::string::npos);
    auto inner = planDirectMatMul(DataType::kINT32, {2, 3}, {4, 5}, {2, 5});
    ASSERT_FALSE(inner.isOk());
    EXPECT_NE(inner.status().message().find("inner dimensions differ"), std::string::npos);
}

TEST(CudaGemmMapping, TransposesMapOntoColumnMajorProducts) {
    uint32_t seed = 50;
    for (bool transA : {false, true}) {
        for (bool transB : {false, true}) {
            const int64_t m = 5, k = 7, n = 3;
            const Shape shapeA = transA ? Shape{k, m} : Shape{m, k};
            const Shape shapeB = transB ? Shape{n, k} : Shape{k, n};
            const std::vector<double> a = randomData(m * k, seed++);
            const std::vector<double> b = randomData(k * n, seed++);
            GemmProblem problem{DataType::kFLOAT, m, n, k, transA, transB};
            std::vector<double> y(static_cast<size_t>(m * n), std::nan(""));
            emulateColumnMajor(toColumnMajor(problem), b.data(), a.data(), y.data());
            for (int64_t i = 0; i < m; ++i) {
                for (int64_t j = 0; j < n; ++j) {
                    double expected = 0;
                    for (int64_t p = 0; p < k; ++p)
                        expected += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                    ASSERT_NEAR(y[i * n + j], expected, 1e-12)
                        << "transA " << transA << " transB " << transB << " at " << i << "," << j;
                }
            }
        }
    }
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_TEST_HAVE_CUDA_BACKEND
