// The public Builder / BuilderConfig / OptimizationProfile objects.

#include <algorithm>
#include <exception>

#include "backends/backend.h"
#include "builder/engine_builder.h"
#include "common/logging.h"
#include "engine/plan_serializer.h"
#include "kiln/builder.h"

namespace kiln {

bool OptimizationProfile::setDimensions(const char* inputName, OptProfileSelector select, const Dims& dims) noexcept {
    if (!inputName || dims.nbDims < 0 || dims.nbDims > kMaxDims) return false;
    for (int32_t i = 0; i < dims.nbDims; ++i)
        if (dims.d[i] < 0) return false;
    mDims[static_cast<int>(select)][inputName] = dims;
    return true;
}

Dims OptimizationProfile::getDimensions(const char* inputName, OptProfileSelector select) const noexcept {
    const auto& m = mDims[static_cast<int>(select)];
    auto it = inputName ? m.find(inputName) : m.end();
    if (it == m.end()) {
        Dims d;
        d.nbDims = -1;
        return d;
    }
    return it->second;
}

std::vector<std::string> OptimizationProfile::getInputNames() const {
    std::vector<std::string> names;
    for (const auto& m : mDims)
        for (const auto& [name, dims] : m)
            if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    return names;
}

bool OptimizationProfile::setShapeValues(const char* inputName, OptProfileSelector select, const int64_t* values,
                                         int32_t nbValues) noexcept {
    if (!inputName || nbValues < 0 || (nbValues > 0 && !values)) return false;
    try {
        mValues[static_cast<int>(select)][inputName] = std::vector<int64_t>(values, values + nbValues);
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

std::vector<int64_t> OptimizationProfile::getShapeValues(const char* inputName, OptProfileSelector select) const {
    const auto& m = mValues[static_cast<int>(select)];
    auto it = inputName ? m.find(inputName) : m.end();
    return it == m.end() ? std::vector<int64_t>{} : it->second;
}

std::vector<std::string> OptimizationProfile::getShapeValueInputNames() const {
    std::vector<std::string> names;
    for (const auto& m : mValues)
        for (const auto& [name, values] : m)
            if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    return names;
}

bool OptimizationProfile::isValid() const noexcept {
    for (const std::string& name : getShapeValueInputNames()) {
        auto lo = getShapeValues(name.c_str(), OptProfileSelector::kMIN);
        auto opt = getShapeValues(name.c_str(), OptProfileSelector::kOPT);
        auto hi = getShapeValues(name.c_str(), OptProfileSelector::kMAX);
        if (lo.size() != opt.size() || opt.size() != hi.size()) return false;
        for (size_t i = 0; i < lo.size(); ++i)
            if (!(lo[i] <= opt[i] && opt[i] <= hi[i])) return false;
    }
    for (const std::string& name : getInputNames()) {
        Dims lo = getDimensions(name.c_str(), OptProfileSelector::kMIN);
        Dims opt = getDimensions(name.c_str(), OptProfileSelector::kOPT);
        Dims hi = getDimensions(name.c_str(), OptProfileSelector::kMAX);
        if (lo.nbDims < 0 || lo.nbDims != opt.nbDims || opt.nbDims != hi.nbDims) return false;
        for (int32_t i = 0; i < lo.nbDims; ++i)
            if (!(lo.d[i] <= opt.d[i] && opt.d[i] <= hi.d[i])) return false;
    }
    return true;
}

int32_t BuilderConfig::addOptimizationProfile(const OptimizationProfile* profile) noexcept {
    if (!profile || !profile->isValid()) return -1;
    mProfiles.push_back(*profile);
    return static_cast<int32_t>(mProfiles.size()) - 1;
}

std::unique_ptr<Builder> createBuilder(ILogger& logger) noexcept { return std::unique_ptr<Builder>(new Builder(logger)); }

Builder::~Builder() = default;

std::unique_ptr<NetworkDefinition> Builder::createNetwork() noexcept {
    return std::unique_ptr<NetworkDefinition>(new NetworkDefinition(mLogger));
}

std::unique_ptr<BuilderConfig> Builder::createBuilderConfig() noexcept { return std::make_unique<BuilderConfig>(); }

std::unique_ptr<OptimizationProfile> Builder::createOptimizationProfile() noexcept {
    return std::make_unique<OptimizationProfile>();
}

std::unique_ptr<HostMemory> Builder::buildSerializedNetwork(NetworkDefinition& network, const BuilderConfig& config) noexcept {
    Logger log(&mLogger);
    try {
        // The plan's steps, then serialization.
        ProgressPhase build(config.getProgressMonitor(), "Building engine", nullptr, kPlanSteps + 1);
        auto plan = buildEnginePlan(network.graph(), config, log, build);
        if (!plan) {
            log.error(plan.status().message());
            return nullptr;
        }
        auto bytes = serializePlan(plan.value());
        if (!bytes) {
            log.error(bytes.status().message());
            return nullptr;
        }
        if (Status done = build.completeStep(); !done) {
            log.error(done.message());
            return nullptr;
        }
        return std::make_unique<HostMemory>(std::move(bytes).value());
    } catch (const std::bad_alloc&) {
        log.error("buildSerializedNetwork: out of memory");
    } catch (const std::exception& e) {
        log.error(std::string("buildSerializedNetwork: internal error: ") + e.what());
    }
    return nullptr;
}

bool Builder::platformHasGpu() const noexcept {
    std::string error;
    return getBackend("cuda", &error) != nullptr;
}

}  // namespace kiln
