// Conv against a direct double-precision convolution: 1-D/2-D/3-D, groups and depthwise,
// strides, dilations, explicit and automatic padding, bias, several dtypes; and Conv's shape inference.

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

struct ConvCase {
    Shape x;        // N, C, spatial...
    Shape w;        // M, C/group, kernel...
    int64_t group{1};
    Shape strides;  // empty: all 1
    Shape dilations;
    Shape pads;     // empty: none
    std::string autoPad;
    bool bias{true};
    bool kernelShapeAttr{false};
};

/// Output extents and begin pads, from the ONNX formulas (written independently of Kiln's).
void expectedWindow(const ConvCase& c, Shape& out, Shape& padBegin) {
    const size_t n = c.x.size() - 2;
    out.assign(n, 0);
    padBegin.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
        const int64_t in = c.x[2 + i], s = c.strides.empty() ? 1 : c.strides[i];
        const int64_t ek = (c.w[2 + i] - 1) * (c.dilations.empty() ? 1 : c.dilations[i]) + 1;
        if (c.autoPad == "SAME_UPPER" || c.autoPad == "SAME_LOWER") {
            out[i] = (in + s - 1) / s;
            const int64_t total = std::max<int64_t>(0, (out[i] - 1) * s + ek - in);
            padBegin[i] = c.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
        } else if (c.autoPad == "VALID") {
            out[i] = (in - ek) / s + 1;
        } else {
            const int64_t pb = c.pads.empty() ? 0 : c.pads[i], pe = c.pads.empty() ? 0 : c.pads[i + n];
            out[i] = (in + pb + pe - ek) / s + 1;
            padBegin[i] = pb;
        }
    }
}

std::vector<double> convReference(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor* b, Shape& outShape) {
    const size_t n = c.x.size() - 2;
    Shape out, padBegin;
    expectedWindow(c, out, padBegin);
    outShape = {c.x[0], c.w[0]};
    outShape.insert(outShape.end(), out.begin(), out.end());
    const std::vector<double> vx = x.toDoubleVector(), vw = w.toDoubleVector();
    const std::vector<double> vb = b ? b->toDoubleVector() : std::vector<double>{};
    const Shape inSpatial(c.x.begin() + 2, c.x.end()), kernel(c.w.begin() + 2, c.w.end());
    const int64_t inSize = shapeElementCount(inSpatial), outSize = shapeElementCount(out), kSize = shapeElementCount(kernel);
    const int64_t cPerGroup = c.w[1], mPerGroup = c.w[0] / c.group;
    const Shape inStrides = stridesOf(inSpatial), outStrides = stridesOf(out), kStrides = stridesOf(kernel);
    std::vector<double> y(static_cast<size_t>(shapeElementCount(outShape)));
    for (int64_t batch = 0; batch < c.x[0]; ++batch)
        for (int64_t m = 0; m < c.w[0]; ++m) {
            const int64_t g = m / mPerGroup;
            for (int64_t o = 0; o < outSize; ++o) {
                double sum = b ? vb[static_cast<size_t>(m)] : 0.0;
                for (int64_t ci = 0; ci < cPerGroup; ++ci)
                    for (int64_t k = 0; k < kSize; ++k) {
                        int64_t offset = 0;
                        bool inside = true;
                        for (size_t d = 0; d < n; ++d) {
                            const int64_t od = (o / outStrides[d]) % out[d], kd = (k / kStrides[d]) % kernel[d];
                            const int64_t pixel = od * (c.strides.empty() ? 1 : c.strides[d]) - padBegin[d] +
                                                  kd * (c.dilations.empty() ? 1 : c.dilations[d]);
                            inside = inside && pixel >= 0 && pixel < inSpatial[d];
                            offset += pixel * inStrides[d];
                        }
                        if (!inside) continue;
                        const int64_t channel = g * cPerGroup + ci;
                        sum += vx[static_cast<size_t>((batch * c.x[1] + channel) * inSize + offset)] *
                               vw[static_cast<size_t>((m * cPerGroup + ci) * kSize + k)];
                    }
                y[static_cast<size_t>((batch * c.w[0] + m) * outSize + o)] = sum;
            }
        }
    return y;
}

AttributeMap convAttrs(const ConvCase& c) {
    AttributeMap attrs;
    if (c.group != 1) attrs.set("group", c.group);
    if (!c.strides.empty()) attrs.set("strides", c.strides);
    if (!c.dilations.empty()) attrs.set("dilations", c.dilations);
    if (!c.pads.empty()) attrs.set("pads", c.pads);
    if (!c.autoPad.empty()) attrs.set("auto_pad", c.autoPad);
    if (c.kernelShapeAttr) attrs.set("kernel_shape", Shape(c.w.begin() + 2, c.w.end()));
    return attrs;
}

void checkConv(DataType type, const ConvCase& c, uint32_t seed) {
    Tensor x = randomTensor(type, c.x, -1.0, 1.0, seed);
    Tensor w = randomTensor(type, c.w, -1.0, 1.0, seed + 1);
    Tensor b = randomTensor(type, {c.w[0]}, -1.0, 1.0, seed + 2);
    std::vector<const Tensor*> inputs{&x, &w};
    if (c.bias) inputs.push_back(&b);
    Shape outShape;
    std::vector<double> ref = convReference(c, x, w, c.bias ? &b : nullptr, outShape);
    Tensor out = runOne("Conv", inputs, convAttrs(c));
    const int64_t terms = shapeElementCount(c.w) / c.w[0];
    expectClose(out, type, outShape, ref, tolFor(type, terms),
                std::string("Conv ") + dataTypeName(type) + " x" + shapeToString(c.x, true) + " w" +
                    shapeToString(c.w, true) + " group " + std::to_string(c.group) + " " + c.autoPad);
}

const std::vector<ConvCase>& convCases() {
    static const std::vector<ConvCase> cases = {
        {{2, 3, 7, 9}, {4, 3, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},
        {{1, 5, 13, 7}, {7, 5, 3, 2}, 1, {2, 3}, {2, 1}, {1, 0, 2, 1}},       // odd sizes, asymmetric
        {{2, 6, 8, 8}, {9, 2, 3, 3}, 3, {1, 2}, {}, {1, 1, 0, 1}},            // groups
        {{2, 8, 9, 10}, {8, 1, 3, 3}, 8, {2, 2}, {}, {1, 1, 1, 1}},           // depthwise
        {{1, 4, 9, 7}, {12, 1, 3, 5}, 4, {1, 2}, {2, 1}, {2, 2, 2, 2}},       // depthwise, multiplier 3
        {{2, 16, 6, 5}, {8, 16, 1, 1}, 1, {}, {}, {}},                        // pointwise: no im2col
        {{1, 16, 9, 9}, {8, 16, 1, 1}, 1, {2, 2}, {}, {}},                    // strided 1x1
        {{2, 4, 17}, {6, 4, 5}, 1, {3}, {2}, {2, 1}},                         // 1-D
        {{1, 2, 5, 6, 7}, {3, 2, 2, 3, 2}, 1, {1, 2, 1}, {1, 1, 2}, {0, 1, 1, 1, 0, 0}},  // 3-D
        {{1, 3, 11, 10}, {4, 3, 3, 4}, 1, {2, 3}, {}, {}, "SAME_UPPER"},
        {{1, 3, 11, 10}, {4, 3, 3, 4}, 1, {2, 3}, {}, {}, "SAME_LOWER"},
        {{1, 3, 11, 10}, {4, 3, 3, 4}, 1, {2, 3}, {2, 1}, {}, "VALID"},
        {{1, 3, 11, 10}, {4, 3, 4, 4}, 1, {1, 1}, {}, {}, "SAME_UPPER", false, true},
        {{4, 3, 6, 6}, {2, 3, 3, 3}, 1, {}, {}, {1, 1, 1, 1}, "", false},     // small items spread over threads
        {{1, 32, 28, 28}, {48, 32, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},           // a ResNet-like layer
        {{1, 1, 5, 5}, {3, 1, 2, 2}, 1, {}, {}, {}},                          // one input channel
        {{0, 3, 5, 5}, {2, 3, 3, 3}, 1, {}, {}, {}},                          // empty batch
    };
    return cases;
}

TEST(Conv, FloatCases) {
    uint32_t seed = 1;
    for (const ConvCase& c : convCases()) checkConv(DataType::kFLOAT, c, seed += 3);
}

TEST(Conv, OtherFloatTypes) {
    uint32_t seed = 300;
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}) {
        for (size_t i : {0u, 2u, 3u, 5u, 7u, 9u}) checkConv(type, convCases()[i], seed += 3);
    }
}

std::string inferConvShape(SymShape x, SymShape w, const AttributeMap& attrs, std::optional<SymShape> bias = {},
                           DataType type = DataType::kFLOAT) {
    std::vector<InputSpec> inputs{InputSpec::of(type, x), InputSpec::of(type, w)};
    if (bias) inputs.push_back(InputSpec::of(type, *bias));
    return inferredShape(inferOne("Conv", inputs, 1, attrs));
}

TEST(ConvInference, SymbolsAndKnownExtents) {
    const Dim batch = Dim::named("batch"), h = Dim::named("h"), w = Dim::named("w");
    AttributeMap pad1 = attrsOf({{"pads", Shape{1, 1, 1, 1}}});
    EXPECT_EQ(inferConvShape({batch, 3, 224, 224}, {64, 3, 7, 7},
                             attrsOf({{"pads", Shape{3, 3, 3, 3}}, {"strides", Shape{2, 2}}}), SymShape{64}),
              "(batch, 64, 112, 112)");
    // 3x3, pad 1, stride 1 keeps a symbolic extent; stride 2 makes it unknown.
    EXPECT_EQ(inferConvShape({batch, 8, h, w}, {16, 8, 3, 3}, pad1), "(batch, 16, h, w)");
    EXPECT_EQ(inferConvShape({batch, 8, h, 10}, {16, 8, 3, 3}, attrsOf({{"pads", Shape{1, 1, 1, 1}},
                                                                          {"strides", Shape{2, 2}}})),
              "(batch, 16, -1, 5)");
    EXPECT_EQ(inferConvShape({batch, 8, h, w}, {16, 8, 1, 1}, {}), "(batch, 16, h, w)");
    EXPECT_EQ(inferConvShape({batch, 8, h, 9}, {16, 8, 3, 3}, attrsOf({{"auto_pad", std::string("SAME_UPPER")}})),
              "(batch, 16, h, 9)");
    EXPECT_EQ(inferConvShape({1, 8, 9, 9}, {16, 4, 3, 3}, attrsOf({{"group", int64_t{2}}, {"dilations", Shape{2, 2}}})),
              "(1, 16, 5, 5)");
    EXPECT_EQ(inferConvShape({2, 4, 11}, {6, 4, 3}, attrsOf({{"auto_pad", std::string("VALID")}, {"strides", Shape{2}}})),
              "(2, 6, 5)");
    // Unknown weights' spatial extents without kernel_shape: spatial dims unknown, rank known.
    EXPECT_EQ(inferConvShape({1, 4, 11, 11}, {6, 4, Dim::unknown(), 3}, {}), "(1, 6, -1, -1)");
}

TEST(ConvInference, Errors) {
    auto expectError = [](const std::string& result, const std::string& fragment) {
        EXPECT_NE(result.find(fragment), std::string::npos) << result;
        EXPECT_EQ(result.rfind("error: ", 0), 0u) << result;
    };
    expectError(inferConvShape({1, 6, 8, 8}, {4, 4, 3, 3}, {}), "channels");
    expectError(inferConvShape({1, 6, 8, 8}, {5, 3, 3, 3}, attrsOf({{"group", int64_t{2}}})), "not divisible");
    expectError(inferConvShape({1, 6, 8, 8}, {4, 2, 3, 3}, attrsOf({{"group", int64_t{4}}})), "divisible");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, {}, SymShape{5}), "bias");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, attrsOf({{"pads", Shape{1, 1}}})), "pads");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, attrsOf({{"pads", Shape{1, -1, 1, 1}}})), "pads");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, attrsOf({{"strides", Shape{0, 1}}})), "strides");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, attrsOf({{"dilations", Shape{1}}})), "dilations");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, attrsOf({{"auto_pad", std::string("SAME")}})), "auto_pad");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, attrsOf({{"kernel_shape", Shape{3, 2}}})), "kernel_shape");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3},
                               attrsOf({{"auto_pad", std::string("SAME_UPPER")}, {"pads", Shape{1, 1, 1, 1}}})),
                "auto_pad");
    expectError(inferConvShape({1, 3, 2, 8}, {4, 3, 3, 3}, {}), "smaller than the kernel");
    expectError(inferConvShape({3, 8}, {4, 3, 3}, {}), "rank >= 3");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3}, {}), "rank");
    expectError(inferConvShape({1, 3, 8, 8}, {4, 3, 3, 3}, {}, std::nullopt, DataType::kINT32), "type");
}

}  // namespace
}  // namespace kiln::test
