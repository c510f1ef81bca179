#include "engine_runner.h"

#include <cstdio>

namespace kiln::test {

void CapturingLogger::log(Severity severity, const char* message) noexcept {
    all.emplace_back(message);
    if (severity <= Severity::kERROR) {
        errors.emplace_back(message);
        std::fprintf(stderr, "[E] %s\n", message);
    }
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
    for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
        const char* name = engine->getIOTensorName(i);
        if (engine->getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
        Dims d = context->getTensorShape(name);
        if (d.nbDims < 0) return result;
        Shape shape(d.d, d.d + d.nbDims);
        result.outputs.push_back(Tensor::allocate(engine->getTensorDataType(name), shape));
        context->setTensorAddress(name, result.outputs.back().data());
    }
    result.ok = context->execute();
    return result;
}

}  // namespace kiln::test
