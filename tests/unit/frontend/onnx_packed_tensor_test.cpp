// TensorProto import of the low-bit types: float8 codes one per byte, and ONNX's packed 4-bit
// (two per byte) and 2-bit (four per byte) elements unpacked to Kiln's one element per byte, from
// raw_data, int32_data and external data, with the size checks naming the tensor.

#include <gtest/gtest.h>

#include "ir/onnx_types.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

onnx::ModelProto modelWithInitializer(onnx::TensorProto t) {
    onnx::ModelProto model = makeModel(25);
    onnx::GraphProto* g = model.mutable_graph();
    addOutput(g, t.name());
    addInitializer(g, std::move(t));
    return model;
}

/// The bytes Kiln stores for initializer "w" of the model, after checking its type and shape.
std::vector<uint8_t> importedBytes(const onnx::ModelProto& model, DataType type, const Shape& shape,
                                   const std::string& modelDir = "") {
    Import im;
    EXPECT_TRUE(im.parse(model, modelDir)) << im.errors();
    const Value* w = im.graph().findValue("w");
    if (!w || !w->isConstant()) {
        ADD_FAILURE() << "no constant 'w'";
        return {};
    }
    EXPECT_EQ(w->constant->dtype(), type);
    EXPECT_EQ(w->constant->shape(), shape);
    const uint8_t* p = w->constant->data<uint8_t>();
    return std::vector<uint8_t>(p, p + w->constant->byteSize());
}

std::vector<uint8_t> asBytes(const std::vector<int>& values) {
    std::vector<uint8_t> out;
    for (int v : values) out.push_back(static_cast<uint8_t>(static_cast<int8_t>(v)));
    return out;
}

TEST(OnnxPackedTensor, FourBitRawDataUnpacksLowNibbleFirst) {
    // int4 -8 7 -1 0 3: nibbles 8 7 | F 0 | 3 (the last byte half used).
    const uint8_t int4[3] = {0x78, 0x0F, 0x03};
    EXPECT_EQ(importedBytes(modelWithInitializer(rawTensor("w", onnx::TensorProto::INT4, {5}, int4, 3)),
                            DataType::kINT4, {5}),
              asBytes({-8, 7, -1, 0, 3}));
    const uint8_t uint4[2] = {0x0F, 0x09};  // 15 0 9
    EXPECT_EQ(importedBytes(modelWithInitializer(rawTensor("w", onnx::TensorProto::UINT4, {3, 1}, uint4, 2)),
                            DataType::kUINT4, {3, 1}),
              asBytes({15, 0, 9}));
    const uint8_t float4[2] = {0xF1, 0x05};  // codes 1 (0.5), F (-6), 5 (3)
    Import im;
    ASSERT_TRUE(im.parse(modelWithInitializer(rawTensor("w", onnx::TensorProto::FLOAT4E2M1, {3}, float4, 2))))
        << im.errors();
    const Tensor& w = *im.graph().findValue("w")->constant;
    EXPECT_EQ(w.dtype(), DataType::kFP4E2M1);
    EXPECT_EQ(w.toDoubleVector(), (std::vector<double>{0.5, -6, 3}));
}

TEST(OnnxPackedTensor, TwoBitDataUnpacksFromBitsZeroUp) {
    // int2 -2 -1 0 1 | 1 -2: fields 10 11 00 01 -> 0b01001110, then 01 10 -> 0b1001.
    const uint8_t int2[2] = {0x4E, 0x09};
    EXPECT_EQ(importedBytes(modelWithInitializer(rawTensor("w", onnx::TensorProto::INT2, {2, 3}, int2, 2)),
                            DataType::kINT2, {2, 3}),
              asBytes({-2, -1, 0, 1, 1, -2}));
    // uint2 3 2 1 0 | 3 in int32_data, one packed byte per entry.
    onnx::TensorProto t;
    t.set_name("w");
    t.set_data_type(onnx::TensorProto::UINT2);
    t.add_dims(5);
    t.add_int32_data(0x1B);
    t.add_int32_data(0x03);
    EXPECT_EQ(importedBytes(modelWithInitializer(t), DataType::kUINT2, {5}), asBytes({3, 2, 1, 0, 3}));
}

TEST(OnnxPackedTensor, Float8CodesFromRawDataAndInt32Data) {
    const uint8_t codes[3] = {0x38, 0xC0, 0x7F};
    for (auto type : {onnx::TensorProto::FLOAT8E4M3FN, onnx::TensorProto::FLOAT8E4M3FNUZ, onnx::TensorProto::FLOAT8E5M2,
                      onnx::TensorProto::FLOAT8E5M2FNUZ, onnx::TensorProto::FLOAT8E8M0}) {
        const DataType kiln = *dataTypeFromOnnx(type);
        EXPECT_EQ(importedBytes(modelWithInitializer(rawTensor("w", type, {3}, codes, 3)), kiln, {3}),
                  std::vector<uint8_t>(codes, codes + 3))
            << dataTypeName(kiln);
        onnx::TensorProto t;
        t.set_name("w");
        t.set_data_type(type);
        t.add_dims(3);
        for (uint8_t c : codes) t.add_int32_data(c);
        EXPECT_EQ(importedBytes(modelWithInitializer(t), kiln, {3}), std::vector<uint8_t>(codes, codes + 3))
            << dataTypeName(kiln);
    }
}

TEST(OnnxPackedTensor, PackedSizeMismatchNamesTheTensor) {
    const uint8_t two[2] = {0, 0};
    Import raw;
    EXPECT_FALSE(raw.parse(modelWithInitializer(rawTensor("w", onnx::TensorProto::INT4, {5}, two, 2))));
    EXPECT_NE(raw.errors().find("initializer 'w': raw_data holds 2 packed bytes, but a int4 tensor of shape (5)"),
              std::string::npos)
        << raw.errors();
    EXPECT_NE(raw.errors().find("needs 3 (2 elements per byte)"), std::string::npos) << raw.errors();

    onnx::TensorProto t;
    t.set_name("w");
    t.set_data_type(onnx::TensorProto::UINT2);
    t.add_dims(9);
    t.add_int32_data(0);
    t.add_int32_data(0);
    Import typed;
    EXPECT_FALSE(typed.parse(modelWithInitializer(t)));
    EXPECT_NE(typed.errors().find("int32_data holds 2 packed bytes"), std::string::npos) << typed.errors();
    EXPECT_NE(typed.errors().find("needs 3 (4 elements per byte)"), std::string::npos) << typed.errors();
}

TEST(OnnxPackedTensor, ExternalDataIsUnpackedToo) {
    TempDir dir;
    std::string bytes(8, '\x55');             // something else first
    bytes += std::string("\xF1\x2E\x07", 3);  // uint4 1 15 14 2 7
    dir.write("w.bin", bytes);
    onnx::TensorProto t;
    t.set_name("w");
    t.set_data_type(onnx::TensorProto::UINT4);
    t.add_dims(5);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [key, value] :
         {std::pair<std::string, std::string>{"location", "w.bin"}, {"offset", "8"}, {"length", "3"}}) {
        auto* e = t.add_external_data();
        e->set_key(key);
        e->set_value(value);
    }
    EXPECT_EQ(importedBytes(modelWithInitializer(t), DataType::kUINT4, {5}, dir.path().string()),
              asBytes({1, 15, 14, 2, 7}));

    t.mutable_external_data(2)->set_value("5");  // the unpacked size is not the file's length
    Import wrongLength;
    EXPECT_FALSE(wrongLength.parse(modelWithInitializer(t), dir.path().string()));
    EXPECT_NE(wrongLength.errors().find("external data length is 5 bytes"), std::string::npos) << wrongLength.errors();
    EXPECT_NE(wrongLength.errors().find("needs 3"), std::string::npos) << wrongLength.errors();
}

}  // namespace
}  // namespace kiln::test
