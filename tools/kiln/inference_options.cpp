#include "inference_options.h"

#include <CLI/CLI.hpp>

namespace kiln::cli {

void InferenceOptions::addOptions(CLI::App& app) {
    const char* group = "Inference Options";
    app.add_option("--shapes", mShapesArgs,
                   "Run-time shapes of dynamic inputs, name:AxBxC[,name:...]; when building without "
                   "--minShapes/--optShapes/--maxShapes they are also the profile (default: the profile's opt shapes)")
        ->type_name("SPEC")
        ->allow_extra_args(false)
        ->group(group);
    app.add_option("--loadInputs", mLoadInputsArgs,
                   "Input data, name:file[,name:file]: a .npy file (dtype and shape must match the input) or raw "
                   "little-endian bytes of the input's dtype (size must match exactly) (default: random data: "
                   "uniform [-1,1] for floats, [0,4) for integers, fixed seed)")
        ->type_name("SPEC")
        ->allow_extra_args(false)
        ->group(group);
    app.add_option("--iterations", iterations, "Run at least N timed inferences (default: 10)")
        ->type_name("N")
        ->group(group);
    app.add_option("--warmUp", warmUpMs, "Run untimed for this many milliseconds first (default: 200)")
        ->type_name("MS")
        ->group(group);
    app.add_option("--duration", durationS,
                   "Keep running for at least this many seconds; 0 runs only --iterations (default: 3)")
        ->type_name("S")
        ->group(group);
    app.add_option("--sleepTime", sleepTimeMs,
                   "Wait this many milliseconds between launching each inference and its compute (default: 0)")
        ->type_name("MS")
        ->group(group);
    app.add_option("--infStreams", infStreams,
                   "Run N execution contexts side by side, each with its own buffers (default: 1)")
        ->type_name("N")
        ->group(group);
    app.add_flag("--threads", threads,
                 "Drive each --infStreams context from its own host thread (default: off: one thread for all)")
        ->group(group);
    app.add_flag("--useSpinWait", useSpinWait,
                 "Busy-wait for each inference to finish: less wake-up delay, more CPU use (default: off)")
        ->group(group);
    app.add_flag("--useCudaGraph", useCudaGraph,
                 "Capture the engine's launches in a CUDA graph (default: off; CPU engines run without one)")
        ->group(group);
    app.add_flag("--noDataTransfers", noDataTransfers,
                 "Time inference without copying inputs to the device and outputs back (default: off)")
        ->group(group);
    app.add_flag("--exposeDMA", exposeDma,
                 "Do not overlap the copies to and from the device with compute, so their cost shows in the "
                 "latency (default: off)")
        ->group(group);
    app.add_flag("--separateProfileRun", separateProfileRun,
                 "With --dumpProfile/--exportProfile: profile in a second run so the timed run is not slowed "
                 "by it (default: off)")
        ->group(group);
    mBatchOption = app.add_option("--batch", batch, "Deprecated: sets dimension 0 of every dynamic input (default: none)")
                       ->type_name("N")
                       ->group(group);
    mStreamsOption = app.add_option("--streams", mLegacyStreams, "Deprecated: --infStreams=N (default: 1)")
                         ->type_name("N")
                         ->group(group);
}

Status InferenceOptions::parse() {
    if (!mShapesArgs.empty()) {
        auto specs = parseShapeSpecs("--shapes", mShapesArgs);
        if (!specs) return specs.status();
        shapes = std::move(specs).value();
    }
    if (!mLoadInputsArgs.empty()) {
        auto entries = parseNameValueList("--loadInputs", mLoadInputsArgs, ColonRule::kFirst, "input:data.npy");
        if (!entries) return entries.status();
        for (const NameValue& entry : entries.value())
            if (entry.value.empty())
                return invalidArgument("--loadInputs: input '" + entry.name + "' has no file name");
        loadInputs = std::move(entries).value();
    }
    if (iterations < 1) return invalidArgument("--iterations must be at least 1, got " + std::to_string(iterations));
    if (!(warmUpMs >= 0)) return invalidArgument("--warmUp must be a non-negative number of milliseconds");
    if (!(durationS >= 0)) return invalidArgument("--duration must be a non-negative number of seconds");
    if (!(sleepTimeMs >= 0)) return invalidArgument("--sleepTime must be a non-negative number of milliseconds");
    if (mStreamsOption && mStreamsOption->count()) {
        if (infStreams != 1 && infStreams != mLegacyStreams)
            return invalidArgument("--streams and --infStreams disagree: give only --infStreams");
        infStreams = mLegacyStreams;
        notes.push_back("--streams is deprecated: use --infStreams=" + std::to_string(mLegacyStreams));
    }
    if (infStreams < 1) return invalidArgument("--infStreams must be at least 1, got " + std::to_string(infStreams));
    if (threads && infStreams == 1)
        notes.push_back("--threads has no effect with one stream: add --infStreams=N to run N contexts in N threads");
    if (mBatchOption && mBatchOption->count()) {
        if (batch < 1) return invalidArgument("--batch must be at least 1, got " + std::to_string(batch));
        if (!shapes.empty())
            return invalidArgument("--batch cannot be combined with --shapes: give dimension 0 in --shapes");
        notes.push_back("--batch is deprecated: use --shapes=input:" + std::to_string(batch) +
                        "x... for each dynamic input");
    }
    return Status::ok();
}

}  // namespace kiln::cli
