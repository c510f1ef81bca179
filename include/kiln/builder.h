#pragma once
/// \file builder.h
/// Builder, BuilderConfig and OptimizationProfile: turn a NetworkDefinition into a serialized engine.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/calibrator.h"
#include "kiln/logger.h"
#include "kiln/network.h"
#include "kiln/timing_cache.h"
#include "kiln/types.h"

namespace kiln {

/// Bytes owned by Kiln (a serialized engine).
class HostMemory {
public:
    explicit HostMemory(std::vector<uint8_t> bytes) : mBytes(std::move(bytes)) {}
    const void* data() const noexcept { return mBytes.data(); }
    size_t size() const noexcept { return mBytes.size(); }

private:
    std::vector<uint8_t> mBytes;
};

/// min / opt / max dimensions for each dynamic input. Kernels are tuned at opt.
class OptimizationProfile {
public:
    bool setDimensions(const char* inputName, OptProfileSelector select, const Dims& dims) noexcept;
    /// The dims set for `inputName`, or nbDims == -1 when none were set.
    Dims getDimensions(const char* inputName, OptProfileSelector select) const noexcept;
    /// Names of the inputs this profile constrains.
    std::vector<std::string> getInputNames() const;
    /// Values of a shape-tensor input (an int32 / int64 input whose contents decide shapes, e.g. a
    /// Reshape target), element by element, as TensorRT's setShapeValues. At run time the context
    /// reads such an input from host memory (setTensorAddress) before each run.
    bool setShapeValues(const char* inputName, OptProfileSelector select, const int64_t* values,
                        int32_t nbValues) noexcept;
    /// The values set for `inputName` (empty when none).
    std::vector<int64_t> getShapeValues(const char* inputName, OptProfileSelector select) const;
    /// Names of the inputs given shape values.
    std::vector<std::string> getShapeValueInputNames() const;
    /// True when every constrained input has min <= opt <= max of equal ranks (dims and values).
    bool isValid() const noexcept;

private:
    std::map<std::string, Dims> mDims[3];
    std::map<std::string, std::vector<int64_t>> mValues[3];
};

/// Follows an engine build, as TensorRT's IProgressMonitor does. Phases nest: a phase started
/// while another runs names it as `parentPhase` (nullptr for a top-level phase). Calls come from
/// the thread that called buildSerializedNetwork().
class IProgressMonitor {
public:
    virtual ~IProgressMonitor() = default;
    /// A phase of `nbSteps` steps begins.
    virtual void phaseStart(const char* phaseName, const char* parentPhase, int32_t nbSteps) noexcept = 0;
    /// Step `step` (0-based) of `phaseName` is done. Returning false cancels the build, which then
    /// fails with a message saying it was cancelled.
    virtual bool stepComplete(const char* phaseName, int32_t step) noexcept = 0;
    /// The phase ended (also when the build failed or was cancelled inside it).
    virtual void phaseFinish(const char* phaseName) noexcept = 0;
};

enum class BuilderFlag : int32_t {
    kFP16 = 0,   ///< layers may run in FP16 where that is faster
    kBF16 = 1,   ///< layers may run in BF16 where that is faster
    kINT8 = 2,   ///< layers may run in INT8
    kTF32 = 3,   ///< FP32 matrix math may use TF32 (on by default)
    kDEBUG = 4,  ///< verify the graph after every optimization pass
    /// Skip the graph optimization passes (folding, fusion): for comparing optimized and
    /// unoptimized engines when hunting a wrong result.
    kNO_GRAPH_OPTIMIZATION = 5,
};

enum class MemoryPoolType : int32_t { kWORKSPACE = 0 };

/// Which backend the engine targets.
enum class DeviceType : int32_t { kCPU = 0, kGPU = 1 };

class BuilderConfig {
public:
    void setFlag(BuilderFlag flag) noexcept { mFlags |= 1u << static_cast<uint32_t>(flag); }
    void clearFlag(BuilderFlag flag) noexcept { mFlags &= ~(1u << static_cast<uint32_t>(flag)); }
    bool getFlag(BuilderFlag flag) const noexcept { return (mFlags >> static_cast<uint32_t>(flag)) & 1u; }

    /// Adds a profile (copied); returns its index, or -1 when it is invalid.
    int32_t addOptimizationProfile(const OptimizationProfile* profile) noexcept;
    void clearOptimizationProfiles() noexcept { mProfiles.clear(); }
    int32_t getNbOptimizationProfiles() const noexcept { return static_cast<int32_t>(mProfiles.size()); }
    const OptimizationProfile& getOptimizationProfile(int32_t index) const { return mProfiles.at(index); }

    void setMemoryPoolLimit(MemoryPoolType pool, size_t bytes) noexcept { mWorkspaceLimit = bytes; (void)pool; }
    size_t getMemoryPoolLimit(MemoryPoolType pool) const noexcept { (void)pool; return mWorkspaceLimit; }

    void setDefaultDeviceType(DeviceType type) noexcept { mDeviceType = type; }
    DeviceType getDefaultDeviceType() const noexcept { return mDeviceType; }

    void setBuilderOptimizationLevel(int32_t level) noexcept { mOptimizationLevel = level; }
    int32_t getBuilderOptimizationLevel() const noexcept { return mOptimizationLevel; }

    /// The timing cache the build reads and adds to (not owned; nullptr: none, every problem is timed).
    void setTimingCache(TimingCache* cache) noexcept { mTimingCache = cache; }
    TimingCache* getTimingCache() const noexcept { return mTimingCache; }
    /// Timed runs per implementation while choosing kernels (their median decides; default 8, as
    /// trtexec's --avgTiming).
    void setAvgTimingIterations(int32_t iterations) noexcept { mAvgTimingIterations = iterations; }
    int32_t getAvgTimingIterations() const noexcept { return mAvgTimingIterations; }

    /// Binds the network input or output `tensorName` as `type` where the network has another (trtexec's
    /// --inputIOFormats / --outputIOFormats): float32, float16 and bfloat16 convert among themselves at the
    /// engine's boundary, which --fp16 layers then read or write directly. The build fails, naming the
    /// tensor, for an unknown name or another type.
    void setIoType(const std::string& tensorName, DataType type) { mIoTypes[tensorName] = type; }
    const std::map<std::string, DataType>& getIoTypes() const noexcept { return mIoTypes; }

    /// Reports the build's phases to `monitor` (not owned; nullptr: none).
    void setProgressMonitor(IProgressMonitor* monitor) noexcept { mProgressMonitor = monitor; }
    IProgressMonitor* getProgressMonitor() const noexcept { return mProgressMonitor; }

    /// With kINT8: the calibrator whose data (or cache) gives each activation's dynamic range (not
    /// owned; nullptr: none, and kINT8 then changes nothing). The builder turns the ranges into
    /// QuantizeLinear / DequantizeLinear pairs before the inputs of Conv, ConvTranspose, MatMul and Gemm
    /// (and per-channel ones on their constant weights): INT8 numerics, run by the backends' Q/DQ kernels.
    /// A network that has its own Q/DQ layers (explicit quantization) is left as it is.
    void setInt8Calibrator(IInt8Calibrator* calibrator) noexcept { mInt8Calibrator = calibrator; }
    IInt8Calibrator* getInt8Calibrator() const noexcept { return mInt8Calibrator; }

private:
    uint32_t mFlags{1u << static_cast<uint32_t>(BuilderFlag::kTF32)};
    std::vector<OptimizationProfile> mProfiles;
    size_t mWorkspaceLimit{size_t(1) << 32};
    DeviceType mDeviceType{DeviceType::kCPU};
    int32_t mOptimizationLevel{3};
    IProgressMonitor* mProgressMonitor{nullptr};
    IInt8Calibrator* mInt8Calibrator{nullptr};
    TimingCache* mTimingCache{nullptr};
    int32_t mAvgTimingIterations{8};
    std::map<std::string, DataType> mIoTypes;
};

class Builder {
public:
    ~Builder();
    std::unique_ptr<NetworkDefinition> createNetwork() noexcept;
    std::unique_ptr<BuilderConfig> createBuilderConfig() noexcept;
    std::unique_ptr<OptimizationProfile> createOptimizationProfile() noexcept;

    /// Optimizes `network` for the configured target and serializes the engine. Returns nullptr
    /// and logs every reason when the network cannot be built (all unsupported layers at once).
    std::unique_ptr<HostMemory> buildSerializedNetwork(NetworkDefinition& network, const BuilderConfig& config) noexcept;

    /// Whether this Kiln was built with, and this machine has, a usable GPU backend.
    bool platformHasGpu() const noexcept;

private:
    friend std::unique_ptr<Builder> createBuilder(ILogger& logger) noexcept;
    explicit Builder(ILogger& logger) : mLogger(logger) {}
    ILogger& mLogger;
};

std::unique_ptr<Builder> createBuilder(ILogger& logger) noexcept;

/// Kiln's version, "MAJOR.MINOR.PATCH".
const char* getVersion() noexcept;

}  // namespace kiln
