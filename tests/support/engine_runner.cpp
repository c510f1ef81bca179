#include "engine_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

namespace kiln::test {

void CapturingLogger::log(Severity severity, const char* message) noexcept {
    all.emplace_back(message);
    messages.emplace_back(severity, message);
    if (severity <= Severity::kERROR) {
        errors.emplace_back(message);
        std::fprintf(stderr, "[E] %s\n", message);
    }
}

std::vector<std::string> CapturingLogger::at(Severity severity) const {
    std::vector<std::string> out;
    for (const auto& [s, m] : messages)
        if (s == severity) out.push_back(m);
    return out;
}

EngineRun buildAndRun(Builder& builder, NetworkDefinition& network, const BuilderConfig& config,
                      const std::map<std::string, Tensor>& inputs, ILogger& logger) {
    EngineRun result;
    auto plan = builder.buildSerializedNetwork(network, config);
    if (!plan) return result;
    auto runtime = createRuntime(logger);
    auto engine = runtime->deserializeEngine(plan->data(), plan->size());
    if (!engine) return result;
    result.numLayers = static_cast<size_t>(engine->getNbLayers());
    result.layerJson = engine->getLayerInformationJson();
    auto context = engine->createExecutionContext();
    if (!context) return result;
    for (const auto& [name, tensor] : inputs) {
        Dims dims;
        dims.nbDims = static_cast<int32_t>(tensor.rank());
        for (int32_t i = 0; i < dims.nbDims; ++i) dims.d[i] = tensor.shape()[static_cast<size_t>(i)];
        if (!context->setInputShape(name.c_str(), dims)) return result;
        if (!context->setTensorAddress(name.c_str(), const_cast<void*>(tensor.data()))) return result;
    }
    std::vector<std::unique_ptr<HostOutputAllocator>> allocators;  // by output; nullptr for a static shape
    for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
        const char* name = engine->getIOTensorName(i);
        if (engine->getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
        Dims d = context->getTensorShape(name);
        if (d.nbDims < 0) return result;
        Shape shape(d.d, d.d + d.nbDims);
        bool dataDependent = std::any_of(shape.begin(), shape.end(), [](int64_t e) { return e < 0; });
        if (dataDependent) {
            allocators.push_back(std::make_unique<HostOutputAllocator>());
            context->setOutputAllocator(name, allocators.back().get());
            result.outputs.emplace_back();
        } else {
            allocators.push_back(nullptr);
            result.outputs.push_back(Tensor::allocate(engine->getTensorDataType(name), shape));
            context->setTensorAddress(name, result.outputs.back().data());
        }
    }
    result.ok = context->execute();
    size_t outputIndex = 0;
    for (int32_t i = 0; result.ok && i < engine->getNbIOTensors(); ++i) {
        const char* name = engine->getIOTensorName(i);
        if (engine->getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
        if (const auto& allocator = allocators[outputIndex]) {
            Tensor t = Tensor::allocate(engine->getTensorDataType(name), allocator->shape);
            if (t.byteSize() != 0) std::memcpy(t.data(), allocator->storage.data(), t.byteSize());
            result.outputs[outputIndex] = std::move(t);
        }
        ++outputIndex;
    }
    return result;
}

}  // namespace kiln::test
