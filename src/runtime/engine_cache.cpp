// The engine cache (include/kiln/engine_cache.h): the fit rule, LRU eviction, and persistence as one
// file per (model, build settings, Kiln version, non-batch shapes, batch): "<key>-b<batch>.plan", so
// that a process can find the smallest persisted batch that fits without building.

#include "kiln/engine_cache.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <vector>

#include "common/file_io.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/plan_checksum.h"
#include "kiln/parser.h"

namespace kiln {

namespace {

/// The shapes of a request or an engine: the batch (dimension 0 of every input) and the rest.
struct ShapeKey {
    int64_t batch{0};
    std::map<std::string, std::vector<int64_t>> rest;  // each input's dimensions after the first
};

struct CachedEngine {
    ShapeKey shapes;
    bool batchFixed{false};  // the model fixes dimension 0: the engine serves that batch only
    std::shared_ptr<Engine> engine;
    uint64_t lastUse{0};
};

std::string hex(uint64_t value) {
    std::ostringstream text;
    text << std::hex << std::setw(16) << std::setfill('0') << value;
    return text.str();
}

std::string describe(const ShapeKey& key) {
    std::string text;
    for (const auto& [name, rest] : key.rest) {
        if (!text.empty()) text += ',';
        text += name;
        text += ':';
        text += std::to_string(key.batch);
        for (int64_t d : rest) {
            text += 'x';  // appended apart: GCC 12 warns (-Wrestrict) on "x" + std::to_string(d)
            text += std::to_string(d);
        }
    }
    return text;
}

}  // namespace

struct EngineCacheImpl {
    Logger log;
    ILogger& logger;
    std::vector<uint8_t> model;
    std::string modelDir;
    BuilderConfig settings;
    EngineCacheConfig config;
    std::string settingsKey;  // the model hash, build settings and version, for file names
    std::unique_ptr<Builder> builder;
    std::unique_ptr<Runtime> runtime;
    std::mutex mutex;
    std::vector<CachedEngine> engines;
    uint64_t clock{0};
    int64_t builds{0};
    int64_t diskLoads{0};

    EngineCacheImpl(ILogger& sink) : log(&sink), logger(sink) {}

    Expected<ShapeKey> keyOf(const std::map<std::string, Dims>& shapes) const {
        ShapeKey key;
        key.batch = -1;
        for (const auto& [name, dims] : shapes) {
            if (dims.nbDims < 1) return invalidArgument("input '" + name + "' has rank 0: the engine cache needs a batch dimension");
            for (int32_t d = 0; d < dims.nbDims; ++d)
                if (dims.d[d] < 0) return invalidArgument("input '" + name + "' has an unknown dimension");
            if (key.batch >= 0 && dims.d[0] != key.batch)
                return invalidArgument("the inputs' first dimensions differ (" + std::to_string(key.batch) + " and " +
                                       std::to_string(dims.d[0]) + " for '" + name +
                                       "'): the engine cache takes dimension 0 as every input's batch");
            key.batch = dims.d[0];
            key.rest[name] = std::vector<int64_t>(dims.d + 1, dims.d + dims.nbDims);
        }
        if (key.rest.empty()) return invalidArgument("no input shapes given");
        return key;
    }

    /// The file stem of engines for `rest` shapes (the batch is appended).
    std::string fileStem(const ShapeKey& key) const {
        std::string text = settingsKey;
        for (const auto& [name, rest] : key.rest) {
            text += '|';
            text += name;
            for (int64_t d : rest) {
                text += 'x';
                text += std::to_string(d);
            }
        }
        return hex(planChecksum(text.data(), text.size()));
    }

    /// The cached engine of the smallest batch that serves `request`, or nullptr.
    CachedEngine* bestFit(const ShapeKey& request) {
        CachedEngine* best = nullptr;
        for (CachedEngine& e : engines)
            if (e.shapes.rest == request.rest && (e.batchFixed ? e.shapes.batch == request.batch : e.shapes.batch >= request.batch) &&
                (!best || e.shapes.batch < best->shapes.batch))
                best = &e;
        return best;
    }

    /// The persisted engine of the smallest batch that serves `request`, loaded; nullptr when none loads.
    std::shared_ptr<Engine> loadFromDisk(const ShapeKey& request, ShapeKey& found, bool& foundBatchFixed) {
        if (config.directory.empty()) return nullptr;
        const std::string stem = fileStem(request) + "-b";
        std::map<int64_t, std::filesystem::path> candidates;
        std::error_code error;
        for (const auto& entry : std::filesystem::directory_iterator(config.directory, error)) {
            const std::string name = entry.path().filename().string();
            if (name.rfind(stem, 0) != 0 || entry.path().extension() != ".plan") continue;
            const std::string digits = name.substr(stem.size(), name.size() - stem.size() - 5);
            char* end = nullptr;
            const long long batch = std::strtoll(digits.c_str(), &end, 10);
            if (!digits.empty() && *end == '\0' && batch >= request.batch) candidates[batch] = entry.path();
        }
        for (const auto& [batch, path] : candidates) {
            Expected<std::vector<uint8_t>> bytes = readFile(path.string());
            std::shared_ptr<Engine> engine;
            if (bytes) engine = runtime->deserializeEngine(bytes->data(), bytes->size());
            if (!bytes) log.warning("engine cache: " + bytes.status().message());
            if (!engine) {
                log.warning("engine cache: '" + path.string() + "' does not load (reason above); a build replaces it");
                continue;
            }
            // An engine without a profile has every dimension fixed, its batch included: it serves that batch only.
            foundBatchFixed = engine->getNbOptimizationProfiles() == 0;
            if (foundBatchFixed && batch != request.batch) continue;
            found = request;
            found.batch = batch;
            log.info("engine cache: loaded '" + path.string() + "' for " + describe(request));
            return engine;
        }
        return nullptr;
    }

    Expected<CachedEngine> build(const ShapeKey& request) {
        auto network = builder->createNetwork();
        auto parser = createParser(*network, logger);
        if (!parser->parse(model.data(), model.size(), modelDir.c_str())) return invalidModel("the model does not parse");
        auto profile = builder->createOptimizationProfile();
        bool dynamic = false, batchFixed = true;
        for (int32_t i = 0; i < network->getNbInputs(); ++i) {
            ITensor* input = network->getInput(i);
            auto it = request.rest.find(input->getName());
            if (it == request.rest.end()) return invalidArgument(std::string("no shape given for input '") + input->getName() + "'");
            const Dims declared = input->getDimensions();
            if (declared.nbDims != static_cast<int32_t>(it->second.size()) + 1)
                return invalidArgument(std::string("input '") + input->getName() + "' has rank " + std::to_string(declared.nbDims));
            Dims min, max;
            min.nbDims = max.nbDims = declared.nbDims;
            min.d[0] = 1;
            max.d[0] = request.batch;
            for (int32_t d = 1; d < declared.nbDims; ++d) min.d[d] = max.d[d] = it->second[static_cast<size_t>(d - 1)];
            for (int32_t d = 0; d < declared.nbDims; ++d) {
                dynamic = dynamic || declared.d[d] < 0;
                if (declared.d[d] >= 0 && declared.d[d] != max.d[d])
                    return invalidArgument(std::string("input '") + input->getName() + "' has dimension " + std::to_string(d) +
                                           " fixed at " + std::to_string(declared.d[d]) + " by the model, the request gives " +
                                           std::to_string(max.d[d]));
            }
            if (declared.d[0] >= 0) min.d[0] = declared.d[0];
            batchFixed = batchFixed && declared.d[0] >= 0;
            profile->setDimensions(input->getName(), OptProfileSelector::kMIN, min);
            profile->setDimensions(input->getName(), OptProfileSelector::kOPT, max);
            profile->setDimensions(input->getName(), OptProfileSelector::kMAX, max);
        }
        if (request.rest.size() != static_cast<size_t>(network->getNbInputs()))
            return invalidArgument("the shapes name " + std::to_string(request.rest.size()) + " inputs, the model has " +
                                   std::to_string(network->getNbInputs()));
        BuilderConfig buildConfig = settings;
        buildConfig.clearOptimizationProfiles();
        if (dynamic && buildConfig.addOptimizationProfile(profile.get()) < 0)
            return invalidArgument("the shapes " + describe(request) + " do not make a valid profile for the model");
        const auto start = std::chrono::steady_clock::now();
        std::unique_ptr<HostMemory> plan = builder->buildSerializedNetwork(*network, buildConfig);
        if (!plan) return invalidModel("the build failed (reasons above)");
        std::shared_ptr<Engine> engine(runtime->deserializeEngine(plan->data(), plan->size()));
        if (!engine) return internalError("the engine just built does not deserialize");
        ++builds;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log.info("engine cache: built an engine for " + describe(request) + " (batch <= " + std::to_string(request.batch) +
                 ") in " + std::to_string(seconds) + " s; " + std::to_string(builds) + " built by this cache");
        if (!config.directory.empty()) {
            const std::filesystem::path path =
                std::filesystem::path(config.directory) / (fileStem(request) + "-b" + std::to_string(request.batch) + ".plan");
            const std::string partial = path.string() + ".partial";
            Status written = writeFile(partial, plan->data(), plan->size());
            std::error_code error;
            if (written) std::filesystem::rename(partial, path, error);
            if (!written || error)
                log.warning("engine cache: cannot write '" + path.string() + "' (" +
                            (written ? error.message() : written.message()) + "): the engine stays in memory only");
        }
        return CachedEngine{request, batchFixed, engine, 0};
    }

    void insert(CachedEngine entry) {
        entry.lastUse = ++clock;
        engines.push_back(std::move(entry));
        while (static_cast<int32_t>(engines.size()) > config.maxCachedEngines) {
            auto oldest = engines.begin();
            for (auto it = engines.begin(); it != engines.end(); ++it)
                if (it->lastUse < oldest->lastUse) oldest = it;
            log.verbose("engine cache: evicting the engine for " + describe(oldest->shapes));
            engines.erase(oldest);
        }
    }
};

EngineCache::EngineCache(std::unique_ptr<EngineCacheImpl> impl) : mImpl(std::move(impl)) {}
EngineCache::~EngineCache() = default;

std::shared_ptr<Engine> EngineCache::getEngine(const std::map<std::string, Dims>& inputShapes) noexcept {
    EngineCacheImpl& c = *mImpl;
    try {
        std::lock_guard<std::mutex> lock(c.mutex);
        Expected<ShapeKey> request = c.keyOf(inputShapes);
        if (!request) {
            c.log.error("engine cache: " + request.status().message());
            return nullptr;
        }
        if (CachedEngine* hit = c.bestFit(*request)) {
            hit->lastUse = ++c.clock;
            return hit->engine;
        }
        ShapeKey found;
        bool batchFixed = false;
        if (std::shared_ptr<Engine> loaded = c.loadFromDisk(*request, found, batchFixed)) {
            ++c.diskLoads;
            c.insert(CachedEngine{found, batchFixed, loaded, 0});
            return loaded;
        }
        Expected<CachedEngine> built = c.build(*request);
        if (!built) {
            c.log.error("engine cache: cannot build an engine for " + describe(*request) + ": " + built.status().message());
            return nullptr;
        }
        std::shared_ptr<Engine> engine = built->engine;
        c.insert(std::move(*built));
        return engine;
    } catch (const std::exception& e) {
        c.log.error(std::string("engine cache: ") + e.what());
        return nullptr;
    }
}

int64_t EngineCache::getNbBuilds() const noexcept {
    std::lock_guard<std::mutex> lock(mImpl->mutex);
    return mImpl->builds;
}

int64_t EngineCache::getNbDiskLoads() const noexcept {
    std::lock_guard<std::mutex> lock(mImpl->mutex);
    return mImpl->diskLoads;
}

int32_t EngineCache::getNbCachedEngines() const noexcept {
    std::lock_guard<std::mutex> lock(mImpl->mutex);
    return static_cast<int32_t>(mImpl->engines.size());
}

std::unique_ptr<EngineCache> createEngineCache(ILogger& logger, const std::string& onnxPath, const BuilderConfig& settings,
                                               EngineCacheConfig config) noexcept {
    try {
        auto impl = std::make_unique<EngineCacheImpl>(logger);
        if (config.maxCachedEngines < 1) {
            impl->log.error("engine cache: maxCachedEngines must be at least 1, got " + std::to_string(config.maxCachedEngines));
            return nullptr;
        }
        Expected<std::vector<uint8_t>> model = readFile(onnxPath);
        if (!model) {
            impl->log.error("engine cache: " + model.status().message());
            return nullptr;
        }
        impl->model = std::move(model).value();
        impl->modelDir = std::filesystem::path(onnxPath).parent_path().string();
        if (!config.directory.empty()) {
            std::error_code error;
            std::filesystem::create_directories(config.directory, error);
            if (error) {
                impl->log.error("engine cache: cannot create '" + config.directory + "': " + error.message());
                return nullptr;
            }
        }
        impl->settings = settings;
        impl->config = std::move(config);
        // Everything but the shapes that decides an engine's bytes: the model, the build settings, Kiln.
        std::ostringstream key;
        key << hex(planChecksum(impl->model.data(), impl->model.size())) << "|kiln " << getVersion() << "|device "
            << static_cast<int>(settings.getDefaultDeviceType()) << "|level " << settings.getBuilderOptimizationLevel()
            << "|workspace " << settings.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE) << "|flags";
        for (int32_t flag = 0; flag < 32; ++flag) key << (settings.getFlag(static_cast<BuilderFlag>(flag)) ? '1' : '0');
        for (const auto& [name, type] : settings.getIoTypes()) key << "|io " << name << " " << static_cast<int>(type);
        impl->settingsKey = key.str();
        impl->builder = createBuilder(logger);
        impl->runtime = createRuntime(logger);
        // The model must parse once here, so a bad file fails now rather than at the first request.
        auto network = impl->builder->createNetwork();
        auto parser = createParser(*network, logger);
        if (!parser->parse(impl->model.data(), impl->model.size(), impl->modelDir.c_str())) {
            impl->log.error("engine cache: '" + onnxPath + "' does not parse (reasons above)");
            return nullptr;
        }
        return std::unique_ptr<EngineCache>(new EngineCache(std::move(impl)));
    } catch (const std::exception& e) {
        Logger(&logger).error(std::string("engine cache: ") + e.what());
        return nullptr;
    }
}

}  // namespace kiln
