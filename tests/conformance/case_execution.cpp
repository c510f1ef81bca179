#include "case_execution.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <regex>

#include "backends/backend.h"
#include "kiln/kiln.h"
#include "test_data_loading.h"

namespace kiln::conformance {
namespace {

/// Keeps Kiln's error messages: the first one is the case's reason.
class ErrorKeepingLogger : public ILogger {
public:
    void log(Severity severity, const char* message) noexcept override {
        if (severity <= Severity::kERROR) mErrors.emplace_back(message);
    }
    std::string firstError(const std::string& fallback) const { return mErrors.empty() ? fallback : mErrors.front(); }

private:
    std::vector<std::string> mErrors;
};

/// A failed step: the outcome, its reason and the op it blames.
struct StepFailure {
    Outcome outcome;
    std::string message;
    std::string failingOp;
};

StepFailure errorFrom(const std::string& message, std::string failingOp = "") {
    if (failingOp.empty()) failingOp = opTypeNamedIn(message);
    return {Outcome::kError, message, std::move(failingOp)};
}

Dims dimsOf(const Shape& shape) {
    Dims dims;
    dims.nbDims = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size() && i < static_cast<size_t>(kMaxDims); ++i) dims.d[i] = shape[i];
    return dims;
}

bool hasDynamicDimension(const Dims& dims) {
    for (int32_t i = 0; i < dims.nbDims; ++i)
        if (dims.d[i] < 0) return true;
    return false;
}

/// An engine and the runtime it came from, built for one set of input shapes.
struct BuiltEngine {
    std::unique_ptr<Runtime> runtime;
    std::unique_ptr<Engine> engine;
    bool dynamic{false};  // the network had dynamic input dimensions (so it is shape-specific)
};

/// Parses the case's model into `network`; the first import problem when it cannot.
std::optional<StepFailure> importModel(const CaseSpec& spec, NetworkDefinition& network, ErrorKeepingLogger& logger) {
    auto parser = createParser(network, logger);
    const std::string modelPath = spec.directory + "/model.onnx";
    if (parser->parseFromFile(modelPath.c_str())) return std::nullopt;
    const ParserError* first = parser->getError(0);
    return first ? errorFrom("import: " + first->describe(), first->opType)
                 : errorFrom("import: " + logger.firstError("the parser gave no reason"));
}

/// Parses the model, builds it (with a profile at `inputs`' shapes when some input dimension is
/// dynamic), serializes and deserializes the engine into `built`.
std::optional<StepFailure> buildEngine(const CaseSpec& spec, const std::vector<NamedTensor>& inputs,
                                       const ExecutionSettings& settings, ErrorKeepingLogger& logger,
                                       BuiltEngine& built) {
    auto builder = createBuilder(logger);
    auto network = builder->createNetwork();
    if (auto failure = importModel(spec, *network, logger)) return failure;
    auto config = builder->createBuilderConfig();
    config->setDefaultDeviceType(settings.device);
    if (settings.noGraphOptimization) config->setFlag(BuilderFlag::kNO_GRAPH_OPTIMIZATION);
    // The node cases check FP32 results (ONNX's rtol 1e-3 over products of many terms): TF32's 10-bit
    // mantissa is a precision choice a user makes, not FP32, so the suite runs without it.
    config->clearFlag(BuilderFlag::kTF32);

    built.dynamic = false;
    auto profile = builder->createOptimizationProfile();
    for (int32_t i = 0; i < network->getNbInputs(); ++i) {
        ITensor* input = network->getInput(i);
        if (!hasDynamicDimension(input->getDimensions())) continue;
        built.dynamic = true;
        const NamedTensor* data = nullptr;
        for (const NamedTensor& candidate : inputs)
            if (candidate.name == input->getName()) data = &candidate;
        if (!data) return errorFrom(std::string("network input '") + input->getName() + "' is dynamic and has no test data");
        const Dims exact = dimsOf(data->tensor.shape());
        for (OptProfileSelector s : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX})
            profile->setDimensions(input->getName(), s, exact);
    }
    if (built.dynamic && config->addOptimizationProfile(profile.get()) < 0)
        return errorFrom("build: " + logger.firstError("the optimization profile at the test shapes is invalid"));
    auto plan = builder->buildSerializedNetwork(*network, *config);
    if (!plan) return errorFrom("build: " + logger.firstError("buildSerializedNetwork failed without a reason"));
    built.runtime = createRuntime(logger);
    built.engine = built.runtime->deserializeEngine(plan->data(), plan->size());
    if (!built.engine) return errorFrom("deserialize: " + logger.firstError("deserializeEngine failed without a reason"));
    return std::nullopt;
}

/// Host memory for one I/O tensor, 64-byte aligned and never null (zero-element tensors too).
class AlignedBuffer {
public:
    explicit AlignedBuffer(size_t bytes)
        : mData(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 64) / 64 * 64)), &std::free) {}
    void* data() const { return mData.get(); }

private:
    std::unique_ptr<uint8_t, decltype(&std::free)> mData;
};

/// Memory of the engine's backend (device memory for CUDA), freed on scope exit.
class BackendBuffer {
public:
    BackendBuffer(Backend& backend, size_t bytes) : mBackend(backend), mData(backend.allocate(bytes ? bytes : 1)) {}
    ~BackendBuffer() { mBackend.deallocate(mData); }
    BackendBuffer(const BackendBuffer&) = delete;
    BackendBuffer& operator=(const BackendBuffer&) = delete;
    void* data() const { return mData; }

private:
    Backend& mBackend;
    void* mData;
};

/// An output's buffer, sized by the context during the run: outputs whose shape depends on
/// computed values (NonZero, ConstantOfShape of a computed shape, ...) learn their size only then.
/// `device` is the backend whose memory the engine writes when it is not host memory.
class OutputCollector : public IOutputAllocator {
public:
    OutputCollector(DataType type, Backend* device) : mType(type), mDevice(device) {}
    void* reallocateOutput(const char*, void*, uint64_t size, uint64_t) noexcept override {
        if (!mHost || size > mCapacity) {
            mHost = std::make_unique<AlignedBuffer>(static_cast<size_t>(size));
            if (mDevice) mDeviceBuffer = std::make_unique<BackendBuffer>(*mDevice, static_cast<size_t>(size));
            mCapacity = static_cast<size_t>(size);
        }
        return mDevice ? mDeviceBuffer->data() : mHost->data();
    }
    void notifyShape(const char*, const Dims& dims) noexcept override {
        mShape.assign(dims.d, dims.d + std::max(0, dims.nbDims));
        mShapeKnown = true;
    }
    /// The run's output on the host, or nullopt when the context never reported its shape.
    Expected<std::optional<Tensor>> tensor() const {
        if (!mShapeKnown || !mHost) return std::optional<Tensor>();
        Tensor t = Tensor::wrap(mType, mShape, mHost->data(), nullptr);
        if (mDevice && t.byteSize() > 0) {
            KILN_RETURN_IF_ERROR(mDevice->copyToHost(mHost->data(), mDeviceBuffer->data(), t.byteSize(), nullptr));
            KILN_RETURN_IF_ERROR(mDevice->synchronize(nullptr));
        }
        return std::optional<Tensor>(std::move(t));
    }

private:
    DataType mType;
    Backend* mDevice;
    std::unique_ptr<AlignedBuffer> mHost;
    std::unique_ptr<BackendBuffer> mDeviceBuffer;
    size_t mCapacity{0};
    Shape mShape;
    bool mShapeKnown{false};
};

bool engineHasTensor(const Engine& engine, const std::string& name, TensorIOMode mode) {
    for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
        const char* ioName = engine.getIOTensorName(i);
        if (name == ioName) return engine.getTensorIOMode(ioName) == mode;
    }
    return false;
}

HostTensor hostTensorOf(const Tensor& t) {
    HostTensor h;
    h.dtype = t.dtype();
    h.dims = dimsOf(t.shape());
    h.data = t.data();
    return h;
}

/// Feeds a sequence or optional input (ONNX Runtime's OrtValue of sequence / optional type).
std::optional<StepFailure> setContainerInput(const Engine& engine, ExecutionContext& context, const NamedTensor& input,
                                             ErrorKeepingLogger& logger) {
    const IOKind kind = engine.getIOKind(input.name.c_str());
    std::vector<HostTensor> tensors;
    for (const Tensor& t : input.elements) tensors.push_back(hostTensorOf(t));
    bool set = false;
    if (kind == IOKind::kTENSOR) return errorFrom("input '" + input.name + "': the engine takes a tensor, the data is a sequence or optional");
    if (!input.present)
        set = context.setInputOptional(input.name.c_str(), nullptr);
    else if (kind == IOKind::kOPTIONAL_TENSOR)
        set = tensors.size() == 1 && context.setInputOptional(input.name.c_str(), tensors.data());
    else
        set = context.setInputSequence(input.name.c_str(), tensors.data(), static_cast<int32_t>(tensors.size()));
    if (!set) return errorFrom("input '" + input.name + "': " + logger.firstError("the sequence / optional was refused"));
    return std::nullopt;
}

/// Compares a sequence or optional output: presence, length, then each tensor as any output.
std::optional<StepFailure> compareContainerOutput(const ExecutionContext& context, const NamedTensor& expected,
                                                  const ExecutionSettings& settings, ErrorKeepingLogger& logger) {
    std::vector<HostTensor> tensors;
    bool present = false;
    if (!context.getOutputValue(expected.name.c_str(), tensors, present))
        return errorFrom("output '" + expected.name + "': " + logger.firstError("getOutputValue failed without a reason"));
    if (present != expected.present)
        return StepFailure{Outcome::kFail, "output '" + expected.name + "': the optional is " + (present ? "present" : "empty") +
                                               ", expected " + (expected.present ? "present" : "empty"), ""};
    if (tensors.size() != expected.elements.size())
        return StepFailure{Outcome::kFail, "output '" + expected.name + "' holds " + std::to_string(tensors.size()) +
                                               " tensors, expected " + std::to_string(expected.elements.size()), ""};
    for (size_t i = 0; i < tensors.size(); ++i) {
        Shape shape(tensors[i].dims.d, tensors[i].dims.d + std::max(0, tensors[i].dims.nbDims));
        Tensor actual = Tensor::wrap(tensors[i].dtype, shape, const_cast<void*>(tensors[i].data), nullptr);
        if (auto mismatch = compareOutput(expected.name + "[" + std::to_string(i) + "]", actual, expected.elements[i],
                                          settings.tolerance))
            return StepFailure{Outcome::kFail, *mismatch, ""};
    }
    return std::nullopt;
}

/// Runs `engine` on one data set and compares its outputs. Nothing when it passes.
std::optional<StepFailure> runDataSet(Engine& engine, const DataSet& data, const ExecutionSettings& settings,
                                      ErrorKeepingLogger& logger) {
    auto context = engine.createExecutionContext();
    if (!context) return errorFrom("context: " + logger.firstError("createExecutionContext failed without a reason"));
    // A device engine (CUDA) reads and writes device memory: the data goes through its backend.
    Backend* device = getBackend(engine.getBackendName());
    if (device && device->isHostMemory()) device = nullptr;
    std::vector<AlignedBuffer> buffers;
    std::vector<std::unique_ptr<BackendBuffer>> deviceBuffers;
    buffers.reserve(static_cast<size_t>(engine.getNbIOTensors()));
    for (const NamedTensor& input : data.inputs) {
        // An input the engine dropped (unused by any output) needs no data.
        if (!engineHasTensor(engine, input.name, TensorIOMode::kINPUT)) continue;
        if (input.container) {
            if (auto failure = setContainerInput(engine, *context, input, logger)) return failure;
            continue;
        }
        const DataType expected = engine.getTensorDataType(input.name.c_str());
        if (expected != input.tensor.dtype())
            return errorFrom("input '" + input.name + "': the engine takes " + dataTypeName(expected) +
                             ", the test data is " + dataTypeName(input.tensor.dtype()));
        if (!context->setInputShape(input.name.c_str(), dimsOf(input.tensor.shape())))
            return errorFrom("setInputShape: " + logger.firstError("input '" + input.name + "' was refused"));
        buffers.emplace_back(input.tensor.byteSize());
        if (input.tensor.byteSize() > 0) std::memcpy(buffers.back().data(), input.tensor.data(), input.tensor.byteSize());
        void* address = buffers.back().data();
        if (device) {
            deviceBuffers.push_back(std::make_unique<BackendBuffer>(*device, input.tensor.byteSize()));
            address = deviceBuffers.back()->data();
            if (input.tensor.byteSize() > 0)
                if (Status copied = device->copyToDevice(address, input.tensor.data(), input.tensor.byteSize(), nullptr);
                    !copied)
                    return errorFrom("input '" + input.name + "': " + copied.message());
        }
        context->setTensorAddress(input.name.c_str(), address);
    }
    std::map<std::string, std::unique_ptr<OutputCollector>> collectors;
    for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
        const char* name = engine.getIOTensorName(i);
        if (engine.getTensorIOMode(name) == TensorIOMode::kINPUT) {
            if (!context->getTensorAddress(name))
                return errorFrom(std::string("engine input '") + name + "' has no test data");
            continue;
        }
        if (engine.getIOKind(name) != IOKind::kTENSOR) continue;  // read with getOutputValue() after the run
        auto& collector = collectors[name];
        collector = std::make_unique<OutputCollector>(engine.getTensorDataType(name), device);
        if (!context->setOutputAllocator(name, collector.get()))
            return errorFrom("setOutputAllocator: " + logger.firstError("refused for '" + std::string(name) + "'"));
    }
    if (!context->execute()) return errorFrom("execute: " + logger.firstError("execute failed without a reason"));
    for (const NamedTensor& expected : data.expectedOutputs) {
        if (expected.container) {
            if (auto failure = compareContainerOutput(*context, expected, settings, logger)) return failure;
            continue;
        }
        auto collector = collectors.find(expected.name);
        if (collector == collectors.end()) return errorFrom("the engine has no output '" + expected.name + "'");
        auto fetched = collector->second->tensor();
        if (!fetched) return errorFrom("output '" + expected.name + "': " + fetched.status().message());
        std::optional<Tensor> actual = std::move(fetched).value();
        if (!actual) return errorFrom("the run reported no shape for output '" + expected.name + "'");
        if (auto mismatch = compareOutput(expected.name, *actual, expected.tensor, settings.tolerance))
            return StepFailure{Outcome::kFail, *mismatch, ""};
    }
    return std::nullopt;
}

/// Every data set in order; an engine built for static shapes serves them all.
CaseResult executeSteps(const CaseSpec& spec, const ExecutionSettings& settings) {
    ErrorKeepingLogger logger;
    CaseResult result;
    auto fail = [&](const StepFailure& failure, size_t dataSetIndex, size_t dataSetCount) {
        result.outcome = failure.outcome;
        result.message = failure.message;
        if (dataSetCount > 1) result.message = "data set " + std::to_string(dataSetIndex) + ": " + result.message;
        result.failingOp = failure.failingOp;
        return result;
    };
    Expected<GraphPorts> ports = readGraphPorts(spec.directory + "/model.onnx");
    if (!ports) return fail(errorFrom(ports.status().message()), 0, 1);

    BuiltEngine built;
    const size_t count = spec.dataSetDirectories.size();
    for (size_t k = 0; k < count; ++k) {
        Expected<DataSet> data = loadDataSet(spec.dataSetDirectories[k], *ports);
        if (!data) {
            // An unsupported op says more about the case than its data's types: import first.
            auto builder = createBuilder(logger);
            auto network = builder->createNetwork();
            if (auto failure = importModel(spec, *network, logger)) return fail(*failure, k, count);
            return fail(errorFrom("test data: " + data.status().message()), k, count);
        }
        if (!built.engine || built.dynamic) {
            if (auto failure = buildEngine(spec, data->inputs, settings, logger, built)) return fail(*failure, k, count);
        }
        if (auto failure = runDataSet(*built.engine, *data, settings, logger)) return fail(*failure, k, count);
    }
    result.outcome = Outcome::kPass;
    return result;
}

/// One line for the results file. A build report's first line only counts the unsupported layers
/// ("1 layer is not supported by the cpu backend:"): the layer on the next line is the reason.
std::string firstLineOf(const std::string& message) {
    const size_t newline = message.find('\n');
    if (newline == std::string::npos) return message;
    std::string line = message.substr(0, newline);
    if (line.empty() || line.back() != ':') return line;
    const size_t next = message.find('\n', newline + 1);
    std::string detail = message.substr(newline + 1, next == std::string::npos ? std::string::npos : next - newline - 1);
    detail.erase(0, detail.find_first_not_of(" \t-*"));
    return line + " " + detail;
}

}  // namespace

std::string opTypeNamedIn(const std::string& message) {
    static const std::regex nodeDescription(R"(\(([A-Za-z_][A-Za-z0-9_.:]*)\):)");
    std::smatch match;
    return std::regex_search(message, match, nodeDescription) ? match[1].str() : std::string();
}

CaseResult executeCase(const CaseSpec& spec, const ExecutionSettings& settings) {
    const auto start = std::chrono::steady_clock::now();
    CaseResult result = executeSteps(spec, settings);
    result.message = firstLineOf(result.message);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

}  // namespace kiln::conformance
