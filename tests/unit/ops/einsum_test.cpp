// Einsum against loop nests written out per equation (double precision), on random data.

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

SingleNodeRun einsum(const std::string& equation, const std::vector<const Tensor*>& inputs) {
    AttributeMap attrs;
    attrs.set("equation", equation);
    return runOp("Einsum", inputs, attrs);
}

double at(const Tensor& t, std::initializer_list<int64_t> index) {
    return t.elementAsDouble(ravel(std::vector<int64_t>(index), t.shape()));
}

TEST(EinsumOp, MatMulExplicitAndImplicit) {
    Tensor a = randomData(DataType::kFLOAT, {3, 5}, 1), b = randomData(DataType::kFLOAT, {5, 4}, 2);
    std::vector<double> ref;
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t k = 0; k < 4; ++k) {
            double acc = 0;
            for (int64_t j = 0; j < 5; ++j) acc += at(a, {i, j}) * at(b, {j, k});
            ref.push_back(acc);
        }
    for (const char* eq : {"ij,jk->ik", "ij,jk", "ij, jk -> ik"}) {
        SingleNodeRun run = einsum(eq, {&a, &b});
        ASSERT_TRUE(run.status) << eq << ": " << run.status.message();
        ASSERT_EQ(run.outputs[0].shape(), (Shape{3, 4})) << eq;
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-5), "") << eq;
    }
}

TEST(EinsumOp, TransposeTraceDiagonalAndSums) {
    Tensor m = randomData(DataType::kDOUBLE, {4, 4}, 3);
    SingleNodeRun t = einsum("ij->ji", {&m});
    ASSERT_TRUE(t.status) << t.status.message();
    std::vector<double> transposed, diagonal, rowSums;
    double trace = 0, total = 0;
    for (int64_t i = 0; i < 4; ++i) {
        double row = 0;
        for (int64_t j = 0; j < 4; ++j) {
            transposed.push_back(at(m, {j, i}));
            row += at(m, {i, j});
            total += at(m, {i, j});
        }
        rowSums.push_back(row);
        diagonal.push_back(at(m, {i, i}));
        trace += at(m, {i, i});
    }
    expectExact(t.outputs[0], transposed);
    SingleNodeRun tr = einsum("ii", {&m});  // implicit: a repeated letter is summed
    ASSERT_TRUE(tr.status) << tr.status.message();
    EXPECT_EQ(tr.outputs[0].shape(), Shape{});
    EXPECT_EQ(compareWithReference(tr.outputs[0], {trace}, 1e-12, 1e-12), "");
    SingleNodeRun d = einsum("ii->i", {&m});
    ASSERT_TRUE(d.status) << d.status.message();
    expectExact(d.outputs[0], diagonal);
    SingleNodeRun s = einsum("ij->i", {&m});
    ASSERT_TRUE(s.status) << s.status.message();
    EXPECT_EQ(compareWithReference(s.outputs[0], rowSums, 1e-12, 1e-12), "");
    SingleNodeRun all = einsum("ij->", {&m});
    ASSERT_TRUE(all.status) << all.status.message();
    EXPECT_EQ(compareWithReference(all.outputs[0], {total}, 1e-12, 1e-12), "");
}

TEST(EinsumOp, EllipsisBroadcastsBatchDimensions) {
    Tensor a = randomData(DataType::kFLOAT, {2, 1, 3, 4}, 4), b = randomData(DataType::kFLOAT, {5, 4, 2}, 5);
    SingleNodeRun run = einsum("...ij,...jk->...ik", {&a, &b});
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 5, 3, 2}));
    std::vector<double> ref;
    for (int64_t p = 0; p < 2; ++p)
        for (int64_t q = 0; q < 5; ++q)
            for (int64_t i = 0; i < 3; ++i)
                for (int64_t k = 0; k < 2; ++k) {
                    double acc = 0;
                    for (int64_t j = 0; j < 4; ++j) acc += at(a, {p, 0, i, j}) * at(b, {q, j, k});
                    ref.push_back(acc);
                }
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-5), "");
    // Implicit output with an ellipsis: the ellipsis axes first, then the single letters.
    SingleNodeRun implicit = einsum("...ij,...jk", {&a, &b});
    ASSERT_TRUE(implicit.status) << implicit.status.message();
    EXPECT_EQ(compareWithReference(implicit.outputs[0], ref, 1e-5, 1e-5), "");
}

TEST(EinsumOp, ThreeOperandsOuterProductsAndIntegers) {
    Tensor x = randomData(DataType::kFLOAT, {2, 3}, 6), w = randomData(DataType::kFLOAT, {4, 3, 5}, 7), y = randomData(DataType::kFLOAT, {2, 5}, 8);
    SingleNodeRun bilinear = einsum("bn,anm,bm->ba", {&x, &w, &y});
    ASSERT_TRUE(bilinear.status) << bilinear.status.message();
    std::vector<double> ref;
    for (int64_t b = 0; b < 2; ++b)
        for (int64_t a = 0; a < 4; ++a) {
            double acc = 0;
            for (int64_t n = 0; n < 3; ++n)
                for (int64_t m = 0; m < 5; ++m) acc += at(x, {b, n}) * at(w, {a, n, m}) * at(y, {b, m});
            ref.push_back(acc);
        }
    EXPECT_EQ(compareWithReference(bilinear.outputs[0], ref, 1e-4, 1e-3), "");

    Tensor u = randomData(DataType::kINT32, {3}, 9), v = randomData(DataType::kINT32, {4}, 10);
    SingleNodeRun outer = einsum("i,j->ij", {&u, &v});
    ASSERT_TRUE(outer.status) << outer.status.message();
    std::vector<double> outerRef;
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 4; ++j) outerRef.push_back(at(u, {i}) * at(v, {j}));
    expectExact(outer.outputs[0], outerRef);
}

TEST(EinsumOp, BadEquationsAreErrorsNamingThem) {
    Tensor a = randomData(DataType::kFLOAT, {3, 5}, 1);
    for (const char* eq : {"ijk->i", "ij,jk->ik", "ij->k", "i.j->i"}) {
        SingleNodeRun run = einsum(eq, {&a});
        ASSERT_FALSE(run.status) << eq;
        EXPECT_NE(run.status.message().find(eq), std::string::npos) << run.status.message();
    }
}

}  // namespace
}  // namespace kiln::test
