// Pointwise activations, PRelu and Clip on the CPU against double-precision references.

#include <cmath>
#include <limits>

#include "elementwise_test_util.h"

namespace kiln::test {
namespace {

struct ActivationCase {
    const char* op;
    AttributeMap attrs;
    std::function<double(double)> fn;
};

AttributeMap floatAttrs(std::initializer_list<std::pair<const char*, float>> values) {
    AttributeMap attrs;
    for (const auto& [name, value] : values) attrs.set(name, value);
    return attrs;
}

double softplus(double x) {
    return std::log1p(std::exp(x));
}

std::vector<ActivationCase> activationCases() {
    // Attribute values are floats in the model; the references use the same float values.
    const double alpha = 0.3f;
    const double beta = 0.6f;
    AttributeMap tanhGelu;
    tanhGelu.set("approximate", std::string("tanh"));
    AttributeMap erfGelu;
    erfGelu.set("approximate", std::string("none"));
    return {
        {"Relu", {}, [](double x) { return std::max(x, 0.0); }},
        {"LeakyRelu", {}, [](double x) { return x < 0 ? static_cast<double>(0.01f) * x : x; }},
        {"LeakyRelu", floatAttrs({{"alpha", 0.3f}}), [=](double x) { return x < 0 ? alpha * x : x; }},
        {"Elu", floatAttrs({{"alpha", 0.3f}}), [=](double x) { return x < 0 ? alpha * (std::exp(x) - 1) : x; }},
        {"Selu",
         {},
         [](double x) {
             const double a = 1.67326319217681884765625f;
             const double g = 1.05070102214813232421875f;
             return x > 0 ? g * x : g * (a * std::exp(x) - a);
         }},
        {"Selu", floatAttrs({{"alpha", 0.3f}, {"gamma", 0.6f}}),
         [=](double x) { return x > 0 ? beta * x : beta * (alpha * std::exp(x) - alpha); }},
        {"Celu", floatAttrs({{"alpha", 0.6f}}),
         [=](double x) { return std::max(0.0, x) + std::min(0.0, beta * (std::exp(x / beta) - 1)); }},
        {"Sigmoid", {}, [](double x) { return 1 / (1 + std::exp(-x)); }},
        {"HardSigmoid",
         {},
         [](double x) { return std::clamp(static_cast<double>(0.2f) * x + static_cast<double>(0.5f), 0.0, 1.0); }},
        {"HardSigmoid", floatAttrs({{"alpha", 0.3f}, {"beta", 0.6f}}),
         [=](double x) { return std::clamp(alpha * x + beta, 0.0, 1.0); }},
        {"HardSwish", {}, [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }},
        {"Tanh", {}, [](double x) { return std::tanh(x); }},
        {"Softplus", {}, softplus},
        {"Softsign", {}, [](double x) { return x / (1 + std::fabs(x)); }},
        {"Gelu", {}, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
        {"Gelu", erfGelu, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
        {"Gelu", tanhGelu,
         [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }},
        {"Mish", {}, [](double x) { return x * std::tanh(softplus(x)); }},
        {"Swish", {}, [](double x) { return x / (1 + std::exp(-x)); }},
        {"Swish", floatAttrs({{"alpha", 0.3f}}), [=](double x) { return x / (1 + std::exp(-alpha * x)); }},
        {"ThresholdedRelu", {}, [](double x) { return x > 1.0 ? x : 0.0; }},
        {"ThresholdedRelu", floatAttrs({{"alpha", 0.3f}}), [=](double x) { return x > alpha ? x : 0.0; }},
        {"Shrink", {}, [](double x) { return x < -0.5 ? x : (x > 0.5 ? x : 0.0); }},
        {"Shrink", floatAttrs({{"lambd", 0.6f}, {"bias", 0.3f}}),
         [=](double x) { return x < -beta ? x + alpha : (x > beta ? x - alpha : 0.0); }},
    };
}

TEST(Activation, PointwiseFloat) {
    uint32_t seed = 1;
    for (const ActivationCase& c : activationCases()) {
        for (DataType type : floatTypes()) {
            if (std::string(c.op) == "Shrink" && type == DataType::kBF16) continue;  // not a Shrink type in ONNX
            for (const Shape& shape : {Shape{2, 3, 7}, Shape{}, Shape{0}, Shape{40000}}) {
                Tensor x = randomTensor(type, shape, -6.0, 6.0, seed++);
                Tensor out = runOk(c.op, {&x}, c.attrs);
                auto ref = referenceBroadcast({&x}, [&](const std::vector<double>& v) { return c.fn(v[0]); });
                Tolerance tol = toleranceFor(type);
                expectMatches(out, type, shape, ref, {tol.rtol * 4, tol.atol * 2},
                              std::string(c.op) + " " + dataTypeName(type) + " " + shapeToString(shape, true));
            }
        }
    }
}

TEST(Activation, SigmoidAndSoftplusAtExtremes) {
    Tensor x = tensorOf(DataType::kFLOAT, {4}, {-100.0, 100.0, -30.0, 30.0});
    Tensor sigmoid = runOk("Sigmoid", {&x});
    // sigmoid(-100) and softplus(-100) are float subnormals: compared with an absolute tolerance far below FLT_MIN.
    EXPECT_EQ(
        compareWithReference(sigmoid, {1 / (1 + std::exp(100.0)), 1.0, 1 / (1 + std::exp(30.0)), 1.0}, 1e-6, 1e-40),
        "");
    Tensor softplusOut = runOk("Softplus", {&x});
    EXPECT_EQ(compareWithReference(softplusOut, {softplus(-100), 100, softplus(-30), softplus(30)}, 1e-6, 1e-40), "");
}

TEST(Activation, ReluAndShrinkOnIntegers) {
    uint32_t seed = 50;
    for (DataType type : {DataType::kINT8, DataType::kINT16, DataType::kINT32, DataType::kINT64}) {
        Tensor x = randomTensor(type, {5, 6}, -100.0, 100.0, seed++);
        expectMatches(runOk("Relu", {&x}), type, {5, 6},
                      referenceBroadcast({&x}, [](const std::vector<double>& v) { return std::max(v[0], 0.0); }),
                      {0, 0}, std::string("Relu ") + dataTypeName(type));
    }
    for (DataType type : {DataType::kINT32, DataType::kUINT8, DataType::kINT64}) {
        const bool isSigned = isSignedType(type);
        Tensor x = randomTensor(type, {5, 6}, isSigned ? -20.0 : 10.0, 40.0, seed++);
        AttributeMap attrs = floatAttrs({{"lambd", 10.0f}, {"bias", 2.5f}});
        expectMatches(runOk("Shrink", {&x}, attrs), type, {5, 6},
                      referenceBroadcast({&x},
                                         [](const std::vector<double>& v) {
                                             // Computed in floating point, then truncated like a cast.
                                             const double x = v[0];
                                             return std::trunc(x < -10 ? x + 2.5 : (x > 10 ? x - 2.5 : 0.0));
                                         }),
                      {0, 0}, std::string("Shrink ") + dataTypeName(type));
    }
}

TEST(Activation, PReluBroadcastsSlope) {
    uint32_t seed = 70;
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{2, 3, 4, 5}, {3, 1, 1}},     {{2, 3, 4}, {4}}, {{6, 7}, {}}, {{3, 4}, {3, 4}},
        {{2, 64, 32, 32}, {64, 1, 1}}, {{0, 3}, {3}}};
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}) {
        for (const auto& [xs, ss] : cases) {
            Tensor x = randomTensor(type, xs, -4.0, 4.0, seed++);
            Tensor slope = randomTensor(type, ss, 0.05, 0.5, seed++);
            auto ref = referenceBroadcast({&x, &slope},
                                          [](const std::vector<double>& v) { return v[0] < 0 ? v[0] * v[1] : v[0]; });
            expectMatches(runOk("PRelu", {&x, &slope}), type, xs, ref, toleranceFor(type),
                          std::string("PRelu ") + dataTypeName(type) + " " + shapeToString(xs, true));
        }
    }
    for (DataType type : {DataType::kINT32, DataType::kINT64, DataType::kUINT32}) {
        const bool isSigned = isSignedType(type);
        Tensor x = randomTensor(type, {4, 5}, isSigned ? -50.0 : 0.0, 50.0, seed++);
        Tensor slope = randomTensor(type, {5}, 1.0, 4.0, seed++);
        auto ref = referenceBroadcast({&x, &slope},
                                      [](const std::vector<double>& v) { return v[0] < 0 ? v[0] * v[1] : v[0]; });
        expectMatches(runOk("PRelu", {&x, &slope}), type, {4, 5}, ref, {0, 0},
                      std::string("PRelu ") + dataTypeName(type));
    }
}

TEST(Activation, ClipWithOptionalBounds) {
    uint32_t seed = 90;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT8,
                          DataType::kINT32, DataType::kINT64, DataType::kUINT8, DataType::kUINT16}) {
        const bool isSigned = isSignedType(type);
        const double lo = isSigned ? -2.0 : 20.0;
        const double hi = isSigned ? 3.0 : 60.0;
        Tensor x = randomTensor(type, {50000}, isSigned ? -6.0 : 0.0, isSigned ? 6.0 : 100.0, seed++);
        Tensor minT = tensorOf(type, {}, {lo});
        Tensor maxT = tensorOf(type, {1}, {hi});
        struct Bounds {
            const Tensor* min;
            const Tensor* max;
        };
        for (Bounds b : {Bounds{&minT, &maxT}, Bounds{&minT, nullptr}, Bounds{nullptr, &maxT}, Bounds{nullptr, nullptr},
                         Bounds{&maxT, &minT}}) {
            std::vector<const Tensor*> inputs = {&x, b.min, b.max};
            while (inputs.back() == nullptr && inputs.size() > 1) inputs.pop_back();
            const double l = b.min ? b.min->elementAsDouble(0) : -std::numeric_limits<double>::infinity();
            const double h = b.max ? b.max->elementAsDouble(0) : std::numeric_limits<double>::infinity();
            // min(max(x, lo), hi): all values become hi when lo > hi.
            auto ref =
                referenceBroadcast({&x}, [&](const std::vector<double>& v) { return std::min(std::max(v[0], l), h); });
            expectMatches(runOk("Clip", inputs), type, {50000}, ref, {0, 0},
                          std::string("Clip ") + dataTypeName(type) + (b.min ? " min" : "") + (b.max ? " max" : ""));
        }
    }
}

TEST(Activation, ClipKeepsInfinitiesWithoutBounds) {
    const double inf = std::numeric_limits<double>::infinity();
    Tensor x = tensorOf(DataType::kFLOAT, {3}, {-inf, 1.0, inf});
    EXPECT_EQ(compareWithReference(runOk("Clip", {&x}), {-inf, 1.0, inf}, 0, 0), "");
}

TEST(Activation, RejectsBadAttributes) {
    Tensor x = randomTensor(DataType::kFLOAT, {3}, -1, 1, 1);
    AttributeMap attrs;
    attrs.set("approximate", std::string("sigmoid"));
    EXPECT_FALSE(runSingleNode("Gelu", {&x}, 1, attrs).status.isOk());
    attrs = {};
    attrs.set("alpha", 0.0f);
    EXPECT_FALSE(runSingleNode("Celu", {&x}, 1, attrs).status.isOk());
}

}  // namespace
}  // namespace kiln::test
