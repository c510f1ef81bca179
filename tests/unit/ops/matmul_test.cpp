// MatMul and Gemm against double-precision references: batched broadcasting, 1-D operands, every
// supported dtype, transposes, C broadcasting, empty shapes; and their shape inference.

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

/// numpy matmul of a and b (shapes already validated), in double.
std::vector<double> matmulReference(const Tensor& a, const Tensor& b, Shape& outShape) {
    Shape sa = a.shape(), sb = b.shape();
    const bool aVector = sa.size() == 1, bVector = sb.size() == 1;
    if (aVector) sa.insert(sa.begin(), 1);
    if (bVector) sb.push_back(1);
    const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
    Shape batchA(sa.begin(), sa.end() - 2), batchB(sb.begin(), sb.end() - 2);
    const size_t rank = std::max(batchA.size(), batchB.size());
    Shape batch(rank, 1);
    auto dimAt = [&](const Shape& s, size_t i) { return i < rank - s.size() ? int64_t{1} : s[i - (rank - s.size())]; };
    for (size_t i = 0; i < rank; ++i) batch[i] = dimAt(batchA, i) == 1 ? dimAt(batchB, i) : dimAt(batchA, i);
    outShape = batch;
    if (!aVector) outShape.push_back(m);
    if (!bVector) outShape.push_back(n);

    const std::vector<double> va = a.toDoubleVector(), vb = b.toDoubleVector();
    const int64_t batches = shapeElementCount(batch);
    std::vector<double> out(static_cast<size_t>(batches * m * n));
    for (int64_t bi = 0; bi < batches; ++bi) {
        // Offsets of this batch in A and B (broadcast axes repeat).
        int64_t rest = bi, offA = 0, offB = 0, strideA = m * k, strideB = k * n;
        for (size_t i = rank; i-- > 0;) {
            const int64_t coord = rest % batch[i];
            rest /= batch[i];
            const int64_t da = dimAt(batchA, i), db = dimAt(batchB, i);
            if (da != 1) offA += coord * strideA;
            if (db != 1) offB += coord * strideB;
            strideA *= da;
            strideB *= db;
        }
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double sum = 0;
                for (int64_t p = 0; p < k; ++p)
                    sum += va[static_cast<size_t>(offA + i * k + p)] * vb[static_cast<size_t>(offB + p * n + j)];
                out[static_cast<size_t>((bi * m + i) * n + j)] = sum;
            }
    }
    return out;
}

void checkMatMul(DataType type, const Shape& a, const Shape& b, uint32_t seed) {
    const bool integer = !isFloatingType(type);
    const bool isUnsigned = type == DataType::kUINT32 || type == DataType::kUINT64;
    Tensor ta = randomTensor(type, a, isUnsigned ? 0.0 : -4.0, 4.0, seed);
    Tensor tb = randomTensor(type, b, isUnsigned ? 0.0 : -4.0, 4.0, seed + 1000);
    if (!integer) {
        ta = randomTensor(type, a, -1.0, 1.0, seed);
        tb = randomTensor(type, b, -1.0, 1.0, seed + 1000);
    }
    Shape outShape;
    std::vector<double> ref = matmulReference(ta, tb, outShape);
    Tensor out = runOne("MatMul", {&ta, &tb});
    expectClose(out, type, outShape, ref, tolFor(type, a.back()),
                std::string("MatMul ") + dataTypeName(type) + " " + shapeToString(a, true) + " x " + shapeToString(b, true));
}

TEST(MatMul, ShapesAndBroadcastingFloat) {
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{7, 13}, {13, 5}},                // odd 2-D
        {{1, 1}, {1, 1}},                  // smallest
        {{13}, {13, 5}},                   // 1-D A: a row, removed again
        {{7, 13}, {13}},                   // 1-D B: a column, removed again
        {{13}, {13}},                      // dot product: a scalar
        {{3, 7, 13}, {13, 5}},             // batched A, shared B (folded into one GEMM)
        {{2, 3, 7, 13}, {13}},             // batched A times a vector
        {{7, 13}, {4, 13, 5}},             // shared A, batched B
        {{2, 1, 7, 13}, {3, 13, 5}},       // broadcast batch dims on both sides
        {{5, 1, 4, 6}, {1, 3, 6, 2}},      // broadcast both ways
        {{12, 16, 64}, {12, 64, 16}},      // many small batches (spread over threads)
        {{2, 128, 64}, {2, 64, 128}},      // batches big enough for OpenBLAS threads
        {{0, 7, 13}, {13, 5}},             // empty batch
        {{7, 0}, {0, 5}},                  // empty inner dimension: zeros
        {{0, 3}, {3, 4}},                  // empty rows
        {{300, 40}, {40, 30}},             // one GEMM split into row blocks over threads
        {{20, 40}, {40, 500}},             // one GEMM split into column blocks
        {{3, 2, 64, 64}, {64, 96}},        // folded, then split
    };
    uint32_t seed = 1;
    for (const auto& [a, b] : cases) checkMatMul(DataType::kFLOAT, a, b, seed++);
}

TEST(MatMul, EveryType) {
    uint32_t seed = 100;
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64,
                          DataType::kUINT32, DataType::kUINT64}) {
        checkMatMul(type, {7, 13}, {13, 5}, seed++);
        checkMatMul(type, {2, 3, 5, 6}, {3, 6, 4}, seed++);
        checkMatMul(type, {6}, {2, 6, 3}, seed++);
    }
}

TEST(MatMul, IntegerWrapsLikeTheNarrowType) {
    Tensor a = Tensor::allocate(DataType::kINT32, {1, 2});
    Tensor b = Tensor::allocate(DataType::kINT32, {2, 1});
    a.data<int32_t>()[0] = 65536;
    a.data<int32_t>()[1] = 3;
    b.data<int32_t>()[0] = 65536;
    b.data<int32_t>()[1] = 5;
    Tensor out = runOne("MatMul", {&a, &b});
    // 2^32 + 15 wraps to 15 in int32.
    EXPECT_EQ(out.data<int32_t>()[0], 15);
}

struct GemmCase {
    int64_t m, k, n;
    bool transA, transB;
    float alpha, beta;
    std::optional<Shape> c;
};

void checkGemm(DataType type, const GemmCase& g, uint32_t seed) {
    const bool integer = !isFloatingType(type);
    const bool isUnsigned = type == DataType::kUINT32 || type == DataType::kUINT64;
    const double lo = isUnsigned ? 0.0 : (integer ? -5.0 : -1.0), hi = integer ? 5.0 : 1.0;
    Shape aShape = g.transA ? Shape{g.k, g.m} : Shape{g.m, g.k};
    Shape bShape = g.transB ? Shape{g.n, g.k} : Shape{g.k, g.n};
    Tensor a = randomTensor(type, aShape, lo, hi, seed);
    Tensor b = randomTensor(type, bShape, lo, hi, seed + 1);
    std::optional<Tensor> c;
    if (g.c) c = randomTensor(type, *g.c, lo, hi, seed + 2);
    AttributeMap attrs = attrsOf({{"transA", int64_t{g.transA}}, {"transB", int64_t{g.transB}}, {"alpha", g.alpha},
                                  {"beta", g.beta}});
    std::vector<const Tensor*> inputs{&a, &b};
    if (c) inputs.push_back(&*c);
    Tensor out = runOne("Gemm", inputs, attrs);

    const std::vector<double> va = a.toDoubleVector(), vb = b.toDoubleVector();
    std::vector<double> vc = c ? c->toDoubleVector() : std::vector<double>{};
    Shape cShape = g.c ? *g.c : Shape{};
    while (cShape.size() < 2) cShape.insert(cShape.begin(), 1);
    std::vector<double> ref(static_cast<size_t>(g.m * g.n));
    for (int64_t i = 0; i < g.m; ++i)
        for (int64_t j = 0; j < g.n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < g.k; ++p) {
                double av = va[static_cast<size_t>(g.transA ? p * g.m + i : i * g.k + p)];
                double bv = vb[static_cast<size_t>(g.transB ? j * g.k + p : p * g.n + j)];
                sum += av * bv;
            }
            double value = static_cast<double>(g.alpha) * sum;
            if (c) {
                int64_t ci = (cShape[0] == 1 ? 0 : i) * cShape[1] + (cShape[1] == 1 ? 0 : j);
                value += static_cast<double>(g.beta) * vc[static_cast<size_t>(ci)];
            }
            ref[static_cast<size_t>(i * g.n + j)] = integer ? std::trunc(value) : value;
        }
    expectClose(out, type, {g.m, g.n}, ref, tolFor(type, g.k),
                std::string("Gemm ") + dataTypeName(type) + " m" + std::to_string(g.m) + " k" + std::to_string(g.k) +
                    " n" + std::to_string(g.n) + " tA" + std::to_string(g.transA) + " tB" + std::to_string(g.transB));
}

TEST(Gemm, TransposesScalesAndBroadcastC) {
    const std::vector<GemmCase> cases = {
        {7, 13, 5, false, false, 1.0f, 1.0f, Shape{7, 5}},
        {7, 13, 5, true, false, 0.5f, 2.0f, Shape{5}},      // row vector C
        {7, 13, 5, false, true, -1.5f, 0.25f, Shape{7, 1}},  // column C
        {7, 13, 5, true, true, 1.0f, 1.0f, Shape{1, 1}},
        {7, 13, 5, false, false, 2.0f, 3.0f, Shape{}},       // scalar C
        {7, 13, 5, false, true, 1.0f, 1.0f, std::nullopt},  // no C
        {7, 13, 5, false, false, 1.0f, 0.0f, Shape{7, 5}},   // beta 0 ignores C
        {1, 64, 1000, false, true, 1.0f, 1.0f, Shape{1000}}, // a classifier head
        {4, 0, 3, false, false, 1.0f, 1.0f, Shape{3}},       // empty K: beta * C
        {0, 5, 3, false, false, 1.0f, 1.0f, Shape{3}},       // empty M
        {300, 40, 30, true, false, 1.0f, 1.0f, Shape{30}},   // split into row blocks of a transposed A
        {20, 40, 500, false, true, 0.5f, 1.0f, Shape{20, 1}},  // split into column blocks of a transposed B
    };
    uint32_t seed = 500;
    for (const GemmCase& g : cases) checkGemm(DataType::kFLOAT, g, seed += 3);
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64,
                          DataType::kUINT32}) {
        checkGemm(type, cases[1], seed += 3);
        if (type != DataType::kUINT32) checkGemm(type, cases[2], seed += 3);  // alpha < 0 has no unsigned result
        checkGemm(type, cases[5], seed += 3);
    }
}

/// The determinant by cofactor expansion along the first row, in double: independent of LU.
double cofactorDeterminant(const std::vector<double>& a, int64_t n) {
    if (n == 0) return 1.0;
    if (n == 1) return a[0];
    double det = 0;
    for (int64_t c = 0; c < n; ++c) {
        std::vector<double> minor;
        for (int64_t r = 1; r < n; ++r)
            for (int64_t k = 0; k < n; ++k)
                if (k != c) minor.push_back(a[static_cast<size_t>(r * n + k)]);
        det += (c % 2 ? -1.0 : 1.0) * a[static_cast<size_t>(c)] * cofactorDeterminant(minor, n - 1);
    }
    return det;
}

TEST(Det, BatchedMatricesMatchCofactorExpansion) {
    for (int64_t n : {1, 2, 3, 5}) {
        Tensor x = randomTensor(DataType::kFLOAT, {2, 3, n, n}, -2, 2, static_cast<uint32_t>(50 + n));
        SingleNodeRun run = runSingleNode("Det", {&x}, 1, {});
        ASSERT_TRUE(run.status.isOk()) << run.status.message();
        ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 3}));
        std::vector<double> expected;
        std::vector<double> all = x.toDoubleVector();
        for (int64_t m = 0; m < 6; ++m)
            expected.push_back(cofactorDeterminant(
                std::vector<double>(all.begin() + m * n * n, all.begin() + (m + 1) * n * n), n));
        EXPECT_EQ(compareWithReference(run.outputs[0], expected, 1e-5, 1e-5), "") << "n " << n;
    }
    Tensor singular = Tensor::allocate(DataType::kFLOAT, {2, 2});
    for (int i = 0; i < 4; ++i) singular.data<float>()[i] = 1.5f;  // equal rows
    SingleNodeRun run = runSingleNode("Det", {&singular}, 1, {});
    ASSERT_TRUE(run.status.isOk());
    EXPECT_EQ(run.outputs[0].data<float>()[0], 0.f);
    Tensor notSquare = randomTensor(DataType::kFLOAT, {2, 3}, -1, 1, 60);
    EXPECT_FALSE(runSingleNode("Det", {&notSquare}, 1, {}).status.isOk());
}

TEST(MatMulInference, SymbolicBatchAndPromotion) {
    const Dim batch = Dim::named("batch"), seq = Dim::named("seq");
    auto infer = [](SymShape a, SymShape b) {
        return inferredShape(inferOne("MatMul", {InputSpec::of(DataType::kFLOAT, a), InputSpec::of(DataType::kFLOAT, b)}, 1));
    };
    EXPECT_EQ(infer({batch, seq, 768}, {768, 3072}), "(batch, seq, 3072)");
    EXPECT_EQ(infer({batch, 12, seq, 64}, {batch, 12, 64, seq}), "(batch, 12, seq, seq)");
    EXPECT_EQ(infer({1, seq, 4}, {batch, 4, 2}), "(batch, seq, 2)");
    EXPECT_EQ(infer({4}, {batch, 4, 2}), "(batch, 2)");
    EXPECT_EQ(infer({batch, 3, 4}, {4}), "(batch, 3)");
    EXPECT_EQ(infer({4}, {4}), "()");
    EXPECT_NE(infer({3, 4}, {5, 2}).find("inner dimensions differ"), std::string::npos);
    EXPECT_NE(infer({2, 3, 4}, {3, 4, 2}).find("do not broadcast"), std::string::npos);
    EXPECT_NE(infer({}, {3}).find("rank >= 1"), std::string::npos);
    auto mixed = inferOne("MatMul", {InputSpec::of(DataType::kFLOAT, {2, 3}), InputSpec::of(DataType::kHALF, {3, 2})}, 1);
    EXPECT_FALSE(mixed.status.isOk());
    auto boolean = inferOne("MatMul", {InputSpec::of(DataType::kBOOL, {2, 3}), InputSpec::of(DataType::kBOOL, {3, 2})}, 1);
    EXPECT_FALSE(boolean.status.isOk());
}

TEST(GemmInference, ShapesAndErrors) {
    const Dim batch = Dim::named("batch");
    auto infer = [](SymShape a, SymShape b, std::optional<SymShape> c, int64_t transA, int64_t transB) {
        std::vector<InputSpec> inputs{InputSpec::of(DataType::kFLOAT, a), InputSpec::of(DataType::kFLOAT, b)};
        if (c) inputs.push_back(InputSpec::of(DataType::kFLOAT, *c));
        return inferredShape(
            inferOne("Gemm", inputs, 1, attrsOf({{"transA", transA}, {"transB", transB}})));
    };
    EXPECT_EQ(infer({batch, 2048}, {1000, 2048}, SymShape{1000}, 0, 1), "(batch, 1000)");
    EXPECT_EQ(infer({2048, batch}, {2048, 10}, std::nullopt, 1, 0), "(batch, 10)");
    EXPECT_NE(infer({4, 5}, {6, 3}, std::nullopt, 0, 0).find("inner dimensions"), std::string::npos);
    EXPECT_NE(infer({4, 5}, {5, 3}, SymShape{2, 3}, 0, 0).find("does not broadcast"), std::string::npos);
    EXPECT_NE(infer({4, 5, 1}, {5, 3}, std::nullopt, 0, 0).find("2-D"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
