// The CUDA Resize, GridSample and AffineGrid against the CPU backend on random data: every Resize mode
// with every coordinate_transformation_mode and nearest_mode, up- and downscales, antialias,
// exclude_outside, tf_crop_and_resize with a roi and extrapolation_value, sizes with
// keep_aspect_ratio_policy and (negative) axes, 3-D and 5-D inputs, integer and float16 data;
// GridSample in every mode and padding mode, with and without align_corners, in 1-, 2- and 3-D;
// AffineGrid in 2-D and 3-D.

#include <gtest/gtest.h>

#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaResizeTest = CudaTest;

Tensor floats(const std::vector<float>& values) {
    Tensor t = Tensor::allocate(DataType::kFLOAT, {static_cast<int64_t>(values.size())});
    std::copy(values.begin(), values.end(), t.data<float>());
    return t;
}

AttributeMap resizeAttrs(const std::string& mode, const std::string& coordinates, const std::string& nearest = "round_prefer_floor") {
    AttributeMap a;
    a.set("mode", mode);
    a.set("coordinate_transformation_mode", coordinates);
    a.set("nearest_mode", nearest);
    return a;
}

const std::vector<std::string> kCoordinateModes = {"half_pixel",  "half_pixel_symmetric", "pytorch_half_pixel",
                                                   "align_corners", "asymmetric",          "tf_half_pixel_for_nn"};

TEST_F(CudaResizeTest, NearestEveryCoordinateAndRoundingMode) {
    uint32_t seed = 1;
    for (const std::string& coordinates : kCoordinateModes)
        for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})
            for (const std::vector<float>& s : {std::vector<float>{1, 1, 2.5f, 1.75f}, std::vector<float>{1, 1, 0.6f, 0.5f}}) {
                Tensor x = test::randomTensor(DataType::kFLOAT, {2, 3, 5, 7}, -4.0, 4.0, seed++);
                Tensor scales = floats(s);
                expectMatchesCpu(*mBackend, mStream, "Resize", {&x, nullptr, &scales},
                                 resizeAttrs("nearest", coordinates, nearest), 0.0, 0.0,
                                 "nearest " + coordinates + " " + nearest + " " + std::to_string(s[2]));
            }
}

TEST_F(CudaResizeTest, LinearAndCubicEveryCoordinateMode) {
    uint32_t seed = 100;
    for (const char* mode : {"linear", "cubic"})
        for (const std::string& coordinates : kCoordinateModes)
            for (const std::vector<float>& s : {std::vector<float>{1, 1, 1.5f, 2.25f}, std::vector<float>{1, 1, 0.5f, 0.7f}})
                for (int exclude : {0, 1}) {
                    Tensor x = test::randomTensor(DataType::kFLOAT, {1, 2, 6, 5}, -2.0, 2.0, seed++);
                    Tensor scales = floats(s);
                    AttributeMap attrs = resizeAttrs(mode, coordinates);
                    attrs.set("exclude_outside", int64_t{exclude});
                    attrs.set("cubic_coeff_a", -0.5f);
                    expectMatchesCpu(*mBackend, mStream, "Resize", {&x, nullptr, &scales}, attrs, 1e-5, 1e-5,
                                     std::string(mode) + " " + coordinates + " exclude " + std::to_string(exclude) +
                                         " scale " + std::to_string(s[2]));
                }
}

TEST_F(CudaResizeTest, AntialiasedDownscales) {
    uint32_t seed = 200;
    for (const char* mode : {"linear", "cubic"})
        for (const std::vector<float>& s : {std::vector<float>{1, 1, 0.3f, 0.45f}, std::vector<float>{1, 1, 0.8f, 1.6f}}) {
            Tensor x = test::randomTensor(DataType::kFLOAT, {1, 2, 13, 11}, -3.0, 3.0, seed++);
            Tensor scales = floats(s);
            AttributeMap attrs = resizeAttrs(mode, "half_pixel");
            attrs.set("antialias", int64_t{1});
            expectMatchesCpu(*mBackend, mStream, "Resize", {&x, nullptr, &scales}, attrs, 1e-5, 1e-5,
                             std::string("antialias ") + mode + " " + std::to_string(s[2]));
        }
}

TEST_F(CudaResizeTest, CropAndResizeExtrapolates) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {1, 1, 6, 8}, -1.0, 1.0, 7);
    Tensor roi = floats({0, 0, -0.2f, 0.1f, 1, 1, 0.9f, 1.3f});
    Tensor sizes = Tensor::fromInt64({1, 1, 5, 7}, {4});
    for (const char* mode : {"nearest", "linear", "cubic"}) {
        AttributeMap attrs = resizeAttrs(mode, "tf_crop_and_resize");
        attrs.set("extrapolation_value", 2.5f);
        expectMatchesCpu(*mBackend, mStream, "Resize", {&x, &roi, nullptr, &sizes}, attrs, 1e-5, 1e-5,
                         std::string("tf_crop_and_resize ") + mode);
    }
}

TEST_F(CudaResizeTest, SizesWithAxesAndAspectPolicies) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {2, 3, 9, 6}, -1.0, 1.0, 11);
    Tensor sizes = Tensor::fromInt64({4, 10}, {2});
    for (const char* policy : {"stretch", "not_larger", "not_smaller"})
        for (const std::vector<int64_t>& axes : {std::vector<int64_t>{2, 3}, std::vector<int64_t>{-2, -1}}) {
            AttributeMap attrs = resizeAttrs("linear", "half_pixel");
            attrs.set("keep_aspect_ratio_policy", std::string(policy));
            attrs.set("axes", axes);
            expectMatchesCpu(*mBackend, mStream, "Resize", {&x, nullptr, nullptr, &sizes}, attrs, 1e-5, 1e-5,
                             std::string("sizes ") + policy + " axes " + std::to_string(axes[0]));
        }
    // Scales over a subset of axes.
    Tensor scales = floats({1.5f});
    AttributeMap attrs = resizeAttrs("cubic", "asymmetric");
    attrs.set("axes", std::vector<int64_t>{1});
    expectMatchesCpu(*mBackend, mStream, "Resize", {&x, nullptr, &scales}, attrs, 1e-5, 1e-5, "scales on axis 1");
}

TEST_F(CudaResizeTest, OtherRanksAndTypes) {
    Tensor x3 = test::randomTensor(DataType::kFLOAT, {2, 4, 7}, -1.0, 1.0, 21);
    Tensor s3 = floats({1, 1, 1.8f});
    expectMatchesCpu(*mBackend, mStream, "Resize", {&x3, nullptr, &s3}, resizeAttrs("linear", "align_corners"), 1e-5,
                     1e-5, "3-D linear");
    Tensor x5 = test::randomTensor(DataType::kFLOAT, {1, 2, 3, 4, 5}, -1.0, 1.0, 22);
    Tensor s5 = floats({1, 1, 2, 0.5f, 1.4f});
    expectMatchesCpu(*mBackend, mStream, "Resize", {&x5, nullptr, &s5}, resizeAttrs("linear", "half_pixel"), 1e-5,
                     1e-5, "5-D trilinear");
    Tensor x8 = test::randomTensor(DataType::kUINT8, {1, 3, 5, 5}, 0.0, 255.0, 23);
    Tensor s2 = floats({1, 1, 1.6f, 0.8f});
    expectMatchesCpu(*mBackend, mStream, "Resize", {&x8, nullptr, &s2}, resizeAttrs("cubic", "half_pixel"), 0.0, 0.0,
                     "uint8 cubic (rounded, saturated)");
    Tensor xi = test::randomTensor(DataType::kINT32, {1, 1, 4, 6}, -50.0, 50.0, 24);
    expectMatchesCpu(*mBackend, mStream, "Resize", {&xi, nullptr, &s2}, resizeAttrs("linear", "asymmetric"), 0.0, 0.0,
                     "int32 linear");
    Tensor xh = test::randomTensor(DataType::kHALF, {1, 2, 6, 6}, -2.0, 2.0, 25);
    expectMatchesCpu(*mBackend, mStream, "Resize", {&xh, nullptr, &s2}, resizeAttrs("linear", "half_pixel"), 2e-3,
                     2e-3, "float16 linear");
}

// ------------------------------------------------------------------------------------------ GridSample

TEST_F(CudaResizeTest, GridSampleEveryModeAndPadding) {
    uint32_t seed = 300;
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{2, 3, 5, 6}, {2, 4, 7, 2}},        // 2-D
        {{1, 2, 3, 4, 5}, {1, 2, 3, 4, 3}},  // 3-D
        {{2, 2, 7}, {2, 5, 1}},              // 1-D
    };
    for (const auto& [xShape, gridShape] : shapes)
        for (const char* mode : {"nearest", "linear", "cubic"})
            for (const char* padding : {"zeros", "border", "reflection"})
                for (int align : {0, 1}) {
                    if (std::string(mode) == "cubic" && xShape.size() == 5) continue;  // the spec has no tricubic
                    Tensor x = test::randomTensor(DataType::kFLOAT, xShape, -3.0, 3.0, seed++);
                    // Coordinates past [-1, 1] exercise the padding modes.
                    Tensor grid = test::randomTensor(DataType::kFLOAT, gridShape, -1.6, 1.6, seed++);
                    AttributeMap attrs;
                    attrs.set("mode", std::string(mode));
                    attrs.set("padding_mode", std::string(padding));
                    attrs.set("align_corners", int64_t{align});
                    expectMatchesCpu(*mBackend, mStream, "GridSample", {&x, &grid}, attrs, 1e-5, 1e-5,
                                     std::string("GridSample ") + mode + " " + padding + " align " +
                                         std::to_string(align) + " " + shapeLabel(xShape));
                }
}

TEST_F(CudaResizeTest, GridSampleFloat16AndDouble) {
    Tensor xh = test::randomTensor(DataType::kHALF, {1, 2, 4, 5}, -2.0, 2.0, 400);
    Tensor gh = test::randomTensor(DataType::kHALF, {1, 3, 3, 2}, -1.2, 1.2, 401);
    AttributeMap attrs;
    attrs.set("mode", std::string("linear"));
    expectMatchesCpu(*mBackend, mStream, "GridSample", {&xh, &gh}, attrs, 2e-3, 2e-3, "GridSample float16");
    Tensor xd = test::randomTensor(DataType::kDOUBLE, {1, 2, 4, 5}, -2.0, 2.0, 402);
    Tensor gd = test::randomTensor(DataType::kDOUBLE, {1, 3, 3, 2}, -1.2, 1.2, 403);
    attrs.set("mode", std::string("cubic"));
    expectMatchesCpu(*mBackend, mStream, "GridSample", {&xd, &gd}, attrs, 1e-6, 1e-6, "GridSample double");
}

TEST_F(CudaResizeTest, AffineGrid2dAnd3d) {
    uint32_t seed = 500;
    for (int align : {0, 1}) {
        AttributeMap attrs;
        attrs.set("align_corners", int64_t{align});
        Tensor theta2 = test::randomTensor(DataType::kFLOAT, {2, 2, 3}, -1.0, 1.0, seed++);
        Tensor size2 = Tensor::fromInt64({2, 3, 5, 4}, {4});
        expectMatchesCpu(*mBackend, mStream, "AffineGrid", {&theta2, &size2}, attrs, 1e-6, 1e-6,
                         "AffineGrid 2-D align " + std::to_string(align));
        Tensor theta3 = test::randomTensor(DataType::kFLOAT, {2, 3, 4}, -1.0, 1.0, seed++);
        Tensor size3 = Tensor::fromInt64({2, 1, 3, 1, 4}, {5});
        expectMatchesCpu(*mBackend, mStream, "AffineGrid", {&theta3, &size3}, attrs, 1e-6, 1e-6,
                         "AffineGrid 3-D align " + std::to_string(align));
    }
}

}  // namespace
}  // namespace kiln::cudatest
