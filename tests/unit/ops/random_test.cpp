// Random generators: values are not comparable with a reference, so the tests check ranges,
// moments against the distributions' (with bounds far beyond sampling noise), the seed's
// determinism, and Bernoulli's certain cases.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

struct Moments {
    double mean{0}, variance{0}, lo{1e300}, hi{-1e300};
};

Moments momentsOf(const Tensor& t) {
    Moments m;
    std::vector<double> v = t.toDoubleVector();
    for (double x : v) {
        m.mean += x;
        m.lo = std::min(m.lo, x);
        m.hi = std::max(m.hi, x);
    }
    m.mean /= double(v.size());
    for (double x : v) m.variance += (x - m.mean) * (x - m.mean);
    m.variance /= double(v.size());
    return m;
}

TEST(RandomOps, UniformAndNormalFollowTheirParameters) {
    AttributeMap uniform;
    uniform.set("shape", std::vector<int64_t>{100, 200});
    uniform.set("low", -2.0f);
    uniform.set("high", 4.0f);
    SingleNodeRun u = runOp("RandomUniform", {}, uniform);
    ASSERT_TRUE(u.status) << u.status.message();
    ASSERT_EQ(u.outputs[0].shape(), (Shape{100, 200}));
    Moments mu = momentsOf(u.outputs[0]);
    EXPECT_GE(mu.lo, -2.0);
    EXPECT_LT(mu.hi, 4.0);
    EXPECT_NEAR(mu.mean, 1.0, 0.1);
    EXPECT_NEAR(mu.variance, 36.0 / 12, 0.15);

    Tensor like = randomData(DataType::kDOUBLE, {50, 400}, 1);
    AttributeMap normal;
    normal.set("mean", 3.0f);
    normal.set("scale", 0.5f);
    SingleNodeRun n = runOp("RandomNormalLike", {&like}, normal);
    ASSERT_TRUE(n.status) << n.status.message();
    ASSERT_EQ(n.outputs[0].dtype(), DataType::kDOUBLE);
    Moments mn = momentsOf(n.outputs[0]);
    EXPECT_NEAR(mn.mean, 3.0, 0.05);
    EXPECT_NEAR(mn.variance, 0.25, 0.02);
}

TEST(RandomOps, ASeedRepeatsTheSequence) {
    AttributeMap attrs;
    attrs.set("shape", std::vector<int64_t>{64});
    attrs.set("seed", 7.0f);
    SingleNodeRun a = runOp("RandomNormal", {}, attrs);
    SingleNodeRun b = runOp("RandomNormal", {}, attrs);
    ASSERT_TRUE(a.status && b.status);
    EXPECT_EQ(compareWithReference(a.outputs[0], b.outputs[0].toDoubleVector(), 0, 0), "");
    attrs.set("seed", 8.0f);
    SingleNodeRun c = runOp("RandomNormal", {}, attrs);
    ASSERT_TRUE(c.status);
    EXPECT_NE(compareWithReference(a.outputs[0], c.outputs[0].toDoubleVector(), 0, 0), "");
}

TEST(RandomOps, BernoulliDrawsWithTheGivenProbabilities) {
    Tensor p = Tensor::allocate(DataType::kFLOAT, {3, 4000});
    for (int64_t i = 0; i < 4000; ++i) {
        p.data<float>()[i] = 0.0f;
        p.data<float>()[4000 + i] = 1.0f;
        p.data<float>()[8000 + i] = 0.3f;
    }
    SingleNodeRun run = runOp("Bernoulli", {&p});
    ASSERT_TRUE(run.status) << run.status.message();
    double ones[3] = {0, 0, 0};
    for (int64_t i = 0; i < 12000; ++i) {
        double v = run.outputs[0].elementAsDouble(i);
        ASSERT_TRUE(v == 0 || v == 1);
        ones[i / 4000] += v;
    }
    EXPECT_EQ(ones[0], 0);
    EXPECT_EQ(ones[1], 4000);
    EXPECT_NEAR(ones[2] / 4000, 0.3, 0.05);
}

TEST(RandomOps, NotFoldedAtBuildTime) {
    AttributeMap attrs;
    attrs.set("shape", std::vector<int64_t>{4});
    InferResult r = inferOp("RandomUniform", {}, attrs);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_FALSE(r.outputs[0].value.has_value());
    EXPECT_FALSE(OpRegistry::global().find("", "RandomUniform")->foldable);
}

}  // namespace
}  // namespace kiln::test
