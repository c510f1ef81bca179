// TensorProto import: every Kiln element type from raw_data and from the typed fields, size checks,
// unsupported types and external data.

#include <gtest/gtest.h>

#include "common/half.h"
#include "ir/onnx_types.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,   DataType::kBF16,  DataType::kDOUBLE,
                              DataType::kINT8,  DataType::kUINT8,  DataType::kINT16, DataType::kUINT16,
                              DataType::kINT32, DataType::kUINT32, DataType::kINT64, DataType::kUINT64,
                              DataType::kBOOL};

/// A model whose only output is the initializer `t` (an output keeps it from being dropped as unused).
onnx::ModelProto modelWithInitializer(onnx::TensorProto t) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addOutput(g, t.name());
    addInitializer(g, std::move(t));
    return model;
}

const Value* importedConstant(Import& im, const std::string& name) {
    const Value* v = im.graph().findValue(name);
    return v && v->isConstant() ? v : nullptr;
}

TEST(OnnxTensor, RawDataOfEveryType) {
    std::mt19937 rng(11);
    for (DataType type : kAllTypes) {
        const std::vector<int64_t> dims{2, 3, 5};
        std::vector<uint8_t> bytes(30 * dataTypeSize(type));
        for (uint8_t& b : bytes) b = static_cast<uint8_t>(type == DataType::kBOOL ? rng() % 2 : rng() % 256);
        Import im;
        ASSERT_TRUE(im.parse(modelWithInitializer(
            rawTensor("w", static_cast<int32_t>(dataTypeToOnnx(type)), dims, bytes.data(), bytes.size()))))
            << dataTypeName(type) << ": " << im.errors();
        const Value* w = importedConstant(im, "w");
        ASSERT_NE(w, nullptr) << dataTypeName(type);
        EXPECT_EQ(w->constant->dtype(), type);
        EXPECT_EQ(w->constant->shape(), (Shape{2, 3, 5}));
        EXPECT_EQ(w->shape, (SymShape{2, 3, 5}));
        ASSERT_EQ(w->constant->byteSize(), bytes.size());
        EXPECT_EQ(std::memcmp(w->constant->data(), bytes.data(), bytes.size()), 0) << dataTypeName(type);
    }
}

TEST(OnnxTensor, ScalarAndEmptyTensors) {
    Import im;
    onnx::ModelProto model = modelWithInitializer(floatTensor("scalar", {}, {3.5f}));
    *model.mutable_graph()->add_initializer() = floatTensor("empty", {0, 4}, {});
    addOutput(model.mutable_graph(), "empty");
    ASSERT_TRUE(im.parse(model)) << im.errors();
    EXPECT_EQ(importedConstant(im, "scalar")->constant->rank(), 0);
    EXPECT_EQ(importedConstant(im, "scalar")->constant->elementAsDouble(0), 3.5);
    EXPECT_EQ(importedConstant(im, "empty")->constant->shape(), (Shape{0, 4}));
}

TEST(OnnxTensor, TypedFields) {
    struct Case {
        DataType type;
        std::vector<double> values;
    };
    const std::vector<Case> cases = {
        {DataType::kFLOAT, {1.5, -0.25, 1024.0}},
        {DataType::kDOUBLE, {1e-300, -2.0, 0.1}},
        {DataType::kINT8, {-128, 127, -3}},
        {DataType::kUINT8, {0, 255, 17}},
        {DataType::kINT16, {-32768, 32767, 5}},
        {DataType::kUINT16, {65535, 0, 300}},
        {DataType::kINT32, {-2147483648.0, 7, 123456789}},
        {DataType::kBOOL, {1, 0, 1}},
        {DataType::kINT64, {-9007199254740992.0, 42, -1}},
        {DataType::kUINT32, {4294967295.0, 1, 2}},
        {DataType::kUINT64, {9007199254740992.0, 0, 77}},
        {DataType::kHALF, {0.5, -65504, 1.0 / 1024}},
        {DataType::kBF16, {-2.0, 0.0078125, 3.0e38}},
    };
    for (const Case& c : cases) {
        onnx::TensorProto t;
        t.set_name("w");
        t.set_data_type(static_cast<int32_t>(dataTypeToOnnx(c.type)));
        t.add_dims(3);
        for (double v : c.values) {
            switch (c.type) {
                case DataType::kFLOAT:
                    t.add_float_data(static_cast<float>(v));
                    break;
                case DataType::kDOUBLE:
                    t.add_double_data(v);
                    break;
                case DataType::kINT64:
                    t.add_int64_data(static_cast<int64_t>(v));
                    break;
                case DataType::kUINT32:
                case DataType::kUINT64:
                    t.add_uint64_data(static_cast<uint64_t>(v));
                    break;
                // onnx.proto: (b)float16 travel in int32_data as their bit patterns.
                case DataType::kHALF:
                    t.add_int32_data(Half(static_cast<float>(v)).bits);
                    break;
                case DataType::kBF16:
                    t.add_int32_data(BFloat16(static_cast<float>(v)).bits);
                    break;
                case DataType::kINT8:
                case DataType::kUINT8:
                case DataType::kINT16:
                case DataType::kUINT16:
                case DataType::kINT32:
                case DataType::kBOOL:
                    t.add_int32_data(static_cast<int32_t>(v));
                    break;
            }
        }
        Import im;
        ASSERT_TRUE(im.parse(modelWithInitializer(t))) << dataTypeName(c.type) << ": " << im.errors();
        const Value* w = importedConstant(im, "w");
        ASSERT_NE(w, nullptr);
        EXPECT_EQ(w->constant->dtype(), c.type);
        std::vector<double> expected = c.values;
        if (c.type == DataType::kBF16)  // bfloat16 keeps 8 significant bits
            for (double& v : expected) v = static_cast<float>(BFloat16(static_cast<float>(v)));
        EXPECT_EQ(w->constant->toDoubleVector(), expected) << dataTypeName(c.type);
    }
}

TEST(OnnxTensor, WrongSizeRawDataNamesTheTensor) {
    std::vector<float> values = randomFloats(5, 3);
    Import im;
    EXPECT_FALSE(im.parse(modelWithInitializer(
        rawTensor("weights", onnx::TensorProto::FLOAT, {2, 3}, values.data(), values.size() * sizeof(float)))));
    ASSERT_EQ(im.parser->getNbErrors(), 1);
    const std::string error = im.errors();
    EXPECT_NE(error.find("initializer 'weights'"), std::string::npos) << error;
    EXPECT_NE(error.find("raw_data holds 20 bytes"), std::string::npos) << error;
    EXPECT_NE(error.find("needs 24"), std::string::npos) << error;
}

TEST(OnnxTensor, WrongCountInTypedFieldNamesTheTensor) {
    onnx::TensorProto t;
    t.set_name("table");
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(4);
    t.add_int64_data(1);
    t.add_int64_data(2);
    Import im;
    EXPECT_FALSE(im.parse(modelWithInitializer(t)));
    EXPECT_NE(im.errors().find("initializer 'table': int64_data holds 2 values"), std::string::npos) << im.errors();
}

TEST(OnnxTensor, UnsupportedElementTypesNameTheTensorAndType) {
    const float complex[2] = {1.0f, -1.0f};
    Import complex64;
    EXPECT_FALSE(complex64.parse(modelWithInitializer(rawTensor("labels", onnx::TensorProto::COMPLEX64, {1}, complex, 8))));
    EXPECT_NE(complex64.errors().find("initializer 'labels' has element type complex64"), std::string::npos)
        << complex64.errors();

    const float complex128[4] = {1.0f, 0.0f, -1.0f, 0.0f};
    Import wide;
    EXPECT_FALSE(wide.parse(modelWithInitializer(rawTensor("q", onnx::TensorProto::COMPLEX128, {1}, complex128, 16))));
    EXPECT_NE(wide.errors().find("initializer 'q' has element type complex128"), std::string::npos) << wide.errors();
}

TEST(OnnxTensor, NegativeDimensionIsAnError) {
    Import im;
    EXPECT_FALSE(im.parse(modelWithInitializer(floatTensor("neg", {-1, 2}, {}))));
    EXPECT_NE(im.errors().find("negative dimension"), std::string::npos) << im.errors();
}

/// An initializer "w" of `dims` kept in `location` at `offset`.
onnx::TensorProto externalTensor(const std::string& location, int64_t offset, int64_t length,
                                 const std::vector<int64_t>& dims) {
    onnx::TensorProto t;
    t.set_name("w");
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t.add_dims(d);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const std::string& key, const std::string& value) {
        auto* e = t.add_external_data();
        e->set_key(key);
        e->set_value(value);
    };
    add("location", location);
    if (offset >= 0) add("offset", std::to_string(offset));
    if (length >= 0) add("length", std::to_string(length));
    return t;
}

/// 16 bytes of something else, then the weights.
std::string sideFile(const std::vector<float>& weights) {
    std::string bytes(16, '\x7f');
    bytes.append(reinterpret_cast<const char*>(weights.data()), weights.size() * sizeof(float));
    return bytes;
}

TEST(OnnxTensor, ExternalDataFromASideFile) {
    TempDir dir;
    const std::vector<float> weights = randomFloats(12, 21);
    dir.write("data/weights.bin", sideFile(weights));
    onnx::ModelProto model = modelWithInitializer(externalTensor("data/weights.bin", 16, 48, {3, 4}));
    const std::string path = dir.write("model.onnx", model.SerializeAsString());

    Import fromFile;
    ASSERT_TRUE(fromFile.parser->parseFromFile(path.c_str())) << fromFile.errors();
    const Value* w = importedConstant(fromFile, "w");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->constant->shape(), (Shape{3, 4}));
    EXPECT_EQ(std::memcmp(w->constant->data(), weights.data(), 48), 0);

    Import fromMemory;
    ASSERT_TRUE(fromMemory.parse(model, dir.path().string())) << fromMemory.errors();
    EXPECT_EQ(std::memcmp(importedConstant(fromMemory, "w")->constant->data(), weights.data(), 48), 0);
}

TEST(OnnxTensor, ExternalDataWithoutLengthReadsTheTensorsSize) {
    TempDir dir;
    const std::vector<float> weights = randomFloats(6, 22);
    dir.write("w.bin", sideFile(weights));
    Import im;
    ASSERT_TRUE(im.parse(modelWithInitializer(externalTensor("./w.bin", 16, -1, {6})), dir.path().string()))
        << im.errors();
    EXPECT_EQ(std::memcmp(importedConstant(im, "w")->constant->data(), weights.data(), 24), 0);
}

TEST(OnnxTensor, ExternalDataProblemsAreErrors) {
    TempDir dir;
    dir.write("w.bin", sideFile(randomFloats(4, 23)));
    const std::string folder = dir.path().string();
    struct Case {
        onnx::TensorProto tensor;
        std::string modelDir;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {externalTensor("w.bin", 16, 16, {4}), "", "without its folder"},
        {externalTensor((dir.path() / "w.bin").string(), 16, 16, {4}), folder, "absolute path"},
        {externalTensor("../w.bin", 0, 16, {4}), folder, "leaves the model's folder"},
        {externalTensor("sub/../../w.bin", 0, 16, {4}), folder, "leaves the model's folder"},
        {externalTensor("w.bin", 16, 16, {8}), folder, "length is 16 bytes"},
        {externalTensor("w.bin", 24, -1, {4}), folder, "too few"},
        {externalTensor("missing.bin", 0, 16, {4}), folder, "cannot read external data file"},
        {externalTensor("w.bin", -1, -1, {}), folder, ""},  // valid: reads the first 4 bytes
    };
    for (const Case& c : cases) {
        Import im;
        const bool ok = im.parse(modelWithInitializer(c.tensor), c.modelDir);
        if (c.expected.empty()) {
            EXPECT_TRUE(ok) << im.errors();
            continue;
        }
        EXPECT_FALSE(ok) << c.expected;
        EXPECT_NE(im.errors().find("initializer 'w'"), std::string::npos) << im.errors();
        EXPECT_NE(im.errors().find(c.expected), std::string::npos) << im.errors();
    }
}

}  // namespace
}  // namespace kiln::test
