#include "compare_options.h"

#include <CLI/CLI.hpp>

namespace kiln::cli {

void CompareOptions::addOptions(CLI::App& app) {
    exec.model.addOptions(app);
    exec.build.addOptions(app);
    exec.inference.addOptions(app);
    exec.system.addOptions(app);
    const char* group = "Comparison Options";
    app.add_option("--rtol", tolerance.rtol, "Relative tolerance: a tensor matches when every |a - r| <= atol + rtol * |r| (default: 1e-3; FP16 and BF16 "
                   "engines need about 1e-2)")
        ->check(CLI::NonNegativeNumber)
        ->group(group);
    app.add_option("--atol", tolerance.atol, "Absolute tolerance (default: 1e-3)")->check(CLI::NonNegativeNumber)->group(group);
    app.add_option("--compareTensors", mTensors,
                   "all: every layer's outputs, marked as engine outputs (which keeps the engine under test from "
                   "fusing across them); outputs: the model's outputs only, the engine as built for deployment "
                   "(default: all)")
        ->check(CLI::IsMember({"all", "outputs"}))
        ->group(group);
    app.add_option("--exportComparison", exportComparison, "Write the per-tensor comparison to this JSON file (default: none)")
        ->group(group);
}

Status CompareOptions::parse(bool gpuAvailable) {
    KILN_RETURN_IF_ERROR(exec.parse(gpuAvailable));
    if (exec.model.onnxFile.empty())
        return invalidArgument("kiln compare needs --onnx: it builds the engine under test and the reference from the model");
    if (!exec.model.loadEngine.empty())
        return invalidArgument("--loadEngine cannot be compared: kiln compare builds both engines from --onnx");
    if (!exec.build.inputFormats.empty() || !exec.build.outputFormats.empty())
        return invalidArgument(
            "--inputIOFormats / --outputIOFormats are not supported by kiln compare: both engines take the model's types");
    if (exec.build.skipInference) return invalidArgument("--skipInference leaves nothing to compare");
    allTensors = mTensors == "all";
    return Status::ok();
}

ExecOptions CompareOptions::referenceOptions() const {
    ExecOptions reference = exec;
    reference.model.saveEngine.clear();
    BuildOptions& build = reference.build;
    build.device = DeviceType::kCPU;
    build.fp16 = build.bf16 = build.int8 = build.best = false;
    build.noTF32 = false;  // the CPU backend computes FP32 layers in FP32 whatever this says
    build.noGraphOptimization = true;
    build.calibrationCache.clear();
    build.timingCacheFile.clear();
    build.optimizationLevel = 0;
    return reference;
}

}  // namespace kiln::cli
