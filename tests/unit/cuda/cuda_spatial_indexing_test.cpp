// The CUDA DepthToSpace, SpaceToDepth, Tile, CenterCropPad, ReverseSequence, GatherND, OneHot,
// MaxUnpool, Compress, RoiAlign and Col2Im against the CPU backend on random data: both block modes,
// repeats of 1 and 0, crops and pads on the same input, both sequence layouts and length types,
// batch_dims, negative indices and axes, every element size, avg and max RoiAlign in both coordinate
// modes, Col2Im with strides, dilations and pads. Data movement must be exact.

#include <gtest/gtest.h>

#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaSpatialIndexingTest = CudaTest;

const std::vector<DataType> kMoveTypes = {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8};

TEST_F(CudaSpatialIndexingTest, DepthToSpaceAndSpaceToDepth) {
    uint32_t seed = 1;
    for (DataType type : kMoveTypes)
        for (const char* mode : {"DCR", "CRD"}) {
            AttributeMap attrs;
            attrs.set("blocksize", int64_t{2});
            attrs.set("mode", std::string(mode));
            Tensor deep = test::randomTensor(type, {2, 12, 3, 4}, 1.0, 9.0, seed++);
            expectMatchesCpu(*mBackend, mStream, "DepthToSpace", {&deep}, attrs, 0.0, 0.0,
                             std::string("DepthToSpace ") + mode + " " + dataTypeName(type));
            Tensor wide = test::randomTensor(type, {2, 3, 6, 4}, 1.0, 9.0, seed++);
            AttributeMap s2d;
            s2d.set("blocksize", int64_t{2});
            expectMatchesCpu(*mBackend, mStream, "SpaceToDepth", {&wide}, s2d, 0.0, 0.0,
                             std::string("SpaceToDepth ") + dataTypeName(type));
        }
}

TEST_F(CudaSpatialIndexingTest, Tile) {
    uint32_t seed = 10;
    for (DataType type : kMoveTypes)
        for (const std::vector<int64_t>& repeats :
             {std::vector<int64_t>{2, 1, 3}, std::vector<int64_t>{1, 1, 1}, std::vector<int64_t>{3, 2, 0}}) {
            Tensor x = test::randomTensor(type, {2, 3, 4}, 1.0, 9.0, seed++);
            Tensor r = Tensor::fromInt64(repeats, {3});
            expectMatchesCpu(*mBackend, mStream, "Tile", {&x, &r}, {}, 0.0, 0.0,
                             std::string("Tile ") + dataTypeName(type) + " " + std::to_string(repeats[0]) +
                                 std::to_string(repeats[1]) + std::to_string(repeats[2]));
        }
}

TEST_F(CudaSpatialIndexingTest, CenterCropPad) {
    uint32_t seed = 20;
    for (DataType type : kMoveTypes) {
        Tensor x = test::randomTensor(type, {5, 8, 3}, 1.0, 9.0, seed++);
        Tensor shape = Tensor::fromInt64({3, 11, 3}, {3});  // crop, pad, keep
        expectMatchesCpu(*mBackend, mStream, "CenterCropPad", {&x, &shape}, {}, 0.0, 0.0,
                         std::string("CenterCropPad ") + dataTypeName(type));
        Tensor axesShape = Tensor::fromInt64({7, 2}, {2});
        AttributeMap attrs;
        attrs.set("axes", std::vector<int64_t>{-3, 1});
        expectMatchesCpu(*mBackend, mStream, "CenterCropPad", {&x, &axesShape}, attrs, 0.0, 0.0,
                         std::string("CenterCropPad axes ") + dataTypeName(type));
    }
}

TEST_F(CudaSpatialIndexingTest, ReverseSequence) {
    uint32_t seed = 30;
    for (DataType type : kMoveTypes)
        for (int timeAxis : {0, 1})
            for (DataType lensType : {DataType::kINT64, DataType::kINT32}) {
                Tensor x = test::randomTensor(type, timeAxis == 0 ? Shape{5, 4, 3} : Shape{4, 5, 3}, 1.0, 9.0, seed++);
                Tensor lens = convertTensor(Tensor::fromInt64({5, 1, 0, 3}, {4}), lensType);
                AttributeMap attrs;
                attrs.set("time_axis", int64_t{timeAxis});
                attrs.set("batch_axis", int64_t{1 - timeAxis});
                expectMatchesCpu(*mBackend, mStream, "ReverseSequence", {&x, &lens}, attrs, 0.0, 0.0,
                                 std::string("ReverseSequence ") + dataTypeName(type) + " time axis " +
                                     std::to_string(timeAxis));
            }
}

TEST_F(CudaSpatialIndexingTest, GatherNdWithBatchDims) {
    uint32_t seed = 40;
    for (DataType type : kMoveTypes) {
        Tensor data = test::randomTensor(type, {3, 4, 5}, 1.0, 9.0, seed++);
        Tensor pairs = Tensor::fromInt64({0, 1, 2, -1, -3, 3, 1, 0}, {2, 2, 2});
        expectMatchesCpu(*mBackend, mStream, "GatherND", {&data, &pairs}, {}, 0.0, 0.0,
                         std::string("GatherND pairs ") + dataTypeName(type));
        Tensor singles = Tensor::fromInt64({2, 0, -1}, {3, 1});
        expectMatchesCpu(*mBackend, mStream, "GatherND", {&data, &singles}, {}, 0.0, 0.0,
                         std::string("GatherND rows ") + dataTypeName(type));
        Tensor batched = Tensor::fromInt64({1, 4, 3, 0, 0, -2}, {3, 1, 2});
        AttributeMap attrs;
        attrs.set("batch_dims", int64_t{1});
        expectMatchesCpu(*mBackend, mStream, "GatherND", {&data, &batched}, attrs, 0.0, 0.0,
                         std::string("GatherND batch_dims 1 ") + dataTypeName(type));
    }
}

TEST_F(CudaSpatialIndexingTest, OneHot) {
    for (DataType indexType : {DataType::kINT64, DataType::kINT32, DataType::kFLOAT})
        for (DataType valueType : kMoveTypes)
            for (int64_t axis : {-1, 0, 1}) {
                Tensor indices = convertTensor(Tensor::fromInt64({0, 3, -1, 7, 2, -5}, {2, 3}), indexType);
                Tensor depth = Tensor::fromInt64({5}, {1});
                Tensor values = convertTensor(Tensor::fromInt64({2, 7}, {2}), valueType);
                AttributeMap attrs;
                attrs.set("axis", axis);
                expectMatchesCpu(*mBackend, mStream, "OneHot", {&indices, &depth, &values}, attrs, 0.0, 0.0,
                                 std::string("OneHot ") + dataTypeName(indexType) + " -> " + dataTypeName(valueType) +
                                     " axis " + std::to_string(axis));
            }
}

TEST_F(CudaSpatialIndexingTest, MaxUnpool) {
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        Tensor x = test::randomTensor(type, {1, 2, 2, 2}, 1.0, 9.0, 50);
        // Distinct flat positions in the 1 x 2 x 4 x 4 unpooled tensor.
        Tensor indices = Tensor::fromInt64({0, 3, 9, 14, 16, 18, 28, 31}, {1, 2, 2, 2});
        AttributeMap attrs;
        attrs.set("kernel_shape", std::vector<int64_t>{2, 2});
        attrs.set("strides", std::vector<int64_t>{2, 2});
        expectMatchesCpu(*mBackend, mStream, "MaxUnpool", {&x, &indices}, attrs, 0.0, 0.0,
                         std::string("MaxUnpool ") + dataTypeName(type));
        Tensor outputShape = Tensor::fromInt64({1, 2, 5, 6}, {4});
        expectMatchesCpu(*mBackend, mStream, "MaxUnpool", {&x, &indices, &outputShape}, attrs, 0.0, 0.0,
                         std::string("MaxUnpool into a larger output ") + dataTypeName(type));
    }
}

TEST_F(CudaSpatialIndexingTest, Compress) {
    uint32_t seed = 60;
    Tensor condition = convertTensor(Tensor::fromInt64({1, 0, 1, 1}, {4}), DataType::kBOOL);
    Tensor none = convertTensor(Tensor::fromInt64({0, 0, 0}, {3}), DataType::kBOOL);
    for (DataType type : kMoveTypes) {
        Tensor x = test::randomTensor(type, {3, 5, 2}, 1.0, 9.0, seed++);
        for (int64_t axis : {0, 1, -1}) {
            AttributeMap attrs;
            attrs.set("axis", axis);
            // A condition shorter than the axis drops the slices past its end; on axis 2 it is longer.
            const Tensor& c = axis == -1 ? none : condition;
            expectMatchesCpu(*mBackend, mStream, "Compress", {&x, &c}, attrs, 0.0, 0.0,
                             std::string("Compress ") + dataTypeName(type) + " axis " + std::to_string(axis));
        }
        expectMatchesCpu(*mBackend, mStream, "Compress", {&x, &condition}, {}, 0.0, 0.0,
                         std::string("Compress flattened ") + dataTypeName(type));
    }
}

TEST_F(CudaSpatialIndexingTest, RoiAlign) {
    uint32_t seed = 70;
    Tensor rois = Tensor::allocate(DataType::kFLOAT, {3, 4});
    const float boxes[12] = {0.5f, 1.0f, 6.5f, 5.0f, 2.0f, 0.0f, 3.0f, 7.9f, -1.0f, -2.0f, 9.0f, 3.0f};
    std::copy(boxes, boxes + 12, rois.data<float>());
    for (const char* mode : {"avg", "max"})
        for (const char* coordinates : {"half_pixel", "output_half_pixel"})
            for (int64_t ratio : {0, 2}) {
                Tensor x = test::randomTensor(DataType::kFLOAT, {2, 3, 8, 9}, -2.0, 2.0, seed++);
                Tensor batch = Tensor::fromInt64({1, 0, 1}, {3});
                AttributeMap attrs;
                attrs.set("mode", std::string(mode));
                attrs.set("coordinate_transformation_mode", std::string(coordinates));
                attrs.set("output_height", int64_t{3});
                attrs.set("output_width", int64_t{2});
                attrs.set("sampling_ratio", ratio);
                attrs.set("spatial_scale", 0.75f);
                expectMatchesCpu(*mBackend, mStream, "RoiAlign", {&x, &rois, &batch}, attrs, 1e-5, 1e-5,
                                 std::string("RoiAlign ") + mode + " " + coordinates + " ratio " + std::to_string(ratio));
            }
}

TEST_F(CudaSpatialIndexingTest, Col2Im) {
    struct Case {
        std::vector<int64_t> image, block, strides, dilations, pads;
    };
    const std::vector<Case> cases = {
        {{5, 5}, {2, 2}, {1, 1}, {1, 1}, {0, 0, 0, 0}},
        {{6, 7}, {3, 2}, {2, 1}, {1, 2}, {1, 0, 1, 1}},
        {{4, 3, 5}, {2, 1, 2}, {1, 2, 1}, {1, 1, 2}, {0, 1, 0, 1, 0, 1}},
    };
    uint32_t seed = 80;
    for (const Case& c : cases) {
        const size_t n = c.image.size();
        int64_t blockCount = 1, windows = 1;
        for (size_t d = 0; d < n; ++d) {
            blockCount *= c.block[d];
            windows *= (c.image[d] + c.pads[d] + c.pads[n + d] - (c.dilations[d] * (c.block[d] - 1) + 1)) / c.strides[d] + 1;
        }
        Tensor x = test::randomTensor(DataType::kFLOAT, {2, 3 * blockCount, windows}, -1.0, 1.0, seed++);
        Tensor image = Tensor::fromInt64(c.image, {static_cast<int64_t>(n)});
        Tensor block = Tensor::fromInt64(c.block, {static_cast<int64_t>(n)});
        AttributeMap attrs;
        attrs.set("strides", c.strides);
        attrs.set("dilations", c.dilations);
        attrs.set("pads", c.pads);
        expectMatchesCpu(*mBackend, mStream, "Col2Im", {&x, &image, &block}, attrs, 1e-6, 1e-6,
                         "Col2Im " + std::to_string(n) + "-D image " + std::to_string(c.image[0]));
    }
}

}  // namespace
}  // namespace kiln::cudatest
