// The public Parser: loads an ONNX model, checks its versions and imports its graph into a
// NetworkDefinition. Every failure becomes ParserErrors and logged messages; nothing throws out.

#include <exception>
#include <filesystem>
#include <new>

#include "common/logging.h"
#include "frontend/onnx/graph_importer.h"
#include "frontend/onnx/model_loader.h"
#include "kiln/parser.h"

namespace kiln {

std::string ParserError::describe() const {
    if (nodeIndex < 0) return message;
    return "node " + std::to_string(nodeIndex) + " '" + nodeName + "' (" + opType + "): " + message;
}

namespace {

using namespace onnx_import;

/// "'model.onnx' is not a valid ONNX model: " + reason, the verb chosen by the kind of problem.
std::string modelProblem(const std::string& subject, const Status& status) {
    switch (status.code()) {
        case StatusCode::kIoError:
            return subject + " cannot be read: " + status.message();
        case StatusCode::kUnsupported:
            return subject + " cannot be imported: " + status.message();
        case StatusCode::kOk:
        case StatusCode::kInvalidArgument:
        case StatusCode::kInvalidModel:
        case StatusCode::kInvalidEngine:
        case StatusCode::kOutOfMemory:
        case StatusCode::kInternal:
            break;
    }
    return subject + " is not a valid ONNX model: " + status.message();
}

class OnnxParser final : public Parser {
public:
    OnnxParser(NetworkDefinition& network, ILogger& logger) : mNetwork(network), mLogger(logger) {}

    bool parseFromFile(const char* path) noexcept override {
        if (!path || !*path) return fail("parseFromFile: no path was given");
        const std::string file(path);
        const std::filesystem::path parent = std::filesystem::path(file).parent_path();
        const std::string folder = parent.empty() ? std::string(".") : parent.string();
        const std::string subject = std::string(1, '\'').append(file).append(1, '\'');
        return run(subject, folder, [&](onnx::ModelProto& model) { return readModelFile(file, model); });
    }

    bool parse(const void* data, size_t size, const char* modelDir) noexcept override {
        return run("the in-memory model", modelDir ? modelDir : "",
                   [&](onnx::ModelProto& model) { return parseModel(data, size, model); });
    }

    int32_t getNbErrors() const noexcept override { return static_cast<int32_t>(mErrors.size()); }
    const ParserError* getError(int32_t index) const noexcept override {
        return index >= 0 && index < getNbErrors() ? &mErrors[static_cast<size_t>(index)] : nullptr;
    }
    void clearErrors() noexcept override { mErrors.clear(); }

private:
    /// Errors describe the latest parse only: each parse starts by clearing them.
    template <typename Load>
    bool run(const std::string& subject, const std::string& modelDir, Load&& load) noexcept {
        mErrors.clear();
        try {
            // Names of the model would clash with what the network holds; TensorRT's parser, too,
            // fills an empty network.
            if (!mNetwork.graph().values().empty() || !mNetwork.graph().nodes().empty())
                return fail("cannot parse " + subject +
                            " into a network that already holds tensors; use a new network");
            onnx::ModelProto model;
            Status loaded = load(model);
            if (!loaded) return fail(modelProblem(subject, loaded));
            Expected<int64_t> opset = checkModel(model);
            if (!opset) return fail(modelProblem(subject, opset.status()));
            std::string producer = model.producer_name();
            if (!model.producer_version().empty()) producer += " " + model.producer_version();
            Logger(&mLogger).info("ONNX model " + subject + ": IR version " + std::to_string(model.ir_version()) +
                                  ", opset " + std::to_string(*opset) + ", producer '" + producer + "'");
            ImportSession session(&mLogger, *opset, modelDir);
            importModelGraph(*model.mutable_graph(), mNetwork.graph(), session);
            mErrors = std::move(session.errors);
            return mErrors.empty();
        } catch (const std::bad_alloc&) {
            return fail("out of memory while importing " + subject);
        } catch (const std::exception& e) {
            return fail("internal error while importing " + subject + ": " + e.what());
        }
    }

    bool fail(const std::string& message) noexcept {
        try {
            mErrors.push_back({-1, "", "", message});
            Logger(&mLogger).error(message);
        } catch (...) {
            // Out of memory while reporting: the false return still tells the caller.
        }
        return false;
    }

    NetworkDefinition& mNetwork;
    ILogger& mLogger;
    std::vector<ParserError> mErrors;
};

}  // namespace

std::unique_ptr<Parser> createParser(NetworkDefinition& network, ILogger& logger) noexcept {
    try {
        return std::make_unique<OnnxParser>(network, logger);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

}  // namespace kiln
