// Resize against a reference written from the ONNX definition: for each output coordinate, the
// source coordinate of the coordinate_transformation_mode, then the interpolation over the input
// (nearest rounding, linear and Keys cubic with edge clamping, exclude_outside renormalization,
// antialias as the filter stretched by 1/scale), applied axis by axis in double precision.

#include <cmath>
#include <utility>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

struct Mode {
    std::string mode = "nearest";
    std::string coordinates = "half_pixel";
    std::string nearest = "round_prefer_floor";
    double cubicA = -0.75;
    bool excludeOutside = false;
    bool antialias = false;
};

double sourceOf(const Mode& m, double y, double scale, int64_t in, int64_t out, double roiStart, double roiEnd, bool* outside) {
    double outF = scale * static_cast<double>(in);
    if (m.coordinates == "half_pixel") return (y + 0.5) / scale - 0.5;
    if (m.coordinates == "pytorch_half_pixel") return outF > 1 ? (y + 0.5) / scale - 0.5 : -0.5;
    if (m.coordinates == "align_corners") return outF == 1 ? 0 : y * double(in - 1) / (outF - 1);
    if (m.coordinates == "asymmetric") return y / scale;
    if (m.coordinates == "half_pixel_symmetric") {
        double adjustment = double(out) / outF;
        return double(in) / 2 * (1 - adjustment) + (y + 0.5) / scale - 0.5;
    }
    // tf_crop_and_resize
    double x = outF > 1 ? roiStart * double(in - 1) + y * (roiEnd - roiStart) * double(in - 1) / (outF - 1)
                        : 0.5 * (roiStart + roiEnd) * double(in - 1);
    *outside = x < 0 || x > double(in - 1);
    return x;
}

/// Filter weight of a tap at signed distance d from the source coordinate.
double filter(const Mode& m, double d, double scale) {
    double s = m.antialias ? std::min(scale, 1.0) : 1.0;
    d = std::abs(d * s);
    if (m.mode == "linear") return std::max(0.0, 1 - d);
    double a = m.cubicA;
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0;
}

/// 1-D resize of `line` to `out` samples.
std::vector<double> resizeLine(const Mode& m, const std::vector<double>& line, double scale, int64_t out, double roiStart = 0,
                               double roiEnd = 1, double extrapolation = 0) {
    const int64_t in = static_cast<int64_t>(line.size());
    auto clamped = [&](int64_t i) { return line[static_cast<size_t>(std::clamp<int64_t>(i, 0, in - 1))]; };
    std::vector<double> result;
    for (int64_t y = 0; y < out; ++y) {
        bool outside = false;
        double x = sourceOf(m, double(y), scale, in, out, roiStart, roiEnd, &outside);
        if (outside) {
            result.push_back(extrapolation);
            continue;
        }
        if (m.mode == "nearest") {
            double f = std::floor(x), frac = x - f;
            int64_t i = static_cast<int64_t>(f);
            if (m.nearest == "round_prefer_floor") i += frac > 0.5 ? 1 : 0;
            else if (m.nearest == "round_prefer_ceil") i += frac >= 0.5 ? 1 : 0;
            else if (m.nearest == "ceil") i += frac > 0 ? 1 : 0;
            result.push_back(clamped(i));
            continue;
        }
        // Every tap whose filter weight can be non-zero.
        double support = (m.mode == "linear" ? 1.0 : 2.0) / (m.antialias ? std::min(scale, 1.0) : 1.0);
        double sum = 0, weightSum = 0;
        for (int64_t i = static_cast<int64_t>(std::floor(x - support)); i <= static_cast<int64_t>(std::ceil(x + support)); ++i) {
            double w = filter(m, double(i) - x, scale);
            if (std::abs(double(i) - x) * (m.antialias ? std::min(scale, 1.0) : 1.0) >= (m.mode == "linear" ? 1.0 : 2.0)) w = 0;
            if (m.excludeOutside && (i < 0 || i >= in)) w = 0;
            sum += w * clamped(i);
            weightSum += w;
        }
        // Linear and cubic weights sum to 1 by construction; exclude_outside and antialias renormalize.
        result.push_back(m.excludeOutside || m.antialias ? sum / weightSum : sum);
    }
    return result;
}

/// 2-D reference over the last two axes of an (N, C, H, W) tensor.
std::vector<double> resize2d(const Mode& m, const Tensor& x, double sh, double sw, int64_t oh, int64_t ow) {
    const Shape& s = x.shape();
    std::vector<double> out;
    for (int64_t nc = 0; nc < s[0] * s[1]; ++nc) {
        // Along H first (columns), then W (rows): the order ONNX's reference uses.
        std::vector<std::vector<double>> columns;
        for (int64_t w = 0; w < s[3]; ++w) {
            std::vector<double> col;
            for (int64_t h = 0; h < s[2]; ++h) col.push_back(x.elementAsDouble((nc * s[2] + h) * s[3] + w));
            if (sh == 1.0 && oh == s[2])
                columns.push_back(std::move(col));
            else
                columns.push_back(resizeLine(m, col, sh, oh));
        }
        for (int64_t h = 0; h < oh; ++h) {
            std::vector<double> row;
            for (int64_t w = 0; w < s[3]; ++w) row.push_back(columns[static_cast<size_t>(w)][static_cast<size_t>(h)]);
            if (sw != 1.0 || ow != s[3]) row = resizeLine(m, row, sw, ow);
            out.insert(out.end(), row.begin(), row.end());
        }
    }
    return out;
}

AttributeMap attrsOf(const Mode& m) {
    AttributeMap a;
    a.set("mode", m.mode);
    a.set("coordinate_transformation_mode", m.coordinates);
    a.set("nearest_mode", m.nearest);
    a.set("cubic_coeff_a", static_cast<float>(m.cubicA));
    a.set("exclude_outside", int64_t{m.excludeOutside});
    a.set("antialias", int64_t{m.antialias});
    return a;
}

void checkScales(const Mode& m, const Shape& shape, float sh, float sw, DataType type = DataType::kFLOAT) {
    Tensor x = type == DataType::kFLOAT ? randomData(type, shape, 51) : randomTensor(type, shape, 0, 255, 51);
    Tensor scales = Tensor::allocate(DataType::kFLOAT, {4});
    float values[4] = {1, 1, sh, sw};
    std::copy(values, values + 4, scales.data<float>());
    SingleNodeRun run = runOp("Resize", {&x, nullptr, &scales}, attrsOf(m));
    std::string what = m.mode + "/" + m.coordinates + "/" + m.nearest + " scales " + std::to_string(sh) + "x" + std::to_string(sw);
    ASSERT_TRUE(run.status) << what << ": " << run.status.message();
    int64_t oh = static_cast<int64_t>(double(sh) * double(shape[2])), ow = static_cast<int64_t>(double(sw) * double(shape[3]));
    ASSERT_EQ(run.outputs[0].shape(), (Shape{shape[0], shape[1], oh, ow})) << what;
    std::vector<double> ref = resize2d(m, x, sh, sw, oh, ow);
    if (type != DataType::kFLOAT)
        for (double& v : ref) v = std::clamp(std::nearbyint(v), 0.0, 255.0);
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-4), "") << what;
}

TEST(ResizeOp, NearestEveryRoundingAndCoordinateMode) {
    for (const char* coordinates : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"})
        for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
            Mode m;
            m.coordinates = coordinates;
            m.nearest = nearest;
            checkScales(m, {1, 2, 4, 5}, 2.0f, 1.5f);
            checkScales(m, {1, 2, 7, 6}, 0.6f, 0.5f);
        }
}

TEST(ResizeOp, LinearAndCubicUpAndDown) {
    for (const char* mode : {"linear", "cubic"})
        for (const char* coordinates : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"})
            for (bool exclude : {false, true}) {
                Mode m;
                m.mode = mode;
                m.coordinates = coordinates;
                m.excludeOutside = exclude;
                checkScales(m, {2, 1, 4, 4}, 2.0f, 1.75f);
                checkScales(m, {1, 1, 8, 7}, 0.5f, 0.8f);
            }
    Mode sharper;
    sharper.mode = "cubic";
    sharper.cubicA = -0.5;
    checkScales(sharper, {1, 1, 5, 5}, 1.6f, 2.2f);
}

TEST(ResizeOp, AntialiasedDownscale) {
    for (const char* mode : {"linear", "cubic"}) {
        Mode m;
        m.mode = mode;
        m.antialias = true;
        checkScales(m, {1, 2, 12, 10}, 0.5f, 0.3f);
        checkScales(m, {1, 1, 4, 4}, 1.5f, 0.75f);  // upscaling an axis: no stretch there
    }
}

TEST(ResizeOp, IntegerDataRoundsAndSaturates) {
    Mode m;
    m.mode = "cubic";  // overshoots, so saturation matters
    checkScales(m, {1, 1, 5, 6}, 2.0f, 2.0f, DataType::kUINT8);
}

TEST(ResizeOp, SizesWithAxesAndAspectPolicies) {
    Tensor x = randomData(DataType::kFLOAT, {1, 2, 6, 8}, 61);
    Mode m;
    m.mode = "linear";
    for (const char* policy : {"stretch", "not_larger", "not_smaller"}) {
        Tensor sizes = Tensor::fromInt64({9, 10}, {2});
        AttributeMap attrs = attrsOf(m);
        attrs.set("axes", std::vector<int64_t>{-2, 3});
        attrs.set("keep_aspect_ratio_policy", std::string(policy));
        SingleNodeRun run = runOp("Resize", {&x, nullptr, nullptr, &sizes}, attrs);
        ASSERT_TRUE(run.status) << policy << ": " << run.status.message();
        double sh = 9.0 / 6, sw = 10.0 / 8;
        if (std::string(policy) != "stretch") sh = sw = std::string(policy) == "not_larger" ? std::min(sh, sw) : std::max(sh, sw);
        int64_t oh = std::string(policy) == "stretch" ? 9 : static_cast<int64_t>(sh * 6 + 0.5);
        int64_t ow = std::string(policy) == "stretch" ? 10 : static_cast<int64_t>(sw * 8 + 0.5);
        ASSERT_EQ(run.outputs[0].shape(), (Shape{1, 2, oh, ow})) << policy;
        EXPECT_EQ(compareWithReference(run.outputs[0], resize2d(m, x, sh, sw, oh, ow), 1e-5, 1e-5), "") << policy;
    }
}

TEST(ResizeOp, CropAndResizeExtrapolates) {
    Tensor x = randomData(DataType::kFLOAT, {1, 1, 5, 5}, 71);
    Tensor roi = Tensor::allocate(DataType::kFLOAT, {8});
    float r[8] = {0, 0, -0.2f, 0.3f, 1, 1, 0.8f, 1.4f};
    std::copy(r, r + 8, roi.data<float>());
    Tensor sizes = Tensor::fromInt64({1, 1, 4, 3}, {4});
    Mode m;
    m.mode = "linear";
    m.coordinates = "tf_crop_and_resize";
    AttributeMap attrs = attrsOf(m);
    attrs.set("extrapolation_value", 7.5f);
    SingleNodeRun run = runOp("Resize", {&x, &roi, nullptr, &sizes}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    // Separable with the roi per axis; a coordinate outside on either axis gives the extrapolation value.
    std::vector<double> ref;
    for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 3; ++w) {
            bool outH = false, outW = false;
            double yh = sourceOf(m, double(h), 4.0 / 5, 5, 4, -0.2, 0.8, &outH);
            double yw = sourceOf(m, double(w), 3.0 / 5, 5, 3, 0.3, 1.4, &outW);
            if (outH || outW) {
                ref.push_back(7.5);
                continue;
            }
            double fh = std::floor(yh), fw = std::floor(yw), th = yh - fh, tw = yw - fw;
            auto px = [&](double i, double j) {
                return x.elementAsDouble(std::clamp<int64_t>(int64_t(i), 0, 4) * 5 + std::clamp<int64_t>(int64_t(j), 0, 4));
            };
            ref.push_back((1 - th) * ((1 - tw) * px(fh, fw) + tw * px(fh, fw + 1)) + th * ((1 - tw) * px(fh + 1, fw) + tw * px(fh + 1, fw + 1)));
        }
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-5), "");
}

TEST(ResizeOp, ScalesAndSizesTogetherAreAnError) {
    Tensor x = randomData(DataType::kFLOAT, {1, 1, 2, 2}, 1);
    Tensor scales = Tensor::allocate(DataType::kFLOAT, {4});
    Tensor sizes = Tensor::fromInt64({1, 1, 4, 4}, {4});
    SingleNodeRun run = runOp("Resize", {&x, nullptr, &scales, &sizes});
    ASSERT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("exactly one"), std::string::npos) << run.status.message();
}

}  // namespace
}  // namespace kiln::test
