// DeformConv against a double-precision reference written from its definition (Dai et al. 2017,
// Zhu et al. 2019; ONNX's reference samples with GridSample, linear, align_corners = 1, zeros
// padding): output (n, oc, o) = bias[oc] + sum over the group's input channels c and kernel taps k
// of W[oc, c, k] * mask[n, g, k, o] * X[n, c] at o * stride - pad_begin + k * dilation +
// offset[n, g, k, :, o], sampled multilinearly with every corner outside X reading zero; g is the
// offset group of channel c. Random data, 1 to 3 spatial axes, groups, offset groups, mask,
// bias, strides, dilations and pads.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

struct DeformCase {
    Shape x;  // N, C, spatial...
    int64_t outChannels;
    Shape kernel;
    std::vector<int64_t> strides, dilations, pads;
    int64_t group{1}, offsetGroup{1};
    bool bias{false}, mask{false};
};

/// X's channel plane at a fractional position: each of the 2^n corners weighs by its distance.
double sampleAt(const Tensor& x, int64_t plane, const Shape& extent, const std::vector<double>& at) {
    const size_t n = extent.size();
    double value = 0;
    for (uint32_t corner = 0; corner < (1u << n); ++corner) {
        double weight = 1;
        std::vector<int64_t> index(n);
        bool inside = true;
        for (size_t d = 0; d < n; ++d) {
            const double low = std::floor(at[d]);
            const bool high = (corner >> d) & 1u;
            index[d] = static_cast<int64_t>(low) + (high ? 1 : 0);
            weight *= high ? at[d] - low : 1 - (at[d] - low);
            inside = inside && index[d] >= 0 && index[d] < extent[d];
        }
        if (inside) value += weight * x.elementAsDouble(plane * shapeElementCount(extent) + ravel(index, extent));
    }
    return value;
}

std::vector<double> reference(const DeformCase& c, const Tensor& x, const Tensor& w, const Tensor& offset,
                              const Tensor* b, const Tensor* mask, const Shape& outSpatial) {
    const size_t n = c.kernel.size();
    const Shape extent(c.x.begin() + 2, c.x.end());
    const int64_t channels = c.x[1], perGroup = channels / c.group, outPerGroup = c.outChannels / c.group;
    const int64_t taps = shapeElementCount(c.kernel), positions = shapeElementCount(outSpatial);
    std::vector<double> out;
    for (int64_t batch = 0; batch < c.x[0]; ++batch)
        for (int64_t oc = 0; oc < c.outChannels; ++oc)
            for (int64_t p = 0; p < positions; ++p) {
                const std::vector<int64_t> o = unravel(p, outSpatial);
                double sum = b ? b->elementAsDouble(oc) : 0;
                const int64_t g = oc / outPerGroup;
                for (int64_t cl = 0; cl < perGroup; ++cl) {
                    const int64_t ch = g * perGroup + cl;
                    const int64_t og = ch / (channels / c.offsetGroup);
                    for (int64_t k = 0; k < taps; ++k) {
                        const std::vector<int64_t> kk = unravel(k, c.kernel);
                        std::vector<double> at(n);
                        for (size_t d = 0; d < n; ++d) {
                            const int64_t offsetChannel =
                                ((og * taps + k) * static_cast<int64_t>(n)) + static_cast<int64_t>(d);
                            at[d] = double(o[d] * c.strides[d] - c.pads[d] + kk[d] * c.dilations[d]) +
                                    offset.elementAsDouble((batch * offset.shape()[1] + offsetChannel) * positions + p);
                        }
                        double m =
                            mask ? mask->elementAsDouble((batch * mask->shape()[1] + og * taps + k) * positions + p)
                                 : 1;
                        sum += w.elementAsDouble((oc * perGroup + cl) * taps + k) * m *
                               sampleAt(x, batch * channels + ch, extent, at);
                    }
                }
                out.push_back(sum);
            }
    return out;
}

void runCase(const DeformCase& c, DataType type, uint32_t seed, double tolerance) {
    const size_t n = c.kernel.size();
    Shape outSpatial;
    for (size_t d = 0; d < n; ++d) {
        const int64_t span = (c.kernel[d] - 1) * c.dilations[d] + 1;
        outSpatial.push_back((c.x[2 + d] + c.pads[d] + c.pads[n + d] - span) / c.strides[d] + 1);
    }
    const int64_t taps = shapeElementCount(c.kernel);
    Shape wShape{c.outChannels, c.x[1] / c.group};
    wShape.insert(wShape.end(), c.kernel.begin(), c.kernel.end());
    Shape offsetShape{c.x[0], c.offsetGroup * taps * static_cast<int64_t>(n)};
    offsetShape.insert(offsetShape.end(), outSpatial.begin(), outSpatial.end());
    Shape maskShape = offsetShape;
    maskShape[1] = c.offsetGroup * taps;
    Tensor x = randomTensor(type, c.x, -2, 2, seed);
    Tensor w = randomTensor(type, wShape, -1, 1, seed + 1);
    // Offsets up to 2.5 pixels reach past the borders, where corners read zero.
    Tensor offset = randomTensor(type, offsetShape, -2.5, 2.5, seed + 2);
    Tensor bias = randomTensor(type, {c.outChannels}, -1, 1, seed + 3);
    Tensor mask = randomTensor(type, maskShape, 0, 1, seed + 4);
    AttributeMap attrs;
    attrs.set("strides", c.strides);
    attrs.set("dilations", c.dilations);
    attrs.set("pads", c.pads);
    attrs.set("group", c.group);
    attrs.set("offset_group", c.offsetGroup);
    if (seed % 2) attrs.set("kernel_shape", std::vector<int64_t>(c.kernel.begin(), c.kernel.end()));
    std::vector<const Tensor*> inputs = {&x, &w, &offset, c.bias ? &bias : nullptr, c.mask ? &mask : nullptr};
    while (!inputs.back()) inputs.pop_back();
    SingleNodeRun run = runOp("DeformConv", inputs, attrs);
    const std::string what = shapeToString(c.x, true) + " " + dataTypeName(type);
    ASSERT_TRUE(run.status) << what << ": " << run.status.message();
    Shape y{c.x[0], c.outChannels};
    y.insert(y.end(), outSpatial.begin(), outSpatial.end());
    ASSERT_EQ(run.outputs[0].shape(), y) << what;
    EXPECT_EQ(run.outputs[0].dtype(), type);
    std::vector<double> ref =
        reference(c, x, w, offset, c.bias ? &bias : nullptr, c.mask ? &mask : nullptr, outSpatial);
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, tolerance, tolerance), "") << what;
}

const std::vector<DeformCase> kCases = {
    {{1, 1, 3, 3}, 1, {2, 2}, {1, 1}, {1, 1}, {0, 0, 0, 0}},
    {{2, 4, 5, 6}, 6, {3, 3}, {1, 2}, {1, 1}, {1, 1, 1, 0}, 2, 2, true, true},
    {{1, 4, 6, 5}, 2, {2, 3}, {2, 1}, {2, 1}, {0, 1, 1, 1}, 1, 4, true, false},
    {{2, 3, 9}, 3, {3}, {2}, {2}, {1, 2}, 3, 1, false, true},
    {{1, 2, 3, 4, 4}, 2, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {0, 1, 0, 1, 0, 1}, 1, 2, true, true},
};

TEST(DeformConvOp, MatchesTheDefinitionFloatAndDouble) {
    uint32_t seed = 30;
    for (const DeformCase& c : kCases) {
        runCase(c, DataType::kFLOAT, seed++, 1e-4);
        runCase(c, DataType::kDOUBLE, seed++, 1e-10);
    }
}

TEST(DeformConvOp, HalfAndBFloat16ComputeThroughFloat) {
    runCase(kCases[1], DataType::kHALF, 50, 2e-2);
    runCase(kCases[2], DataType::kBF16, 51, 1e-1);
}

TEST(DeformConvOp, ZeroOffsetsAndNoMaskAreAConvolution) {
    // With zero offsets every tap samples a grid point: the result is Conv's, computed here directly.
    const DeformCase c{{1, 2, 4, 5}, 3, {3, 2}, {1, 2}, {1, 1}, {1, 0, 1, 1}};
    Tensor x = randomTensor(DataType::kDOUBLE, c.x, -2, 2, 60);
    Tensor w = randomTensor(DataType::kDOUBLE, {3, 2, 3, 2}, -1, 1, 61);
    const Shape outSpatial{4, 3};
    Tensor offset = Tensor::allocate(DataType::kDOUBLE, {1, 12, 4, 3});
    std::fill(offset.data<double>(), offset.data<double>() + offset.elementCount(), 0.0);
    AttributeMap attrs;
    attrs.set("strides", c.strides);
    attrs.set("pads", c.pads);
    SingleNodeRun run = runOp("DeformConv", {&x, &w, &offset}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    std::vector<double> ref;
    for (int64_t oc = 0; oc < 3; ++oc)
        for (int64_t i = 0; i < 4; ++i)
            for (int64_t j = 0; j < 3; ++j) {
                double sum = 0;
                for (int64_t ch = 0; ch < 2; ++ch)
                    for (int64_t ki = 0; ki < 3; ++ki)
                        for (int64_t kj = 0; kj < 2; ++kj) {
                            const int64_t h = i - 1 + ki, v = j * 2 + kj;
                            if (h < 0 || h >= 4 || v < 0 || v >= 5) continue;
                            sum += w.elementAsDouble(((oc * 2 + ch) * 3 + ki) * 2 + kj) *
                                   x.elementAsDouble((ch * 4 + h) * 5 + v);
                        }
                ref.push_back(sum);
            }
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-12, 1e-12), "");
}

TEST(DeformConvOp, InconsistentShapesAreRefused) {
    AttributeMap attrs;
    attrs.set("offset_group", int64_t{3});
    InferResult groups = inferOp("DeformConv",
                                 {symbolic(DataType::kFLOAT, {1, 4, 5, 5}), symbolic(DataType::kFLOAT, {2, 4, 3, 3}),
                                  symbolic(DataType::kFLOAT, {1, 54, 3, 3})},
                                 attrs);
    EXPECT_FALSE(groups.status);
    EXPECT_NE(groups.status.message().find("offset_group"), std::string::npos) << groups.status.message();
    InferResult offset =
        inferOp("DeformConv", {symbolic(DataType::kFLOAT, {1, 4, 5, 5}), symbolic(DataType::kFLOAT, {2, 4, 3, 3}),
                               symbolic(DataType::kFLOAT, {1, 17, 3, 3})});
    EXPECT_FALSE(offset.status);
    EXPECT_NE(offset.status.message().find("offset has shape"), std::string::npos) << offset.status.message();
    InferResult mask =
        inferOp("DeformConv",
                {symbolic(DataType::kFLOAT, {1, 4, 5, 5}), symbolic(DataType::kFLOAT, {2, 4, 3, 3}),
                 symbolic(DataType::kFLOAT, {1, 18, 3, 3}), std::nullopt, symbolic(DataType::kFLOAT, {1, 9, 2, 3})});
    EXPECT_FALSE(mask.status);
    EXPECT_NE(mask.status.message().find("mask has shape"), std::string::npos) << mask.status.message();
}

}  // namespace
}  // namespace kiln::test
