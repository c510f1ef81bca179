// Image family, geometry part: AffineGrid RoiAlign Col2Im CenterCropPad against references written
// here from the ONNX definitions, on random data.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

TEST(AffineGridOp, TwoAndThreeDimensionalGrids) {
    for (int64_t align : {0, 1}) {
        Tensor theta2 = randomData(DataType::kFLOAT, {2, 2, 3}, 1);
        Tensor size2 = Tensor::fromInt64({2, 3, 4, 5}, {4});
        AttributeMap attrs;
        attrs.set("align_corners", align);
        SingleNodeRun run = runOp("AffineGrid", {&theta2, &size2}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 4, 5, 2}));
        auto base = [&](int64_t i, int64_t n) { return align ? -1.0 + 2.0 * double(i) / double(n - 1) : (2.0 * double(i) + 1) / double(n) - 1; };
        std::vector<double> ref;
        for (int64_t n = 0; n < 2; ++n)
            for (int64_t h = 0; h < 4; ++h)
                for (int64_t w = 0; w < 5; ++w)
                    for (int64_t r = 0; r < 2; ++r) {
                        double x = base(w, 5), y = base(h, 4);
                        ref.push_back(theta2.elementAsDouble((n * 2 + r) * 3) * x + theta2.elementAsDouble((n * 2 + r) * 3 + 1) * y +
                                      theta2.elementAsDouble((n * 2 + r) * 3 + 2));
                    }
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-5), "");

        Tensor theta3 = randomData(DataType::kDOUBLE, {1, 3, 4}, 2);
        Tensor size3 = Tensor::fromInt64({1, 1, 2, 3, 4}, {5});
        SingleNodeRun run3 = runOp("AffineGrid", {&theta3, &size3}, attrs);
        ASSERT_TRUE(run3.status) << run3.status.message();
        ASSERT_EQ(run3.outputs[0].shape(), (Shape{1, 2, 3, 4, 3}));
        std::vector<double> ref3;
        for (int64_t d = 0; d < 2; ++d)
            for (int64_t h = 0; h < 3; ++h)
                for (int64_t w = 0; w < 4; ++w)
                    for (int64_t r = 0; r < 3; ++r) {
                        double p[4] = {base(w, 4), base(h, 3), base(d, 2), 1};
                        double v = 0;
                        for (int64_t c = 0; c < 4; ++c) v += theta3.elementAsDouble(r * 4 + c) * p[c];
                        ref3.push_back(v);
                    }
        EXPECT_EQ(compareWithReference(run3.outputs[0], ref3, 1e-12, 1e-12), "");
    }
}

/// Bilinear sample of plane `plane` at (y, x) with RoiAlign's edge rules.
double roiSample(const Tensor& x, int64_t plane, double y, double xx, double* weights = nullptr) {
    const int64_t H = x.shape()[2], W = x.shape()[3];
    if (y < -1 || y > double(H) || xx < -1 || xx > double(W)) return 0;
    y = std::max(y, 0.0);
    xx = std::max(xx, 0.0);
    int64_t y0 = int64_t(y), x0 = int64_t(xx);
    int64_t y1 = y0 + 1, x1 = x0 + 1;
    if (y0 >= H - 1) y0 = y1 = H - 1, y = double(y0);
    if (x0 >= W - 1) x0 = x1 = W - 1, xx = double(x0);
    double ly = y - double(y0), lx = xx - double(x0);
    auto px = [&](int64_t a, int64_t b) { return x.elementAsDouble(plane * H * W + a * W + b); };
    double terms[4] = {(1 - ly) * (1 - lx) * px(y0, x0), (1 - ly) * lx * px(y0, x1), ly * (1 - lx) * px(y1, x0), ly * lx * px(y1, x1)};
    if (weights) {  // max mode: the largest weighted corner
        *weights = std::max(std::max(terms[0], terms[1]), std::max(terms[2], terms[3]));
        return *weights;
    }
    return terms[0] + terms[1] + terms[2] + terms[3];
}

TEST(RoiAlignOp, AverageAndMaxWithBothCoordinateModes) {
    Tensor x = randomData(DataType::kFLOAT, {2, 3, 10, 9}, 11);
    Tensor rois = Tensor::allocate(DataType::kFLOAT, {3, 4});
    float boxes[12] = {0.5f, 1.0f, 6.5f, 8.0f, 2.0f, 2.5f, 4.0f, 3.0f, -1.0f, 0.0f, 12.0f, 9.5f};
    std::copy(boxes, boxes + 12, rois.data<float>());
    Tensor batch = Tensor::fromInt64({1, 0, 1}, {3});
    for (const char* mode : {"avg", "max"})
        for (const char* coordinates : {"half_pixel", "output_half_pixel"})
            for (int64_t sampling : {0, 2}) {
                AttributeMap attrs;
                attrs.set("mode", std::string(mode));
                attrs.set("coordinate_transformation_mode", std::string(coordinates));
                attrs.set("output_height", int64_t{3});
                attrs.set("output_width", int64_t{2});
                attrs.set("sampling_ratio", sampling);
                attrs.set("spatial_scale", 0.9f);
                SingleNodeRun run = runOp("RoiAlign", {&x, &rois, &batch}, attrs);
                std::string what = std::string(mode) + "/" + coordinates + "/" + std::to_string(sampling);
                ASSERT_TRUE(run.status) << what << ": " << run.status.message();
                ASSERT_EQ(run.outputs[0].shape(), (Shape{3, 3, 3, 2}));
                const bool half = std::string(coordinates) == "half_pixel";
                std::vector<double> ref;
                for (int64_t r = 0; r < 3; ++r)
                    for (int64_t c = 0; c < 3; ++c)
                        for (int64_t ph = 0; ph < 3; ++ph)
                            for (int64_t pw = 0; pw < 2; ++pw) {
                                double off = half ? 0.5 : 0.0, s = double(0.9f);
                                double x1 = boxes[r * 4] * s - off, y1 = boxes[r * 4 + 1] * s - off;
                                double w = boxes[r * 4 + 2] * s - off - x1, h = boxes[r * 4 + 3] * s - off - y1;
                                if (!half) w = std::max(w, 1.0), h = std::max(h, 1.0);
                                int64_t gh = sampling ? sampling : int64_t(std::ceil(h / 3)), gw = sampling ? sampling : int64_t(std::ceil(w / 2));
                                double acc = 0;
                                bool first = true;
                                for (int64_t iy = 0; iy < gh; ++iy)
                                    for (int64_t ix = 0; ix < gw; ++ix) {
                                        double y = y1 + double(ph) * h / 3 + (double(iy) + 0.5) * h / 3 / double(gh);
                                        double xx = x1 + double(pw) * w / 2 + (double(ix) + 0.5) * w / 2 / double(gw);
                                        int64_t plane = batch.data<int64_t>()[r] * 3 + c;
                                        if (std::string(mode) == "avg") {
                                            acc += roiSample(x, plane, y, xx);
                                        } else {
                                            double m = 0;
                                            roiSample(x, plane, y, xx, &m);
                                            acc = first ? m : std::max(acc, m);
                                            first = false;
                                        }
                                    }
                                ref.push_back(std::string(mode) == "avg" ? acc / double(std::max<int64_t>(gh * gw, 1)) : acc);
                            }
                EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-5), "") << what;
            }
}

TEST(Col2ImOp, SumsBlocksWithStridesPadsAndDilations) {
    // 2-D: image 5x6, block 2x3, strides (1, 2), dilations (2, 1), pads (1, 0, 0, 1).
    const int64_t C = 2, H = 5, W = 6, bh = 2, bw = 3;
    const int64_t sh = 1, sw = 2, dh = 2, dw = 1, pt = 1, pl = 0, pb = 0, pr = 1;
    const int64_t oh = (H + pt + pb - (dh * (bh - 1) + 1)) / sh + 1, ow = (W + pl + pr - (dw * (bw - 1) + 1)) / sw + 1;
    Tensor cols = randomData(DataType::kFLOAT, {2, C * bh * bw, oh * ow}, 21);
    Tensor image = Tensor::fromInt64({H, W}, {2});
    Tensor block = Tensor::fromInt64({bh, bw}, {2});
    AttributeMap attrs;
    attrs.set("strides", std::vector<int64_t>{sh, sw});
    attrs.set("dilations", std::vector<int64_t>{dh, dw});
    attrs.set("pads", std::vector<int64_t>{pt, pl, pb, pr});
    SingleNodeRun run = runOp("Col2Im", {&cols, &image, &block}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{2, C, H, W}));
    std::vector<double> ref(static_cast<size_t>(2 * C * H * W), 0.0);
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < bh; ++i)
                for (int64_t j = 0; j < bw; ++j)
                    for (int64_t p = 0; p < oh; ++p)
                        for (int64_t q = 0; q < ow; ++q) {
                            int64_t y = p * sh - pt + i * dh, x = q * sw - pl + j * dw;
                            if (y < 0 || y >= H || x < 0 || x >= W) continue;
                            ref[static_cast<size_t>(((n * C + c) * H + y) * W + x)] +=
                                cols.elementAsDouble((n * C * bh * bw + (c * bh + i) * bw + j) * oh * ow + p * ow + q);
                        }
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-5), "");
}

TEST(CenterCropPadOp, CropsAndPadsAroundTheCenter) {
    Tensor x = randomData(DataType::kINT32, {5, 4, 3}, 31);
    for (const std::vector<int64_t>& target : {std::vector<int64_t>{3, 7}, std::vector<int64_t>{6, 2}, std::vector<int64_t>{5, 4}}) {
        Tensor shape = Tensor::fromInt64(target, {2});
        AttributeMap attrs;
        attrs.set("axes", std::vector<int64_t>{0, -2});
        SingleNodeRun run = runOp("CenterCropPad", {&x, &shape}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        Shape out{target[0], target[1], 3};
        ASSERT_EQ(run.outputs[0].shape(), out);
        std::vector<double> ref;
        for (int64_t i = 0; i < shapeElementCount(out); ++i) {
            std::vector<int64_t> c = unravel(i, out);
            bool inside = true;
            for (size_t a = 0; a < 2; ++a) {
                int64_t in = x.shape()[a], o = out[a];
                c[a] += in > o ? (in - o) / 2 : -((o - in) / 2);
                inside = inside && c[a] >= 0 && c[a] < in;
            }
            ref.push_back(inside ? x.elementAsDouble(ravel(c, x.shape())) : 0.0);
        }
        expectExact(run.outputs[0], ref);
    }
}

}  // namespace
}  // namespace kiln::test
