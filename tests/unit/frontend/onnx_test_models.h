#pragma once
// Helpers for the ONNX importer's tests: build ModelProtos with the generated protobuf classes,
// and parse them through the public Parser into a NetworkDefinition.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine_runner.h"
#include "ir/graph.h"
#include "kiln/builder.h"
#include "kiln/parser.h"
#include "onnx.pb.h"

namespace kiln::test {

/// One dimension of a declared input/output: a number, a symbol, or unknown (`D()`).
struct D {
    D() = default;
    D(int64_t v) : value(v) {}      // NOLINT: dims read like numbers
    D(const char* p) : param(p) {}  // NOLINT: and like symbols
    int64_t value{-1};
    std::string param;
};

inline onnx::ModelProto makeModel(int64_t opset, int64_t irVersion = 8) {
    onnx::ModelProto model;
    model.set_ir_version(irVersion);
    model.set_producer_name("kiln-test");
    onnx::OperatorSetIdProto* id = model.add_opset_import();
    id->set_domain("");
    id->set_version(opset);
    model.mutable_graph()->set_name("test_graph");
    return model;
}

inline void setValueInfo(onnx::ValueInfoProto* info, const std::string& name, int32_t elemType,
                         const std::vector<D>& dims) {
    info->set_name(name);
    auto* tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(elemType);
    auto* shape = tensor->mutable_shape();
    for (const D& d : dims) {
        auto* dim = shape->add_dim();
        if (d.value >= 0)
            dim->set_dim_value(d.value);
        else if (!d.param.empty())
            dim->set_dim_param(d.param);
    }
}

inline void addInput(onnx::GraphProto* g, const std::string& name, const std::vector<D>& dims,
                     int32_t elemType = onnx::TensorProto::FLOAT) {
    setValueInfo(g->add_input(), name, elemType, dims);
}

/// A graph output; its type is optional in ONNX and left out here unless `elemType` is given.
inline void addOutput(onnx::GraphProto* g, const std::string& name, int32_t elemType = 0) {
    onnx::ValueInfoProto* out = g->add_output();
    out->set_name(name);
    if (elemType) out->mutable_type()->mutable_tensor_type()->set_elem_type(elemType);
}

inline onnx::NodeProto* addNode(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs, const std::string& name = "") {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
}

inline void setInt(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}
inline void setFloat(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
}
inline void setString(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}
inline void setInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
}
inline void setFloats(onnx::NodeProto* n, const std::string& name, const std::vector<float>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOATS);
    for (float x : v) a->add_floats(x);
}

/// A TensorProto whose elements are `bytes` in raw_data.
inline onnx::TensorProto rawTensor(const std::string& name, int32_t elemType, const std::vector<int64_t>& dims,
                                   const void* bytes, size_t size) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(elemType);
    for (int64_t d : dims) t.add_dims(d);
    t.set_raw_data(std::string(static_cast<const char*>(bytes), size));
    return t;
}

inline onnx::TensorProto floatTensor(const std::string& name, const std::vector<int64_t>& dims,
                                     const std::vector<float>& values) {
    return rawTensor(name, onnx::TensorProto::FLOAT, dims, values.data(), values.size() * sizeof(float));
}

inline onnx::TensorProto int64Tensor(const std::string& name, const std::vector<int64_t>& dims,
                                     const std::vector<int64_t>& values) {
    return rawTensor(name, onnx::TensorProto::INT64, dims, values.data(), values.size() * sizeof(int64_t));
}

inline void addInitializer(onnx::GraphProto* g, onnx::TensorProto t) {
    *g->add_initializer() = std::move(t);
}

inline void addFloatInitializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<float>& values) {
    addInitializer(g, floatTensor(name, dims, values));
}

inline void addInt64Initializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& values) {
    addInitializer(g, int64Tensor(name, dims, values));
}

/// `count` floats drawn from [-1, 1) (never all zero).
inline std::vector<float> randomFloats(size_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng);
    return v;
}

/// A network and a parser over it.
struct Import {
    CapturingLogger logger;
    std::unique_ptr<Builder> builder{createBuilder(logger)};
    std::unique_ptr<NetworkDefinition> network{builder->createNetwork()};
    std::unique_ptr<Parser> parser{createParser(*network, logger)};

    bool parse(const onnx::ModelProto& model, const std::string& modelDir = "") {
        const std::string bytes = model.SerializeAsString();
        return parser->parse(bytes.data(), bytes.size(), modelDir.empty() ? nullptr : modelDir.c_str());
    }
    Graph& graph() { return network->graph(); }

    /// Every ParserError, described, one per line.
    std::string errors() const {
        std::string out;
        for (int32_t i = 0; i < parser->getNbErrors(); ++i) out += parser->getError(i)->describe() + "\n";
        return out;
    }
};

/// A fresh folder under the system temp dir, removed with the object.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        mPath = std::filesystem::temp_directory_path() /
                ("kiln_onnx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::create_directories(mPath);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(mPath, ec);
    }
    const std::filesystem::path& path() const { return mPath; }
    std::string write(const std::string& name, const std::string& bytes) const {
        std::filesystem::path p = mPath / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return p.string();
    }

private:
    std::filesystem::path mPath;
};

/// The constant's int64 contents.
inline std::vector<int64_t> int64Values(const Value* v) {
    if (!v || !v->isConstant() || v->constant->dtype() != DataType::kINT64) return {};
    return v->constant->toInt64Vector();
}

/// The node of op type `op` (the first one), or nullptr.
inline Node* findOp(const Graph& g, const std::string& op) {
    for (const auto& n : g.nodes())
        if (n->opType == op) return n.get();
    return nullptr;
}

inline std::vector<std::string> opTypes(const Graph& g) {
    std::vector<std::string> out;
    for (const auto& n : g.nodes()) out.push_back(n->opType);
    return out;
}

}  // namespace kiln::test
