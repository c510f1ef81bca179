// MaxUnpool against a reference written from the ONNX definition: zeros of the unpooled shape
// ((in - 1) * stride - pads + kernel per spatial axis), X written at its flat indices, then that
// tensor in the leading corner of output_shape when one is given.

#include <numeric>
#include <random>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

/// Distinct random flat indices into a tensor of `total` elements, one per X element.
Tensor randomIndices(const Shape& shape, int64_t total, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int64_t> all(static_cast<size_t>(total));
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(static_cast<size_t>(shapeElementCount(shape)));
    return int64Tensor(all, shape);
}

std::vector<double> reference(const Tensor& x, const Tensor& indices, const Shape& unpooled, const Shape& out) {
    std::vector<double> flat(static_cast<size_t>(shapeElementCount(unpooled)), 0.0);
    for (int64_t i = 0; i < x.elementCount(); ++i)
        flat[static_cast<size_t>(indices.elementAsDouble(i))] = x.elementAsDouble(i);
    std::vector<double> result(static_cast<size_t>(shapeElementCount(out)), 0.0);
    for (int64_t i = 0; i < static_cast<int64_t>(flat.size()); ++i)
        result[static_cast<size_t>(ravel(unravel(i, unpooled), out))] = flat[static_cast<size_t>(i)];
    return result;
}

AttributeMap unpoolAttrs(std::vector<int64_t> kernel, std::vector<int64_t> strides, std::vector<int64_t> pads) {
    AttributeMap a;
    a.set("kernel_shape", kernel);
    if (!strides.empty()) a.set("strides", strides);
    if (!pads.empty()) a.set("pads", pads);
    return a;
}

TEST(MaxUnpoolOp, ScattersIntoTheUnpooledShape) {
    struct Case {
        Shape x;
        std::vector<int64_t> kernel, strides, pads;
        Shape unpooled;
    };
    const std::vector<Case> cases = {
        {{1, 1, 2, 2}, {2, 2}, {2, 2}, {}, {1, 1, 4, 4}},
        {{2, 3, 3, 4}, {3, 2}, {2, 1}, {1, 0, 1, 1}, {2, 3, 5, 4}},
        {{2, 2, 5}, {3}, {}, {}, {2, 2, 7}},  // strides default to 1
        {{1, 2, 2, 2, 3}, {2, 2, 2}, {2, 2, 2}, {0, 0, 1, 0, 0, 1}, {1, 2, 4, 4, 4}},
    };
    uint32_t seed = 1;
    for (const Case& c : cases) {
        for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}) {
            Tensor x = randomTensor(type, c.x, -4, 4, seed);
            Tensor indices = randomIndices(c.x, shapeElementCount(c.unpooled), seed++);
            SingleNodeRun run = runOp("MaxUnpool", {&x, &indices}, unpoolAttrs(c.kernel, c.strides, c.pads));
            const std::string what = shapeToString(c.x, true) + " " + dataTypeName(type);
            ASSERT_TRUE(run.status) << what << ": " << run.status.message();
            ASSERT_EQ(run.outputs[0].shape(), c.unpooled) << what;
            EXPECT_EQ(run.outputs[0].dtype(), type);
            expectExact(run.outputs[0], reference(x, indices, c.unpooled, c.unpooled), what);
        }
    }
}

TEST(MaxUnpoolOp, OutputShapeAddsZerosAtTheEnd) {
    Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 2, 3}, -1, 1, 5);
    const Shape unpooled{2, 3, 4, 6};
    Tensor indices = randomIndices(x.shape(), shapeElementCount(unpooled), 6);
    for (const Shape& out : {Shape{2, 3, 4, 6}, Shape{2, 3, 5, 7}, Shape{2, 3, 4, 9}}) {
        Tensor outputShape = int64Vector(out);
        SingleNodeRun run = runOp("MaxUnpool", {&x, &indices, &outputShape}, unpoolAttrs({2, 2}, {2, 2}, {}));
        ASSERT_TRUE(run.status) << run.status.message();
        ASSERT_EQ(run.outputs[0].shape(), out);
        expectExact(run.outputs[0], reference(x, indices, unpooled, out), shapeToString(out, true));
    }
}

TEST(MaxUnpoolOp, InvalidShapesAndIndicesAreErrors) {
    Tensor x = randomTensor(DataType::kFLOAT, {1, 1, 2, 2}, -1, 1, 7);
    Tensor indices = int64Tensor({0, 5, 10, 15}, {1, 1, 2, 2});
    Tensor smaller = int64Vector({1, 1, 3, 4});
    SingleNodeRun small = runOp("MaxUnpool", {&x, &indices, &smaller}, unpoolAttrs({2, 2}, {2, 2}, {}));
    EXPECT_FALSE(small.status);
    EXPECT_NE(small.status.message().find("unpooled extents"), std::string::npos) << small.status.message();
    Tensor outside = int64Tensor({0, 5, 10, 16}, {1, 1, 2, 2});
    SingleNodeRun bad = runOp("MaxUnpool", {&x, &outside}, unpoolAttrs({2, 2}, {2, 2}, {}));
    EXPECT_FALSE(bad.status);
    EXPECT_NE(bad.status.message().find("outside the unpooled tensor"), std::string::npos) << bad.status.message();
    InferResult noKernel =
        inferOp("MaxUnpool", {symbolic(DataType::kFLOAT, {1, 1, 2, 2}), symbolic(DataType::kINT64, {1, 1, 2, 2})});
    EXPECT_FALSE(noKernel.status);
    InferResult mismatched =
        inferOp("MaxUnpool", {symbolic(DataType::kFLOAT, {1, 1, 2, 2}), symbolic(DataType::kINT64, {1, 1, 2, 3})},
                unpoolAttrs({2, 2}, {2, 2}, {}));
    EXPECT_FALSE(mismatched.status);
    EXPECT_NE(mismatched.status.message().find("must have the shape of X"), std::string::npos);
}

TEST(MaxUnpoolOp, OutputShapeKnownOnlyAtRunTimeLeavesDimsUnknown) {
    InferResult r = inferOp("MaxUnpool",
                            {symbolic(DataType::kFLOAT, {1, 1, 2, 2}), symbolic(DataType::kINT64, {1, 1, 2, 2}),
                             symbolic(DataType::kINT64, {4})},
                            unpoolAttrs({2, 2}, {2, 2}, {}));
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, -1, -1, -1)");
}

}  // namespace
}  // namespace kiln::test
