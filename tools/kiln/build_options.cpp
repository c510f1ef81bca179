#include "build_options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <cmath>

#include "name_value_list.h"

namespace kiln::cli {

Expected<size_t> parseMemorySize(const std::string& text) {
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
    std::string suffix(ptr, text.data() + text.size());
    double unit = 0;
    if (suffix.empty() || suffix == "M" || suffix == "m")
        unit = 1024.0 * 1024.0;
    else if (suffix == "B" || suffix == "b")
        unit = 1.0;
    else if (suffix == "K" || suffix == "k")
        unit = 1024.0;
    else if (suffix == "G" || suffix == "g")
        unit = 1024.0 * 1024.0 * 1024.0;
    if (ec != std::errc() || ptr == text.data() || unit == 0 || !(value >= 0))
        return invalidArgument("'" + text +
                               "' is not a size: a non-negative number with an optional unit B, K, M or G "
                               "(MiB when none), e.g. 1024, 512K, 1.5G");
    double bytes = std::floor(value * unit);
    if (bytes >= 9.2e18) return invalidArgument("'" + text + "' is too large");
    return static_cast<size_t>(bytes);
}

Expected<size_t> parseWorkspaceLimit(const std::vector<std::string>& args) {
    auto entries = parseNameValueList("--memPoolSize", args, ColonRule::kFirst, "workspace:1024M");
    if (!entries) return entries.status();
    std::optional<size_t> workspace;
    for (const NameValue& entry : entries.value()) {
        if (entry.name != "workspace")
            return invalidArgument("--memPoolSize: pool '" + entry.name +
                                   "' is not supported (Kiln has one pool, 'workspace')");
        auto bytes = parseMemorySize(entry.value);
        if (!bytes) return bytes.status().withContext("--memPoolSize: workspace");
        workspace = bytes.value();
    }
    if (!workspace) return invalidArgument("--memPoolSize: no pool given (e.g. workspace:1024M)");
    return *workspace;
}

void BuildOptions::addOptions(CLI::App& app) {
    const char* group = "Build Options";
    const std::string shapeHelp =
        " (name:AxBxC[,name:...]; quote names holding ':' or ',', e.g. 'Input:0':1x3; default: none)";
    app.add_option("--minShapes", mMinShapesArgs, "Smallest shapes of the dynamic inputs' profile" + shapeHelp)
        ->type_name("SPEC")
        ->allow_extra_args(false)
        ->group(group);
    app.add_option("--optShapes", mOptShapesArgs,
                   "Shapes the kernels are tuned for; alone, it is also min and max" + shapeHelp)
        ->type_name("SPEC")
        ->allow_extra_args(false)
        ->group(group);
    app.add_option("--maxShapes", mMaxShapesArgs, "Largest shapes of the dynamic inputs' profile" + shapeHelp)
        ->type_name("SPEC")
        ->allow_extra_args(false)
        ->group(group);
    app.add_flag("--fp16", fp16, "Allow FP16 layers where faster (default: off; the CPU backend ignores it)")
        ->group(group);
    app.add_flag("--bf16", bf16, "Allow BF16 layers where faster (default: off; the CPU backend ignores it)")
        ->group(group);
    app.add_flag("--int8", int8,
                 "Quantize Conv/MatMul/Gemm inputs to INT8 with the scales of --calib (as Q/DQ layers: INT8 "
                 "accuracy, not yet INT8 speed); without --calib it changes nothing (default: off)")
        ->group(group);
    app.add_flag("--best", best, "Allow every precision: --fp16 --bf16 --int8 (default: off)")->group(group);
    app.add_flag("--noTF32", noTF32, "Forbid TF32 in FP32 matrix math (default: TF32 allowed)")->group(group);
    app.add_flag("--stronglyTyped", stronglyTyped, "Keep the model's types; no lower precision (default: off)")
        ->group(group);
    app.add_option("--memPoolSize", mMemPoolArgs,
                   "Memory pool limits, workspace:N[B|K|M|G] (MiB without a unit; default: the builder's, 4G)")
        ->type_name("SPEC")
        ->allow_extra_args(false)
        ->group(group);
    app.add_option("--builderOptimizationLevel", optimizationLevel,
                   "0..5: higher searches more kernels and takes longer to build (default: 3)")
        ->type_name("N")
        ->group(group);
    app.add_option("--backend", mBackend, "Engine target: cpu or cuda (default: cuda when a GPU is usable, else cpu)")
        ->type_name("NAME")
        ->group(group);
    mMaxBatchOption = app.add_option("--maxBatch", maxBatch,
                                     "Deprecated: a profile 1/N/N on dimension 0 of every dynamic input (default: none)")
                          ->type_name("N")
                          ->group(group);
    const std::string formatHelp =
        "type:fmt[+fmt][,type:fmt...], one per tensor in order or one for all; Kiln takes the linear format chw, "
        "and a float tensor as fp32, fp16 or bf16 (converted at the engine's boundary; other types keep the "
        "model's) (default: ";
    app.add_option("--inputIOFormats", mInputFormatsArg,
                   "Type and format of the inputs, " + formatHelp + "every input in its model type:chw)")
        ->type_name("SPEC")
        ->group(group);
    app.add_option("--outputIOFormats", mOutputFormatsArg,
                   "Type and format of the outputs, " + formatHelp + "every output in its model type:chw)")
        ->type_name("SPEC")
        ->group(group);
    app.add_option("--calib", calibrationCache, "INT8 calibration cache to read, with --int8: a header line (KILN-1-EntropyCalibration2, or "
                   "TensorRT's TRT-8601-...) then 'tensor: <hex bits of the float32 scale>' per tensor (default: none)")
        ->type_name("FILE")
        ->group(group);
    app.add_option("--timingCacheFile", timingCacheFile,
                   "Timing cache to read (when the file exists) and update with the kernels timed while "
                   "building (default: none)")
        ->type_name("FILE")
        ->group(group);
    app.add_flag("--noBuilderCache", noBuilderCache,
                 "Do not keep a timing cache while building (default: off; without --timingCacheFile Kiln keeps none)")
        ->group(group);
    app.add_option("--avgTiming", avgTiming,
                   "Timed runs per kernel candidate; their median decides (default: 8)")
        ->type_name("N")
        ->group(group);
    app.add_flag("--skipInference", skipInference, "Build (and save) the engine, run nothing (default: off)")
        ->group(group);
    app.add_flag("--noGraphOptimization", noGraphOptimization,
                 "Kiln: build without the graph passes (folding, fusion), to compare with an optimized engine "
                 "when hunting a wrong result (default: off)")
        ->group(group);
    app.add_flag("--verifyPasses", verifyPasses,
                 "Kiln: verify the graph after every optimization pass; --verbose lists each pass's changes "
                 "(default: off)")
        ->group(group);
    mWorkspaceOption =
        app.add_option("--workspace", mLegacyWorkspaceMiB, "Deprecated: --memPoolSize=workspace:NM (default: none)")
            ->type_name("MiB")
            ->group(group);
    app.add_flag("--explicitBatch", mExplicitBatch, "Deprecated: every engine is explicit-batch (default: off)")
        ->group(group);
    app.add_flag("--buildOnly", mBuildOnly, "Deprecated: --skipInference (default: off)")->group(group);
    mMinTimingOption = app.add_option("--minTiming", mLegacyMinTiming,
                                      "Deprecated: removed from trtexec; --avgTiming remains (default: 1)")
                           ->type_name("N")
                           ->group(group);
    app.add_option("--nvtxMode", mLegacyNvtxMode,
                   "Deprecated: --profilingVerbosity in trtexec; Kiln emits no NVTX ranges (default: none)")
        ->type_name("MODE")
        ->group(group);
}

Status BuildOptions::parseLegacyTiming() {
    if (mMinTimingOption && mMinTimingOption->count()) {
        if (mLegacyMinTiming < 1)
            return invalidArgument("--minTiming must be at least 1, got " + std::to_string(mLegacyMinTiming));
        notes.push_back("--minTiming is deprecated and has no modern form (trtexec keeps --avgTiming); it is "
                        "ignored");
    }
    if (!mLegacyNvtxMode.empty()) {
        if (mLegacyNvtxMode != "default" && mLegacyNvtxMode != "verbose" && mLegacyNvtxMode != "none")
            return invalidArgument("--nvtxMode must be default, verbose or none, got '" + mLegacyNvtxMode + "'");
        notes.push_back("--nvtxMode is deprecated: trtexec's modern form is --profilingVerbosity; Kiln emits no "
                        "NVTX ranges, so it is ignored");
    }
    if (avgTiming < 1) return invalidArgument("--avgTiming must be at least 1, got " + std::to_string(avgTiming));
    if (!timingCacheFile.empty() && noBuilderCache)
        return invalidArgument("--timingCacheFile and --noBuilderCache contradict each other: give one");
    return Status::ok();
}

Status BuildOptions::parseShapes() {
    auto parseOne = [](const char* flag, const std::vector<std::string>& args, ShapeSpecs& out) -> Status {
        if (args.empty()) return Status::ok();
        auto specs = parseShapeSpecs(flag, args);
        if (!specs) return specs.status();
        out = std::move(specs).value();
        return Status::ok();
    };
    KILN_RETURN_IF_ERROR(parseOne("--minShapes", mMinShapesArgs, minShapes));
    KILN_RETURN_IF_ERROR(parseOne("--optShapes", mOptShapesArgs, optShapes));
    KILN_RETURN_IF_ERROR(parseOne("--maxShapes", mMaxShapesArgs, maxShapes));
    if (!anyShapeFlag()) return Status::ok();
    // trtexec's rule: --optShapes alone (min = opt = max), or all three.
    bool haveMin = !minShapes.empty(), haveOpt = !optShapes.empty(), haveMax = !maxShapes.empty();
    if (!(haveOpt && haveMin == haveMax))
        return invalidArgument("give only --optShapes, or all of --minShapes, --optShapes and --maxShapes");
    if (!haveMin) {
        minShapes = optShapes;
        maxShapes = optShapes;
        return Status::ok();
    }
    const std::pair<const char*, const ShapeSpecs*> flags[] = {
        {"--minShapes", &minShapes}, {"--optShapes", &optShapes}, {"--maxShapes", &maxShapes}};
    for (const auto& [flag, specs] : flags)
        for (const auto& [name, dims] : *specs)
            for (const auto& [otherFlag, other] : flags)
                if (!other->count(name))
                    return invalidArgument(std::string(flag) + " gives input '" + name + "' but " + otherFlag +
                                           " does not: each input needs all three");
    for (const auto& [name, lo] : minShapes) {
        const Dims& opt = optShapes.at(name);
        const Dims& hi = maxShapes.at(name);
        bool ordered = lo.nbDims == opt.nbDims && opt.nbDims == hi.nbDims;
        for (int32_t i = 0; ordered && i < lo.nbDims; ++i) ordered = lo.d[i] <= opt.d[i] && opt.d[i] <= hi.d[i];
        if (!ordered)
            return invalidArgument("input '" + name +
                                   "': shapes must satisfy min <= opt <= max with equal ranks, got min " +
                                   describeDims(lo) + ", opt " + describeDims(opt) + ", max " + describeDims(hi));
    }
    return Status::ok();
}

Status BuildOptions::parse(bool gpuAvailable) {
    KILN_RETURN_IF_ERROR(parseShapes());
    if (mMaxBatchOption && mMaxBatchOption->count()) {
        if (maxBatch < 1) return invalidArgument("--maxBatch must be at least 1, got " + std::to_string(maxBatch));
        if (anyShapeFlag())
            return invalidArgument("--maxBatch cannot be combined with --minShapes/--optShapes/--maxShapes");
        notes.push_back("--maxBatch is deprecated: it builds a profile 1/" + std::to_string(maxBatch) + "/" +
                        std::to_string(maxBatch) +
                        " on dimension 0; the modern form is --minShapes=input:1x... "
                        "--optShapes=input:" +
                        std::to_string(maxBatch) + "x... --maxShapes=input:" + std::to_string(maxBatch) + "x...");
    }
    if (!mMemPoolArgs.empty()) {
        auto bytes = parseWorkspaceLimit(mMemPoolArgs);
        if (!bytes) return bytes.status();
        workspaceBytes = bytes.value();
    }
    if (mWorkspaceOption && mWorkspaceOption->count()) {
        if (mLegacyWorkspaceMiB < 0) return invalidArgument("--workspace must be non-negative");
        if (!mMemPoolArgs.empty()) return invalidArgument("--workspace and --memPoolSize both set the workspace limit");
        workspaceBytes = static_cast<size_t>(mLegacyWorkspaceMiB) << 20;
        notes.push_back(
            "--workspace is deprecated: use --memPoolSize=workspace:" + std::to_string(mLegacyWorkspaceMiB) + "M");
    }
    if (optimizationLevel < 0 || optimizationLevel > 5)
        return invalidArgument("--builderOptimizationLevel must be 0..5, got " + std::to_string(optimizationLevel));
    if (mBackend.empty()) mBackend = gpuAvailable ? "cuda" : "cpu";
    if (mBackend == "cpu")
        device = DeviceType::kCPU;
    else if (mBackend == "cuda")
        device = DeviceType::kGPU;
    else
        return invalidArgument("--backend must be cpu or cuda, got '" + mBackend + "'");
    if (best) fp16 = bf16 = int8 = true;
    if (stronglyTyped && (fp16 || bf16 || int8))
        return invalidArgument(
            "--stronglyTyped takes the types from the model: it cannot be combined with --fp16, "
            "--bf16, --int8 or --best");
    KILN_RETURN_IF_ERROR(parseLegacyTiming());
    if (!mInputFormatsArg.empty()) {
        auto formats = parseIoFormats("--inputIOFormats", mInputFormatsArg);
        if (!formats) return formats.status();
        inputFormats = std::move(formats).value();
    }
    if (!mOutputFormatsArg.empty()) {
        auto formats = parseIoFormats("--outputIOFormats", mOutputFormatsArg);
        if (!formats) return formats.status();
        outputFormats = std::move(formats).value();
    }
    if (!calibrationCache.empty() && !int8)
        return invalidArgument("--calib reads an INT8 calibration cache: it needs --int8 (or --best)");
    if (mExplicitBatch) notes.push_back("--explicitBatch is deprecated: every engine is explicit-batch; drop the flag");
    if (mBuildOnly) {
        skipInference = true;
        notes.push_back("--buildOnly is deprecated: use --skipInference");
    }
    return Status::ok();
}

void BuildOptions::applyTo(BuilderConfig& config) const {
    if (fp16) config.setFlag(BuilderFlag::kFP16);
    if (bf16) config.setFlag(BuilderFlag::kBF16);
    if (int8) config.setFlag(BuilderFlag::kINT8);
    if (noTF32) config.clearFlag(BuilderFlag::kTF32);
    if (workspaceBytes) config.setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, *workspaceBytes);
    config.setBuilderOptimizationLevel(optimizationLevel);
    config.setAvgTimingIterations(avgTiming);
    config.setDefaultDeviceType(device);
    if (noGraphOptimization) config.setFlag(BuilderFlag::kNO_GRAPH_OPTIMIZATION);
    if (verifyPasses) config.setFlag(BuilderFlag::kDEBUG);
}

}  // namespace kiln::cli
