// kiln compare's element-wise tolerance, the worst element and the relative L2 error, against values
// worked out here from the definitions (|a - r| <= atol + rtol * |r|; NaN matches NaN).

#include "tensor_comparison.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "common/half.h"

namespace kiln::cli {
namespace {

Dims dimsOf(std::initializer_list<int64_t> extents) {
    Dims dims;
    dims.nbDims = static_cast<int32_t>(extents.size());
    int32_t i = 0;
    for (int64_t e : extents) dims.d[i++] = e;
    return dims;
}

template <typename T>
TensorView viewOf(const std::vector<T>& values, DataType dtype, Dims dims, const char* name = "t") {
    return TensorView{name, dtype, dims, values.data()};
}

TEST(TensorComparison, RandomFloatsWithinAndOutsideTheTolerance) {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    std::vector<float> reference(257), candidate(257);
    for (size_t i = 0; i < reference.size(); ++i) {
        reference[i] = normal(rng);
        candidate[i] = reference[i] + 0.5e-3f * normal(rng) * 1e-1f;  // well inside 1e-3 + 1e-3 |r|
    }
    const Tolerance tolerance;
    TensorComparison same = compareTensors(viewOf(candidate, DataType::kFLOAT, dimsOf({257})),
                                           viewOf(reference, DataType::kFLOAT, dimsOf({257})), tolerance);
    EXPECT_TRUE(same.matches());
    double diff2 = 0, ref2 = 0, maxDiff = 0;
    for (size_t i = 0; i < reference.size(); ++i) {
        const double d = static_cast<double>(candidate[i]) - reference[i];
        diff2 += d * d;
        ref2 += static_cast<double>(reference[i]) * reference[i];
        maxDiff = std::max(maxDiff, std::abs(d));
    }
    EXPECT_NEAR(same.relativeL2, std::sqrt(diff2 / ref2), 1e-12);
    EXPECT_DOUBLE_EQ(same.maxAbsDiff, maxDiff);

    // Element 100 moved just past its tolerance, element 7 further: 7 is the worst.
    candidate[100] = reference[100] + 1.01f * static_cast<float>(1e-3 + 1e-3 * std::abs(reference[100]));
    candidate[7] = reference[7] + 0.5f;
    TensorComparison differ = compareTensors(viewOf(candidate, DataType::kFLOAT, dimsOf({257})),
                                             viewOf(reference, DataType::kFLOAT, dimsOf({257})), tolerance);
    EXPECT_FALSE(differ.matches());
    EXPECT_EQ(differ.mismatches, 2);
    EXPECT_EQ(differ.worstIndex, 7);
    EXPECT_FLOAT_EQ(static_cast<float>(differ.worstReference), reference[7]);
}

TEST(TensorComparison, NanMatchesNanOnlyAndInfinitiesMatchThemselves) {
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> reference = {nan, inf, -inf, 1.0};
    std::vector<double> candidate = {nan, inf, -inf, 1.0};
    EXPECT_TRUE(compareTensors(viewOf(candidate, DataType::kDOUBLE, dimsOf({4})),
                               viewOf(reference, DataType::kDOUBLE, dimsOf({4})), Tolerance{})
                    .matches());
    candidate = {1.0, 1e300, -inf, nan};
    TensorComparison c = compareTensors(viewOf(candidate, DataType::kDOUBLE, dimsOf({4})),
                                        viewOf(reference, DataType::kDOUBLE, dimsOf({4})), Tolerance{});
    EXPECT_EQ(c.mismatches, 3);
    EXPECT_TRUE(std::isinf(c.maxAbsDiff));
}

TEST(TensorComparison, IntegersMustBeEqualAndHalvesAreReadAsTheirValues) {
    std::vector<int64_t> a = {1, 2, 3}, b = {1, 2, 4};
    TensorComparison ints = compareTensors(viewOf(a, DataType::kINT64, dimsOf({3})), viewOf(b, DataType::kINT64, dimsOf({3})),
                                           Tolerance{1.0, 1.0});  // a tolerance does not apply to integers
    EXPECT_EQ(ints.mismatches, 1);
    EXPECT_EQ(ints.worstIndex, 2);

    std::vector<Half> h = {Half(1.5f), Half(-2.0f)};
    std::vector<Half> g = {Half(1.5f), Half(-2.25f)};
    TensorComparison halves =
        compareTensors(viewOf(h, DataType::kHALF, dimsOf({2})), viewOf(g, DataType::kHALF, dimsOf({2})), Tolerance{});
    EXPECT_EQ(halves.mismatches, 1);
    EXPECT_DOUBLE_EQ(halves.maxAbsDiff, 0.25);
}

TEST(TensorComparison, ShapesAndTypesMustAgree) {
    std::vector<float> a(6, 1.0f);
    TensorComparison shape =
        compareTensors(viewOf(a, DataType::kFLOAT, dimsOf({2, 3})), viewOf(a, DataType::kFLOAT, dimsOf({3, 2})), Tolerance{});
    EXPECT_FALSE(shape.matches());
    EXPECT_FALSE(shape.shapesMatch());
    const std::vector<std::string> lines = formatComparisons({shape});
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("shape 2x3, reference 3x2"), std::string::npos) << lines[0];
}

TEST(TensorComparison, JsonNamesEveryFieldAndTheTolerance) {
    std::vector<float> a = {1.0f, 2.0f}, b = {1.0f, 2.5f};
    TensorComparison c = compareTensors(viewOf(a, DataType::kFLOAT, dimsOf({2}), "logits"),
                                        viewOf(b, DataType::kFLOAT, dimsOf({2}), "logits"), Tolerance{});
    c.producer = "layer 'fc' (Gemm)";
    nlohmann::ordered_json json = comparisonsToJson({c}, Tolerance{});
    EXPECT_EQ(json["rtol"], 1e-3);
    ASSERT_EQ(json["tensors"].size(), 1u);
    const auto& t = json["tensors"][0];
    EXPECT_EQ(t["name"], "logits");
    EXPECT_EQ(t["producer"], "layer 'fc' (Gemm)");
    EXPECT_EQ(t["matches"], false);
    EXPECT_EQ(t["mismatches"], 1);
    EXPECT_EQ(t["worst_index"], 1);
    EXPECT_DOUBLE_EQ(t["max_abs_diff"].get<double>(), 0.5);
}

}  // namespace
}  // namespace kiln::cli
