// ConvTranspose against a direct double-precision scatter: strides, dilations, pads, output_padding,
// output_shape, auto_pad, groups, 1-D/2-D/3-D, several dtypes; and its shape inference.

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

struct TransposeCase {
    Shape x;  // N, C, spatial...
    Shape w;  // C, M/group, kernel...
    int64_t group{1};
    Shape strides;
    Shape dilations;
    Shape pads;
    Shape outputPadding;
    Shape outputShape;  // spatial only
    std::string autoPad;
    bool bias{true};
};

int64_t at(const Shape& s, size_t i, int64_t fallback) { return s.empty() ? fallback : s[i]; }

/// Output extents and begin pads from the ONNX ConvTranspose formulas.
void expectedWindow(const TransposeCase& c, Shape& out, Shape& padBegin) {
    const size_t n = c.x.size() - 2;
    out.assign(n, 0);
    padBegin.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
        const int64_t in = c.x[2 + i], s = at(c.strides, i, 1);
        const int64_t ek = (c.w[2 + i] - 1) * at(c.dilations, i, 1) + 1;
        const int64_t full = s * (in - 1) + at(c.outputPadding, i, 0) + ek;
        if (!c.pads.empty()) {
            padBegin[i] = c.pads[i];
            out[i] = c.outputShape.empty() ? full - c.pads[i] - c.pads[i + n] : c.outputShape[i];
        } else if (!c.outputShape.empty() || c.autoPad == "SAME_UPPER" || c.autoPad == "SAME_LOWER") {
            out[i] = c.outputShape.empty() ? in * s : c.outputShape[i];
            const int64_t total = std::max<int64_t>(0, full - out[i]);
            padBegin[i] = c.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
        } else {
            out[i] = full;
        }
    }
}

std::vector<double> transposeReference(const TransposeCase& c, const Tensor& x, const Tensor& w, const Tensor* b,
                                       Shape& outShape) {
    const size_t n = c.x.size() - 2;
    Shape out, padBegin;
    expectedWindow(c, out, padBegin);
    const int64_t mPerGroup = c.w[1], outChannels = mPerGroup * c.group, cPerGroup = c.x[1] / c.group;
    outShape = {c.x[0], outChannels};
    outShape.insert(outShape.end(), out.begin(), out.end());
    const std::vector<double> vx = x.toDoubleVector(), vw = w.toDoubleVector();
    const Shape inSpatial(c.x.begin() + 2, c.x.end()), kernel(c.w.begin() + 2, c.w.end());
    const int64_t inSize = shapeElementCount(inSpatial), outSize = shapeElementCount(out), kSize = shapeElementCount(kernel);
    const Shape inStrides = stridesOf(inSpatial), outStrides = stridesOf(out), kStrides = stridesOf(kernel);
    std::vector<double> y(static_cast<size_t>(shapeElementCount(outShape)), 0.0);
    for (int64_t batch = 0; batch < c.x[0]; ++batch)
        for (int64_t ch = 0; ch < c.x[1]; ++ch) {
            const int64_t g = ch / cPerGroup;
            for (int64_t i = 0; i < inSize; ++i)
                for (int64_t m = 0; m < mPerGroup; ++m)
                    for (int64_t k = 0; k < kSize; ++k) {
                        int64_t offset = 0;
                        bool inside = true;
                        for (size_t d = 0; d < n; ++d) {
                            const int64_t id = (i / inStrides[d]) % inSpatial[d], kd = (k / kStrides[d]) % kernel[d];
                            const int64_t pixel = id * at(c.strides, d, 1) - padBegin[d] + kd * at(c.dilations, d, 1);
                            inside = inside && pixel >= 0 && pixel < out[d];
                            offset += pixel * outStrides[d];
                        }
                        if (!inside) continue;
                        y[static_cast<size_t>((batch * outChannels + g * mPerGroup + m) * outSize + offset)] +=
                            vx[static_cast<size_t>((batch * c.x[1] + ch) * inSize + i)] *
                            vw[static_cast<size_t>((ch * mPerGroup + m) * kSize + k)];
                    }
        }
    if (b) {
        const std::vector<double> vb = b->toDoubleVector();
        for (size_t e = 0; e < y.size(); ++e) y[e] += vb[static_cast<size_t>((static_cast<int64_t>(e) / outSize) % outChannels)];
    }
    return y;
}

void checkTranspose(DataType type, const TransposeCase& c, uint32_t seed) {
    Tensor x = randomTensor(type, c.x, -1.0, 1.0, seed);
    Tensor w = randomTensor(type, c.w, -1.0, 1.0, seed + 1);
    Tensor b = randomTensor(type, {c.w[1] * c.group}, -1.0, 1.0, seed + 2);
    AttributeMap attrs;
    if (c.group != 1) attrs.set("group", c.group);
    if (!c.strides.empty()) attrs.set("strides", c.strides);
    if (!c.dilations.empty()) attrs.set("dilations", c.dilations);
    if (!c.pads.empty()) attrs.set("pads", c.pads);
    if (!c.outputPadding.empty()) attrs.set("output_padding", c.outputPadding);
    if (!c.outputShape.empty()) attrs.set("output_shape", c.outputShape);
    if (!c.autoPad.empty()) attrs.set("auto_pad", c.autoPad);
    std::vector<const Tensor*> inputs{&x, &w};
    if (c.bias) inputs.push_back(&b);
    Shape outShape;
    std::vector<double> ref = transposeReference(c, x, w, c.bias ? &b : nullptr, outShape);
    Tensor out = runOne("ConvTranspose", inputs, attrs);
    const int64_t terms = (c.x[1] / c.group) * shapeElementCount(Shape(c.w.begin() + 2, c.w.end()));
    expectClose(out, type, outShape, ref, tolFor(type, terms),
                std::string("ConvTranspose ") + dataTypeName(type) + " x" + shapeToString(c.x, true) + " w" +
                    shapeToString(c.w, true) + " " + c.autoPad);
}

const std::vector<TransposeCase>& transposeCases() {
    static const std::vector<TransposeCase> cases = {
        {{2, 3, 5, 4}, {3, 2, 3, 3}},                                            // plain
        {{1, 4, 5, 7}, {4, 3, 3, 2}, 1, {2, 3}, {}, {1, 0, 1, 1}, {1, 2}},       // stride, pads, output_padding
        {{1, 4, 4, 4}, {4, 2, 3, 3}, 2, {2, 2}, {2, 1}, {1, 1, 1, 1}},           // groups, dilations
        {{2, 6, 5}, {6, 1, 4}, 6, {2}, {}, {1, 2}},                             // 1-D depthwise
        {{1, 2, 3, 4, 3}, {2, 3, 2, 3, 2}, 1, {2, 1, 2}, {1, 2, 1}, {}},         // 3-D
        {{1, 3, 5, 6}, {3, 2, 3, 3}, 1, {2, 2}, {}, {}, {}, {10, 13}},           // output_shape generates pads
        {{1, 3, 5, 6}, {3, 2, 3, 3}, 1, {2, 2}, {}, {}, {}, {}, "SAME_UPPER"},
        {{1, 3, 5, 6}, {3, 2, 4, 3}, 1, {2, 2}, {}, {}, {}, {}, "SAME_LOWER"},
        {{1, 3, 5, 6}, {3, 2, 1, 1}, 1, {3, 3}, {}, {}, {}, {}, "SAME_UPPER"},  // output beyond the result: bias only
        {{2, 8, 4, 4}, {8, 4, 1, 1}, 1, {}, {}, {}, {}, {}, "", false},          // 1x1: no col2im
        {{4, 2, 3, 3}, {2, 2, 2, 2}, 1, {2, 2}},                                 // small items spread over threads
    };
    return cases;
}

TEST(ConvTranspose, FloatCases) {
    uint32_t seed = 11;
    for (const TransposeCase& c : transposeCases()) checkTranspose(DataType::kFLOAT, c, seed += 3);
}

TEST(ConvTranspose, OtherFloatTypes) {
    uint32_t seed = 700;
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF, DataType::kBF16})
        for (size_t i : {1u, 2u, 5u}) checkTranspose(type, transposeCases()[i], seed += 3);
}

TEST(ConvTransposeInference, ShapesAndErrors) {
    const Dim batch = Dim::named("batch"), h = Dim::named("h");
    auto infer = [](SymShape x, SymShape w, const AttributeMap& attrs) {
        return inferredShape(
            inferOne("ConvTranspose", {InputSpec::of(DataType::kFLOAT, x), InputSpec::of(DataType::kFLOAT, w)}, 1, attrs));
    };
    EXPECT_EQ(infer({batch, 8, 7, 7}, {8, 4, 4, 4}, attrsOf({{"strides", Shape{2, 2}}, {"pads", Shape{1, 1, 1, 1}}})),
              "(batch, 4, 14, 14)");
    EXPECT_EQ(infer({batch, 8, h, 7}, {8, 2, 3, 3}, attrsOf({{"group", int64_t{2}}})), "(batch, 4, -1, 9)");
    EXPECT_EQ(infer({1, 8, 7, 7}, {8, 4, 3, 3}, attrsOf({{"output_shape", Shape{15, 16}}, {"strides", Shape{2, 2}}})),
              "(1, 4, 15, 16)");
    EXPECT_EQ(infer({1, 8, 7, 5}, {8, 4, 3, 3},
                    attrsOf({{"auto_pad", std::string("SAME_UPPER")}, {"strides", Shape{2, 3}}})),
              "(1, 4, 14, 15)");
    EXPECT_EQ(infer({1, 8, 7}, {8, 4, 3}, attrsOf({{"strides", Shape{2}}, {"output_padding", Shape{1}}})), "(1, 4, 16)");
    EXPECT_NE(infer({1, 6, 7, 7}, {8, 4, 3, 3}, {}).find("channels"), std::string::npos);
    EXPECT_NE(infer({1, 8, 7, 7}, {8, 4, 3, 3}, attrsOf({{"group", int64_t{3}}})).find("divisible"), std::string::npos);
    EXPECT_NE(infer({1, 8, 7, 7}, {8, 4, 3, 3}, attrsOf({{"output_padding", Shape{1}}})).find("output_padding"),
              std::string::npos);
    EXPECT_NE(infer({1, 8, 2, 2}, {8, 4, 3, 3}, attrsOf({{"pads", Shape{3, 3, 3, 3}}})).find("non-positive"),
              std::string::npos);
}

}  // namespace
}  // namespace kiln::test
