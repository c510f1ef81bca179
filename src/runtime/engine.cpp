// Runtime and Engine: deserialization, the target check, and the engine's read-only queries.

#include <sstream>

#include "engine/plan_serializer.h"
#include "kiln/runtime.h"
#include "runtime/engine_impl.h"
#include "runtime/layer_report.h"

namespace kiln {

EngineImpl::~EngineImpl() {
    for (auto& [id, ptr] : deviceConstants) backend->deallocate(ptr);
}

const IOTensor* EngineImpl::findIO(const char* name) const {
    if (!name) return nullptr;
    for (const IOTensor& t : io)
        if (t.name == name) return &t;
    return nullptr;
}

void* EngineImpl::constantAddress(const Value& value) const {
    if (backend->isHostMemory()) return const_cast<void*>(value.constant->data());
    auto it = deviceConstants.find(value.id);
    return it == deviceConstants.end() ? nullptr : it->second;
}

namespace {

Dims toPublicDims(const SymShape& shape) {
    Dims d;
    d.nbDims = static_cast<int32_t>(std::min<size_t>(shape.size(), kMaxDims));
    for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = shape[static_cast<size_t>(i)].value;
    return d;
}

Dims toPublicDims(const Shape& shape) {
    Dims d;
    d.nbDims = static_cast<int32_t>(std::min<size_t>(shape.size(), kMaxDims));
    for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = shape[static_cast<size_t>(i)];
    return d;
}

Dims invalidDims() {
    Dims d;
    d.nbDims = -1;
    return d;
}

Status uploadConstants(EngineImpl& impl) {
    if (impl.backend->isHostMemory()) return Status::ok();
    for (const auto& v : impl.plan.graph->values()) {
        if (!v || !v->isConstant()) continue;
        size_t bytes = v->constant->byteSize();
        void* ptr = impl.backend->allocate(bytes);
        if (!ptr) return {StatusCode::kOutOfMemory, "out of device memory uploading weight '" + v->name + "'"};
        impl.deviceConstants[v->id] = ptr;
        KILN_RETURN_IF_ERROR(impl.backend->copyToDevice(ptr, v->constant->data(), bytes, nullptr));
    }
    return impl.backend->synchronize(nullptr);
}

Expected<std::unique_ptr<EngineImpl>> loadEngine(const void* data, size_t size, ILogger& logger) {
    if (!data || size == 0) return invalidEngine("engine is empty (0 bytes)");
    KILN_ASSIGN_OR_RETURN(EnginePlan plan, deserializePlan(data, size));
    std::string error;
    Backend* backend = getBackend(plan.backend, &error);
    if (!backend) return invalidEngine("engine was built for backend '" + plan.backend + "', which is not available here: " + error);
    std::string here = backend->targetDescription();
    if (here != plan.target)
        return invalidEngine("engine was built for " + plan.backend + " target '" + plan.target + "', but this machine is '" +
                             here + "': engines are not portable across devices or library versions; rebuild it here");
    auto impl = std::make_unique<EngineImpl>();
    impl->log = Logger(&logger);
    impl->backend = backend;
    impl->plan = std::move(plan);
    const Graph& g = *impl->plan.graph;
    for (Value* in : g.inputs()) impl->io.push_back({in->name, TensorIOMode::kINPUT, in});
    for (Value* out : g.outputs()) impl->io.push_back({out->name, TensorIOMode::kOUTPUT, out});
    // A sequence or optional I/O is bound to a host handle (runtime/host_value_io.cpp).
    for (const IOTensor& io : impl->io)
        if (!io.value->container.isTensor() && !backend->isHostMemory())
            return invalidEngine("I/O '" + io.name + "' is a " + containerTypeName(io.value->container) +
                                 ", which only engines of a host-memory backend (cpu) can take or return");
    KILN_RETURN_IF_ERROR(uploadConstants(*impl));
    return impl;
}

}  // namespace

std::unique_ptr<Runtime> createRuntime(ILogger& logger) noexcept { return std::unique_ptr<Runtime>(new Runtime(logger)); }

std::unique_ptr<Engine> Runtime::deserializeEngine(const void* data, size_t size) noexcept {
    try {
        auto impl = loadEngine(data, size, mLogger);
        if (!impl) {
            Logger(&mLogger).error(impl.status().message());
            return nullptr;
        }
        return std::unique_ptr<Engine>(new Engine(std::move(impl).value()));
    } catch (const std::exception& e) {
        Logger(&mLogger).error(std::string("deserializeEngine: ") + e.what());
        return nullptr;
    }
}

Engine::Engine(std::unique_ptr<EngineImpl> impl) : mImpl(std::move(impl)) {}
Engine::~Engine() = default;

int32_t Engine::getNbIOTensors() const noexcept { return static_cast<int32_t>(mImpl->io.size()); }

const char* Engine::getIOTensorName(int32_t index) const noexcept {
    if (index < 0 || index >= getNbIOTensors()) return nullptr;
    return mImpl->io[static_cast<size_t>(index)].name.c_str();
}

TensorIOMode Engine::getTensorIOMode(const char* name) const noexcept {
    const IOTensor* t = mImpl->findIO(name);
    return t ? t->mode : TensorIOMode::kNONE;
}

DataType Engine::getTensorDataType(const char* name) const noexcept {
    const IOTensor* t = mImpl->findIO(name);
    if (!t) return DataType::kFLOAT;
    return t->value->container.isTensor() ? t->value->dtype : t->value->container.elementType;
}

Dims Engine::getTensorShape(const char* name) const noexcept {
    const IOTensor* t = mImpl->findIO(name);
    if (!t) return invalidDims();
    const ContainerType& container = t->value->container;
    if (container.isTensor()) return toPublicDims(t->value->shape);
    return container.elementShape ? toPublicDims(*container.elementShape) : invalidDims();
}

int32_t Engine::getNbOptimizationProfiles() const noexcept { return static_cast<int32_t>(mImpl->plan.profiles.size()); }

Dims Engine::getProfileShape(const char* name, int32_t profileIndex, OptProfileSelector select) const noexcept {
    if (!name || profileIndex < 0 || profileIndex >= getNbOptimizationProfiles()) return invalidDims();
    const auto& inputs = mImpl->plan.profiles[static_cast<size_t>(profileIndex)].inputs;
    auto it = inputs.find(name);
    if (it == inputs.end()) return invalidDims();
    return toPublicDims(it->second[static_cast<size_t>(select)]);
}

bool Engine::isShapeInferenceIO(const char* name) const noexcept {
    if (!name) return false;
    for (const ProfileShapes& profile : mImpl->plan.profiles)
        if (profile.shapeValues.count(name)) return true;
    return false;
}

std::vector<int64_t> Engine::getProfileShapeValues(const char* name, int32_t profileIndex,
                                                   OptProfileSelector select) const noexcept {
    if (!name || profileIndex < 0 || profileIndex >= getNbOptimizationProfiles()) return {};
    const auto& values = mImpl->plan.profiles[static_cast<size_t>(profileIndex)].shapeValues;
    auto it = values.find(name);
    return it == values.end() ? std::vector<int64_t>{} : it->second[static_cast<size_t>(select)];
}

int32_t Engine::getNbLayers() const noexcept { return static_cast<int32_t>(mImpl->plan.graph->nodes().size()); }

size_t Engine::getDeviceMemorySize() const noexcept {
    size_t most = 0;
    for (uint64_t b : mImpl->plan.activationBytesPerProfile) most = std::max<size_t>(most, b);
    return most;
}

size_t Engine::getDeviceMemorySizeForProfile(int32_t profileIndex) const noexcept {
    const auto& v = mImpl->plan.activationBytesPerProfile;
    if (profileIndex < 0 || static_cast<size_t>(profileIndex) >= v.size()) return 0;
    return v[static_cast<size_t>(profileIndex)];
}

const char* Engine::getBackendName() const noexcept { return mImpl->plan.backend.c_str(); }

std::string Engine::getLayerInformationJson() const noexcept {
    try {
        return layerReportJson(mImpl->plan).dump(2);
    } catch (const std::exception& e) {
        return std::string("{\"error\": \"") + e.what() + "\"}";
    }
}

}  // namespace kiln
