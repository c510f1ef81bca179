#pragma once
/// \file engine_cache.h
/// Seed 002's dynamic mode, TF-TRT's engine cache: when the input shapes are not known before
/// deployment, engines are built lazily for the shapes met at run time and kept.
///
/// An engine built for batch B (dimension 0 of the inputs) and other dimensions D serves every input
/// of batch b <= B with the same D; of the engines that fit, the smallest batch wins. A request that
/// none fits builds an engine for exactly its batch (its profile: dimension 0 from 1 to b, the rest
/// fixed). Dimensions the model fixes must be requested as they are (a model with a fixed batch gets
/// engines that serve that batch only). At most `maxCachedEngines` stay in memory (the least recently used goes; an engine still
/// held by the caller lives on). With a directory, engines persist across processes, one file per key
/// (model hash, shapes, build settings, Kiln version); a file that no longer loads (another GPU, a
/// damaged file) is rebuilt and rewritten. Builds are counted and logged, since a slow request is
/// usually one that built an engine.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "kiln/builder.h"
#include "kiln/logger.h"
#include "kiln/runtime.h"
#include "kiln/types.h"

namespace kiln {

struct EngineCacheConfig {
    int32_t maxCachedEngines{1};  ///< engines kept in memory, least recently used evicted (TF-TRT's default is 1)
    std::string directory;        ///< where built engines persist across processes; "" keeps them in memory only
};

struct EngineCacheImpl;

class EngineCache {
public:
    ~EngineCache();
    /// The engine for these input shapes (every network input by name, fully known), built or loaded
    /// when no cached engine fits; nullptr (with the reason logged) when the shapes do not suit the
    /// model or the build fails. Thread-safe; a build holds the cache for its duration.
    std::shared_ptr<Engine> getEngine(const std::map<std::string, Dims>& inputShapes) noexcept;

    int64_t getNbBuilds() const noexcept;      ///< engines built by this cache
    int64_t getNbDiskLoads() const noexcept;   ///< engines read from the directory instead
    int32_t getNbCachedEngines() const noexcept;

private:
    friend std::unique_ptr<EngineCache> createEngineCache(ILogger&, const std::string&, const BuilderConfig&,
                                                          EngineCacheConfig) noexcept;
    explicit EngineCache(std::unique_ptr<EngineCacheImpl> impl);
    std::unique_ptr<EngineCacheImpl> mImpl;
};

/// A cache for the ONNX model at `onnxPath`, building with `settings` (flags, target device,
/// workspace, optimization level, timing cache; its profiles are ignored: the cache makes its own).
/// nullptr (logged) when the model cannot be read or parsed, or the config is invalid.
std::unique_ptr<EngineCache> createEngineCache(ILogger& logger, const std::string& onnxPath, const BuilderConfig& settings,
                                               EngineCacheConfig config) noexcept;

}  // namespace kiln
