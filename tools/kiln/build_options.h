#pragma once
// Build options of `kiln exec`: optimization profiles, precision, memory limits and the target.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "io_formats.h"
#include "kiln/builder.h"
#include "shape_spec.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace kiln::cli {

/// "1024" (MiB, trtexec's default unit), "512K", "1.5G", "4096B" -> bytes.
Expected<size_t> parseMemorySize(const std::string& text);

/// --memPoolSize's value `pool:size[,pool:size]`; Kiln has one pool, "workspace".
Expected<size_t> parseWorkspaceLimit(const std::vector<std::string>& args);

class BuildOptions {
public:
    ShapeSpecs minShapes;
    ShapeSpecs optShapes;
    ShapeSpecs maxShapes;
    int64_t maxBatch{0};  // 0: not given; N builds a profile 1/N/N on dimension 0 of dynamic inputs

    bool fp16{false};
    bool bf16{false};
    bool int8{false};
    bool best{false};
    bool noTF32{false};
    bool stronglyTyped{false};
    std::optional<size_t> workspaceBytes;  // unset: the builder's default
    int32_t optimizationLevel{3};
    bool skipInference{false};
    bool noGraphOptimization{false};  // --noGraphOptimization: Kiln's, for hunting a wrong rewrite
    bool verifyPasses{false};         // --verifyPasses: Kiln's, graph verified after every pass
    DeviceType device{DeviceType::kCPU};
    std::vector<IoFormat> inputFormats;   // --inputIOFormats (empty: the model's types, linear)
    std::vector<IoFormat> outputFormats;  // --outputIOFormats
    std::string calibrationCache;         // --calib: INT8 calibration cache (needs --int8)
    std::string timingCacheFile;          // --timingCacheFile
    bool noBuilderCache{false};
    int32_t avgTiming{8};                 // --avgTiming: timing runs averaged per kernel candidate

    /// One line each for deprecated flags that were given: their modern form.
    std::vector<std::string> notes;

    /// Registers the flags in the "Build Options" group of `app`.
    void addOptions(CLI::App& app);
    /// Converts and checks the values after CLI11 has read the command line. `gpuAvailable` picks
    /// the default --backend (Builder::platformHasGpu()).
    Status parse(bool gpuAvailable);

    bool anyShapeFlag() const { return !minShapes.empty() || !optShapes.empty() || !maxShapes.empty(); }
    bool anyPrecisionFlag() const { return fp16 || bf16 || int8 || best || noTF32 || stronglyTyped; }
    /// Sets the builder flags, workspace limit, level and target on `config`.
    void applyTo(BuilderConfig& config) const;

private:
    Status parseShapes();
    Status parseLegacyTiming();

    std::vector<std::string> mMinShapesArgs;
    std::vector<std::string> mOptShapesArgs;
    std::vector<std::string> mMaxShapesArgs;
    std::vector<std::string> mMemPoolArgs;
    std::string mBackend;
    int64_t mLegacyWorkspaceMiB{0};
    bool mExplicitBatch{false};
    bool mBuildOnly{false};
    CLI::Option* mMaxBatchOption{nullptr};
    CLI::Option* mWorkspaceOption{nullptr};
    std::string mInputFormatsArg;
    std::string mOutputFormatsArg;
    CLI::Option* mMinTimingOption{nullptr};
    int32_t mLegacyMinTiming{1};
    std::string mLegacyNvtxMode;
};

}  // namespace kiln::cli
