// The low-bit element types (float8, float4e2m1, int4, uint4, int2, uint2) outside the conversion
// ops: kernels that only move bytes carry them, every other kernel refuses them with a clear
// error, and a whole engine takes and returns them in Kiln's one-element-per-byte layout.

#include <cmath>

#include "elementwise_test_util.h"
#include "engine_runner.h"
#include "ir/onnx_types.h"
#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

/// A low-bit tensor of `shape` whose stored bytes are 0, 1, 2, ... (valid codes of every type
/// for the sizes used here, sign-extension aside, which a byte move does not look at).
Tensor countingCodes(DataType type, const Shape& shape) {
    Tensor t = Tensor::allocate(type, shape);
    for (int64_t i = 0; i < t.elementCount(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(i % 16);
    return t;
}

std::vector<uint8_t> bytesOf(const Tensor& t) {
    const uint8_t* p = t.data<uint8_t>();
    return std::vector<uint8_t>(p, p + t.byteSize());
}

const DataType kLowBitTypes[] = {
    DataType::kFP8E4M3FN, DataType::kFP8E4M3FNUZ, DataType::kFP8E5M2, DataType::kFP8E5M2FNUZ, DataType::kFP8E8M0,
    DataType::kINT4,      DataType::kUINT4,       DataType::kINT2,    DataType::kUINT2,       DataType::kFP4E2M1};

TEST(LowBitTypes, ByteMovingOpsCarryThem) {
    for (DataType type : kLowBitTypes) {
        const char* name = dataTypeName(type);
        Tensor x = countingCodes(type, {2, 3, 4});
        const std::vector<uint8_t> in = bytesOf(x);

        for (const char* op : {"Identity", "Flatten"}) {
            SingleNodeRun run = runOp(op, {&x});
            ASSERT_TRUE(run.status) << op << " " << name << ": " << run.status.message();
            EXPECT_EQ(run.outputs[0].dtype(), type) << op;
            EXPECT_EQ(bytesOf(run.outputs[0]), in) << op << " " << name;
        }
        Tensor shape = int64Vector({4, 6});
        SingleNodeRun reshaped = runOp("Reshape", {&x, &shape});
        ASSERT_TRUE(reshaped.status) << name << ": " << reshaped.status.message();
        EXPECT_EQ(reshaped.outputs[0].shape(), (Shape{4, 6}));
        EXPECT_EQ(bytesOf(reshaped.outputs[0]), in) << name;
        Tensor axes = int64Vector({0});
        SingleNodeRun unsqueezed = runOp("Unsqueeze", {&x, &axes});
        ASSERT_TRUE(unsqueezed.status) << name << ": " << unsqueezed.status.message();
        SingleNodeRun squeezed = runOp("Squeeze", {&unsqueezed.outputs[0], &axes});
        ASSERT_TRUE(squeezed.status) << name << ": " << squeezed.status.message();
        EXPECT_EQ(squeezed.outputs[0].shape(), (Shape{2, 3, 4}));
        EXPECT_EQ(bytesOf(squeezed.outputs[0]), in) << name;

        AttributeMap perm;
        perm.set("perm", std::vector<int64_t>{2, 0, 1});
        SingleNodeRun transposed = runOp("Transpose", {&x}, perm);
        ASSERT_TRUE(transposed.status) << name << ": " << transposed.status.message();
        ASSERT_EQ(transposed.outputs[0].shape(), (Shape{4, 2, 3}));
        for (int64_t i = 0; i < 24; ++i) {
            std::vector<int64_t> c = unravel(i, {4, 2, 3});  // output (k, i, j) = input (i, j, k)
            EXPECT_EQ(transposed.outputs[0].data<uint8_t>()[i],
                      in[static_cast<size_t>(ravel({c[1], c[2], c[0]}, {2, 3, 4}))])
                << name << " element " << i;
        }

        AttributeMap axis;
        axis.set("axis", int64_t{1});
        SingleNodeRun joined = runOp("Concat", {&x, &x}, axis);
        ASSERT_TRUE(joined.status) << name << ": " << joined.status.message();
        ASSERT_EQ(joined.outputs[0].shape(), (Shape{2, 6, 4}));
        for (int64_t i = 0; i < 48; ++i) {
            std::vector<int64_t> c = unravel(i, {2, 6, 4});
            EXPECT_EQ(joined.outputs[0].data<uint8_t>()[i],
                      in[static_cast<size_t>(ravel({c[0], c[1] % 3, c[2]}, {2, 3, 4}))])
                << name << " element " << i;
        }

        SingleNodeRun size = runOp("Size", {&x});
        ASSERT_TRUE(size.status) << name << ": " << size.status.message();
        expectExact(size.outputs[0], {24});
        SingleNodeRun shapeOf = runOp("Shape", {&x});
        ASSERT_TRUE(shapeOf.status) << name << ": " << shapeOf.status.message();
        expectExact(shapeOf.outputs[0], {2, 3, 4});
    }
}

TEST(LowBitTypes, BitCastOnlyBetweenTypesOfOneBitWidth) {
    Tensor x = countingCodes(DataType::kFP8E5M2, {5});
    AttributeMap toUint8;
    toUint8.set("to", dataTypeToOnnx(DataType::kUINT8));
    SingleNodeRun run = runOp("BitCast", {&x}, toUint8);
    ASSERT_TRUE(run.status) << run.status.message();
    expectExact(run.outputs[0], {0, 1, 2, 3, 4});

    // int4 is 4 bits wide in ONNX, though Kiln keeps it in a byte: no bit-cast to int8.
    Tensor q = countingCodes(DataType::kINT4, {4});
    AttributeMap toInt8;
    toInt8.set("to", dataTypeToOnnx(DataType::kINT8));
    SingleNodeRun refused = runOp("BitCast", {&q}, toInt8);
    ASSERT_FALSE(refused.status);
    EXPECT_NE(refused.status.message().find("int4 is 4 bits"), std::string::npos) << refused.status.message();
}

TEST(LowBitTypes, KernelsThatComputeRefuseThemWithTheirName) {
    // Tile's inference takes any type; its CPU kernel does not declare the low-bit types.
    Tensor x = countingCodes(DataType::kINT4, {2, 2});
    Tensor repeats = int64Vector({2, 1});
    SingleNodeRun tiled = runOp("Tile", {&x, &repeats});
    ASSERT_FALSE(tiled.status);
    EXPECT_NE(tiled.status.message().find("no CPU kernel for element type int4"), std::string::npos)
        << tiled.status.message();
    EXPECT_NE(tiled.status.message().find("'node'"), std::string::npos) << tiled.status.message();

    // Arithmetic is refused earlier, by the op's type constraints.
    Tensor a = countingCodes(DataType::kFP8E4M3FN, {3});
    SingleNodeRun added = runOp("Add", {&a, &a});
    ASSERT_FALSE(added.status);
    EXPECT_NE(added.status.message().find("float8e4m3fn"), std::string::npos) << added.status.message();
}

TEST(LowBitTypes, EngineTakesAndReturnsThemOneElementPerByte) {
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    // x (float) -> QuantizeLinear (int4, per row) -> Transpose -> output q; q -> DequantizeLinear -> y.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3});
    const float scales[2] = {0.5f, 2.0f};
    const int8_t zeros[2] = {-1, 2};  // Kiln's int4 layout: one sign-extended value per byte
    ITensor* scale = net->addConstant(Dims{2}, DataType::kFLOAT, scales);
    ITensor* zero = net->addConstant(Dims{2}, DataType::kINT4, zeros);
    LayerAttributes rows;
    rows.setInt("axis", 0);
    ITensor* q = net->addLayer("QuantizeLinear", {x, scale, zero}, 1, rows)->getOutput(0);
    LayerAttributes perm;
    perm.setInts("perm", {1, 0});
    ITensor* qt = net->addLayer("Transpose", {q}, 1, perm)->getOutput(0);
    qt->setName("q");
    net->markOutput(*qt);
    ITensor* y = net->addLayer("DequantizeLinear", {q, scale, zero}, 1, rows)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);

    Tensor in = tensorOf(DataType::kFLOAT, {2, 3}, {-1.2, 0.74, 3.3, -30, 5, 1});
    EngineRun run = buildAndRun(*builder, *net, *builder->createBuilderConfig(), {{"x", in}}, logger);
    ASSERT_TRUE(run.ok);
    ASSERT_EQ(run.outputs.size(), 2u);
    // Row 0: x / 0.5 = -2.4 1.48 6.6 -> -2 1 7, + (-1) -> -3 0 6; row 1: x / 2 = -15 2.5 0.5 -> -15 2 0,
    // + 2 -> -13 (clamped to -8) 4 2.
    const int8_t expectedQ[6] = {-3, -8, 0, 4, 6, 2};  // transposed: (col, row)
    ASSERT_EQ(run.outputs[0].dtype(), DataType::kINT4);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(run.outputs[0].data<int8_t>()[i], expectedQ[i]) << i;
    expectExact(run.outputs[1],
                {(-3 + 1) * 0.5, (0 + 1) * 0.5, (6 + 1) * 0.5, (-8 - 2) * 2.0, (4 - 2) * 2.0, (2 - 2) * 2.0});
}

TEST(LowBitTypes, BuilderNamesTheTypeItHasNoKernelFor) {
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kUINT2, Dims{2, 2});
    const int64_t repeatValues[2] = {1, 2};
    ITensor* repeats = net->addConstant(Dims{2}, DataType::kINT64, repeatValues);
    net->markOutput(*net->addLayer("Tile", {x, repeats})->getOutput(0));
    EngineRun run = buildAndRun(*builder, *net, *builder->createBuilderConfig(),
                                {{"x", Tensor::allocate(DataType::kUINT2, {2, 2})}}, logger);
    EXPECT_FALSE(run.ok);
    std::string errors;
    for (const std::string& e : logger.errors) errors += e + "\n";
    EXPECT_NE(errors.find("no CPU kernel for element type uint2"), std::string::npos) << errors;
}

}  // namespace
}  // namespace kiln::test
