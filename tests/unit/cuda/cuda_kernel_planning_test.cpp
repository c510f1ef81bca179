// The host-side planning of the CUDA kernels, checked without a GPU: the broadcast plan the element-wise
// kernels walk, and how MatMul and Gemm are mapped onto cuBLASLt's column-major products. The products
// are emulated here exactly as cuBLASLt defines them (op, leading dimension, batch stride) and compared
// with a plain numpy-semantics reference, so a wrong layout, stride or operand order fails on any machine;
// so is the direct MatMul kernel's walk over its plan (batch strides, broadcast, 1-D operands). The
// strided copy's plan (merged dims, vector words, tiles, 32-bit index math) is checked the same way:
// every plan must read the offsets the original view reads.
// Built where the CUDA backend is (it links the backend library); elsewhere this file has no tests.

#include <gtest/gtest.h>

#ifdef KILN_TEST_HAVE_CUDA_BACKEND

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/cublaslt_gemm.h"
#include "backends/cuda/kernels/fast_divmod.cuh"
#include "backends/cuda/kernels/matmul_direct.h"
#include "backends/cuda/kernels/matmul_plan.h"
#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/kernels/strided_plan.h"

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


// ------------------------------------------------------------------------------------------ strided copy

/// Input offset of output element `index` of `view`, straight from the definition.
int64_t viewOffset(const StridedView& view, int64_t index) {
    int64_t offset = view.inputOffset;
    for (int d = view.rank - 1; d >= 0; --d) {
        offset += (index % view.dims[d]) * view.inputStrides[d];
        index /= view.dims[d];
    }
    return offset;
}

/// The view Transpose reads for `shape` and `perm`.
StridedView transposeView(const Shape& shape, const std::vector<int64_t>& perm) {
    const std::vector<int64_t> strides = contiguousStrides(shape);
    Shape out(shape.size());
    std::vector<int64_t> outStrides(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
        out[d] = shape[static_cast<size_t>(perm[d])];
        outStrides[d] = strides[static_cast<size_t>(perm[d])];
    }
    return compactView(out, outStrides, 0);
}

void expectView(const StridedView& v, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides,
                const std::string& label) {
    ASSERT_EQ(v.rank, static_cast<int>(dims.size())) << label;
    for (int d = 0; d < v.rank; ++d) {
        EXPECT_EQ(v.dims[d], dims[static_cast<size_t>(d)]) << label << " dim " << d;
        EXPECT_EQ(v.inputStrides[d], strides[static_cast<size_t>(d)]) << label << " stride " << d;
    }
}

TEST(CudaGemmMapping, TimingCacheKeySeparatesAResidualCFromThePlainProduct) {
    // A product that reads a residual C is timed on its own: its algorithms move C's bytes too.
    GemmProblem plain;
    plain.type = DataType::kHALF;
    plain.m = 640;
    plain.n = 768;
    plain.k = 3072;
    plain.epilogue = GemmEpilogue::kBias;
    GemmProblem residual = plain;
    residual.residualC = true;
    EXPECT_NE(gemmProblemKey(plain, kGemmAlignment), gemmProblemKey(residual, kGemmAlignment));
    EXPECT_NE(gemmProblemKey(residual, kGemmAlignment).find("rC1"), std::string::npos);
    // The mapping onto cuBLASLt does not change: C has D's layout.
    const ColumnMajorProduct a = toColumnMajor(plain), b = toColumnMajor(residual);
    EXPECT_EQ(a.d.rows, b.d.rows);
    EXPECT_EQ(a.d.cols, b.d.cols);
    EXPECT_EQ(a.d.ld, b.d.ld);
}

TEST(CudaStridedPlan, MergesOutputDimsThatAreContiguousInTheInput) {
    expectView(mergeStridedDims(transposeView({2, 3, 37, 41}, {0, 2, 3, 1})), {2, 1517, 3}, {4551, 1, 1517},
               "NCHW->NHWC is [N, HW, C]");
    expectView(mergeStridedDims(transposeView({2, 37, 41, 3}, {0, 3, 1, 2})), {2, 3, 1517}, {4551, 1, 3},
               "NHWC->NCHW is [N, C, HW]");
    expectView(mergeStridedDims(transposeView({197, 64, 768}, {1, 0, 2})), {64, 197, 768}, {768, 49152, 1},
               "(1,0,2) stays 3-D");
    expectView(mergeStridedDims(transposeView({1, 197, 64, 3, 768}, {3, 0, 1, 2, 4})), {3, 12608, 768},
               {768, 2304, 1}, "ViT's 5-D perm is 3-D");
    expectView(mergeStridedDims(transposeView({4, 5, 6}, {0, 1, 2})), {120}, {1}, "identity is one dim");
    // Tile's repeats read with stride 0: two of them in a row are one.
    StridedView tile = compactView({2, 3, 4}, {0, 0, 1}, 0);
    expectView(mergeStridedDims(tile), {6, 4}, {0, 1}, "stride-0 repeats");
    // A backwards slice (negative stride) of a contiguous block merges too.
    expectView(mergeStridedDims(compactView({3, 4}, {-4, -1}, 11)), {12}, {-1}, "reversed block");
}

TEST(CudaStridedPlan, EveryPlanReadsTheOffsetsOfTheOriginalView) {
    std::mt19937 rng(11);
    int checkedWide = 0;
    for (int trial = 0; trial < 2000; ++trial) {
        // A random permutation of a random shape, then a random slice (start, step of -2..2) per axis.
        const size_t rank = 1 + rng() % 5;
        Shape in(rank);
        for (int64_t& d : in) d = 1 + static_cast<int64_t>(rng() % 6);
        std::vector<int64_t> perm(rank);
        std::iota(perm.begin(), perm.end(), int64_t{0});
        std::shuffle(perm.begin(), perm.end(), rng);
        const std::vector<int64_t> inStrides = contiguousStrides(in);
        Shape out(rank);
        std::vector<int64_t> strides(rank);
        int64_t offset = 0;
        for (size_t d = 0; d < rank; ++d) {
            const int64_t extent = in[static_cast<size_t>(perm[d])];
            const int64_t stride = inStrides[static_cast<size_t>(perm[d])];
            const int64_t step = trial % 3 == 0 ? static_cast<int64_t>(rng() % 5) - 2 : 1;
            if (step == 0) {  // keep the whole axis
                out[d] = extent;
                strides[d] = stride;
            } else {
                const int64_t start = step > 0 ? 0 : extent - 1;
                out[d] = (extent + std::abs(step) - 1) / std::abs(step);
                strides[d] = step * stride;
                offset += start * stride;
            }
        }
        const StridedView view = compactView(out, strides, offset);
        const StridedView merged = mergeStridedDims(view);
        ASSERT_EQ(merged.count, view.count);
        for (int64_t i = 0; i < view.count; ++i) ASSERT_EQ(viewOffset(merged, i), viewOffset(view, i)) << "trial " << trial;
        // Aligned addresses: the vector path takes the widest word the view allows; word w covers
        // elements w*k .. w*k+k-1, which must be k consecutive input elements starting at k * its offset.
        const StridedCopyPlan plan = planStridedCopy(view, 1, 0, 0);
        if (plan.path != StridedCopyPath::kVector) continue;
        const int64_t k = static_cast<int64_t>(plan.wordBytes);
        ASSERT_EQ(plan.view.count * k, view.count);
        for (int64_t w = 0; w < plan.view.count; ++w)
            for (int64_t j = 0; j < k; ++j)
                ASSERT_EQ(viewOffset(plan.view, w) * k + j, viewOffset(view, w * k + j)) << "trial " << trial;
        if (k > 1) ++checkedWide;
    }
    EXPECT_GT(checkedWide, 50);
}

TEST(CudaStridedPlan, ChoosesThePathTheLayoutAndAddressesAllow) {
    // ViT's (1,0,2) in float16: 16-byte words when both pointers are 16-byte aligned.
    const StridedView vit = transposeView({197, 64, 768}, {1, 0, 2});
    StridedCopyPlan p = planStridedCopy(vit, 2, 256, 512);
    EXPECT_EQ(p.path, StridedCopyPath::kVector);
    EXPECT_EQ(p.wordBytes, 16u);
    EXPECT_EQ(p.view.dims[2], 96);
    EXPECT_EQ(p.view.inputStrides[1], 49152 / 8);
    EXPECT_TRUE(p.index32);
    EXPECT_EQ(planStridedCopy(vit, 2, 256 + 2, 512).wordBytes, 2u) << "input one element off";
    EXPECT_EQ(planStridedCopy(vit, 2, 256, 512 + 4).wordBytes, 4u) << "output two elements off";
    EXPECT_EQ(planStridedCopy(vit, 8, 256, 512).wordBytes, 16u);
    // A slice starting one element in cannot use words wider than one element.
    EXPECT_EQ(planStridedCopy(compactView({4, 64}, {128, 1}, 1), 4, 0, 0).wordBytes, 4u);
    // An inner extent of 6 halves: 4-byte words (pairs).
    EXPECT_EQ(planStridedCopy(transposeView({5, 7, 6}, {1, 0, 2}), 2, 0, 0).wordBytes, 4u);

    // NCHW -> NHWC at C = 3: tiles of 3 (A, output-innermost) x 320 (B, the input's HW).
    p = planStridedCopy(transposeView({256, 3, 224, 224}, {0, 2, 3, 1}), 2, 0, 0);
    ASSERT_EQ(p.path, StridedCopyPath::kTiled);
    EXPECT_EQ(p.wordBytes, 2u);
    EXPECT_EQ(p.tile.dimA, 2);
    EXPECT_EQ(p.tile.dimB, 1);
    EXPECT_EQ(p.tile.extentA, 3);
    EXPECT_EQ(p.tile.extentB, 320);
    EXPECT_LE(p.tile.extentA * p.tile.extentB, kMaxTileElements);
    // NHWC -> NCHW at C = 3: the mirror image.
    p = planStridedCopy(transposeView({256, 224, 224, 3}, {0, 3, 1, 2}), 2, 0, 0);
    ASSERT_EQ(p.path, StridedCopyPath::kTiled);
    EXPECT_EQ(p.tile.extentB, 3);
    EXPECT_EQ(p.tile.extentA, 320);
    // Both sides long: 32 x 32 with the classic odd pitch.
    p = planStridedCopy(transposeView({33, 65}, {1, 0}), 4, 0, 0);
    ASSERT_EQ(p.path, StridedCopyPath::kTiled);
    EXPECT_EQ(p.tile.extentA, 32);
    EXPECT_EQ(p.tile.extentB, 32);
    EXPECT_EQ(p.tile.smemStrideA, 33);
    // A short dim rounds the tile's long side to no more than the dim needs.
    p = planStridedCopy(transposeView({40, 3}, {1, 0}), 4, 0, 0);
    ASSERT_EQ(p.path, StridedCopyPath::kTiled);
    EXPECT_EQ(p.tile.extentA, 64);

    // Both tile sides short: generic. No dim at stride 1 (a stepped slice): generic.
    EXPECT_EQ(planStridedCopy(transposeView({7, 3, 5}, {0, 2, 1}), 4, 0, 0).path, StridedCopyPath::kGeneric);
    EXPECT_EQ(planStridedCopy(compactView({3, 9, 4}, {198, -11, -3}, 197), 4, 0, 0).path, StridedCopyPath::kGeneric);
    // One element.
    EXPECT_EQ(planStridedCopy(compactView({1, 1}, {5, 1}, 3), 4, 0, 0).path, StridedCopyPath::kGeneric);
}

TEST(CudaStridedPlan, IndexMathIs32BitOnlyWhereEveryOffsetFits) {
    EXPECT_TRUE(fitsIndex32(compactView({2, 3}, {3, 1}, 0)));
    EXPECT_TRUE(fitsIndex32(compactView({int64_t{1} << 30}, {1}, (int64_t{1} << 30) - 1)));
    EXPECT_FALSE(fitsIndex32(compactView({int64_t{1} << 31}, {1}, 0))) << "count 2^31";
    EXPECT_FALSE(fitsIndex32(compactView({46341, 46341}, {1, 46341}, 0))) << "count just past 2^31";
    EXPECT_FALSE(fitsIndex32(compactView({4, 4}, {int64_t{1} << 30, 1}, 0))) << "offset 3 * 2^30 + 3";
    EXPECT_FALSE(fitsIndex32(compactView({4}, {1}, int64_t{1} << 31))) << "offset 2^31";
    EXPECT_TRUE(fitsIndex32(compactView({101}, {-1}, 100))) << "backwards to 0";
    // The plan of a huge transpose takes the 64-bit kernels; its merged view is unchanged by that.
    const StridedCopyPlan big = planStridedCopy(transposeView({65536, 3, 128, 128}, {0, 2, 3, 1}), 2, 0, 0);
    EXPECT_FALSE(big.index32);
    EXPECT_EQ(big.path, StridedCopyPath::kTiled);
}

/// Most lanes of one warp on one 4-byte bank when the warp's 32 positions of the tile walk hit `slot(q)`.
template <typename Slot>
int worstWarpBankConflict(int positions, Slot slot) {
    int worst = 0;
    for (int first = 0; first < positions; first += 32) {
        std::array<int, 32> hits{};
        for (int q = first; q < std::min(first + 32, positions); ++q)
            worst = std::max(worst, ++hits[static_cast<size_t>(slot(q) % 32)]);
    }
    return worst;
}

TEST(CudaStridedPlan, TilePitchSpreadsEachWarpOverAllBanks) {
    // The short side walked fastest (odd or a power of two): one lane per bank.
    for (int extent : {1, 2, 3, 4, 5, 7, 8, 9, 16, 21, 31, 32}) {
        const int pitch = conflictFreePitch(extent, 320);
        EXPECT_GE(pitch, 320);
        EXPECT_LT(pitch, 352);
        EXPECT_EQ(worstWarpBankConflict(32 * extent * 4, [&](int q) { return (q % extent) * pitch + q / extent; }), 1)
            << "short extent " << extent << " pitch " << pitch;
    }
    // Both walks of whole planned tiles, as the kernel runs them: load with b fastest, store with a fastest.
    const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
        {{8, 3, 64, 64}, {0, 2, 3, 1}}, {{8, 64, 64, 3}, {0, 3, 1, 2}}, {{96, 96}, {1, 0}},
        {{1000, 2}, {1, 0}},            {{2, 1000}, {1, 0}},           {{64, 5, 64}, {0, 2, 1}}};
    for (const auto& [shape, perm] : cases) {
        const StridedCopyPlan p = planStridedCopy(transposeView(shape, perm), 4, 0, 0);
        ASSERT_EQ(p.path, StridedCopyPath::kTiled) << shapeToString(shape, true);
        const TilePlan& t = p.tile;
        const int n = t.extentA * t.extentB;
        const int load = worstWarpBankConflict(
            n, [&](int q) { return (q / t.extentB) * t.smemStrideA + (q % t.extentB) * t.smemStrideB; });
        const int store = worstWarpBankConflict(
            n, [&](int q) { return (q % t.extentA) * t.smemStrideA + (q / t.extentA) * t.smemStrideB; });
        EXPECT_EQ(load, 1) << shapeToString(shape, true) << " load";
        EXPECT_EQ(store, 1) << shapeToString(shape, true) << " store";
        // Every slot of the tile is distinct and inside the shared memory the plan asks for.
        std::vector<bool> used(static_cast<size_t>(t.smemSlots), false);
        for (int a = 0; a < t.extentA; ++a)
            for (int b = 0; b < t.extentB; ++b) {
                const int slot = a * t.smemStrideA + b * t.smemStrideB;
                ASSERT_LT(slot, t.smemSlots);
                ASSERT_FALSE(used[static_cast<size_t>(slot)]);
                used[static_cast<size_t>(slot)] = true;
            }
    }
}

TEST(CudaFastDivmod, MatchesIntegerDivision) {
    std::mt19937 rng(5);
    for (uint32_t d : {1u, 2u, 3u, 5u, 7u, 64u, 96u, 197u, 768u, 1517u, 50176u, (1u << 30) + 1u, (1u << 31) - 1u}) {
        const FastDivmod div(d);
        std::vector<uint32_t> ns = {0u, d - 1u, (1u << 31) - 1u, (1u << 31) - 2u};
        if (d < (1u << 31) - 1u) ns.push_back(d);
        for (int i = 0; i < 20000; ++i) ns.push_back(static_cast<uint32_t>(rng()) >> 1);
        for (uint32_t n : ns) {
            uint32_t r = 0;
            ASSERT_EQ(div.divmod(n, r), n / d) << n << " / " << d;
            ASSERT_EQ(r, n % d) << n << " % " << d;
        }
    }
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_TEST_HAVE_CUDA_BACKEND
