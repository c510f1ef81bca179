#include "compare_command.h"

#include <CLI/CLI.hpp>
#include <map>
#include <set>

#include "cli_app.h"
#include "cli_logger.h"
#include "common/file_io.h"
#include "common/logging.h"
#include "engine_build.h"
#include "exit_codes.h"
#include "inference_runner.h"
#include "kiln/builder.h"
#include "kiln/network.h"
#include "kiln/runtime.h"

namespace kiln::cli {

namespace {

/// A tensor the comparison covers, in the network's layer order.
struct ComparedTensor {
    std::string name;
    std::string producer;
};

/// Marks every layer output as a network output (with `allTensors`), and lists the compared tensors.
NetworkEdit markTensors(bool allTensors, std::vector<ComparedTensor>& compared) {
    return [allTensors, &compared](NetworkDefinition& network) -> Status {
        compared.clear();
        std::set<std::string> listed;
        for (int32_t i = 0; i < network.getNbLayers(); ++i) {
            ILayer* layer = network.getLayer(i);
            for (int32_t j = 0; j < layer->getNbOutputs(); ++j) {
                ITensor* tensor = layer->getOutput(j);
                if (!tensor || (!allTensors && !tensor->isNetworkOutput())) continue;
                if (!tensor->isNetworkOutput()) network.markOutput(*tensor);
                compared.push_back({tensor->getName(), std::string("layer '") + layer->getName() + "' (" + layer->getType() + ")"});
                listed.insert(tensor->getName());
            }
        }
        // Outputs no layer computes (an input or a constant passed through) come last.
        for (int32_t i = 0; i < network.getNbOutputs(); ++i)
            if (!listed.count(network.getOutput(i)->getName())) compared.push_back({network.getOutput(i)->getName(), ""});
        return Status::ok();
    };
}

/// The outputs of one inference of `engine` on `inputs`, copied to the host.
Status runOnce(Engine& engine, const std::vector<HostInput>& inputs, const ExecOptions& options, const Logger& log,
               std::unique_ptr<InferenceStream>& stream, std::vector<TensorView>& outputs) {
    KILN_ASSIGN_OR_RETURN(stream, createInferenceStream(engine, inputs, options.inference, log));
    KILN_RETURN_IF_ERROR(stream->bindToThread());
    IterationTimes times;
    KILN_RETURN_IF_ERROR(stream->runOnce(Clock::now(), true, times));
    KILN_ASSIGN_OR_RETURN(outputs, stream->outputs());
    return Status::ok();
}

Expected<std::unique_ptr<Engine>> deserialize(Runtime& runtime, const HostMemory& plan, const char* which) {
    std::unique_ptr<Engine> engine = runtime.deserializeEngine(plan.data(), plan.size());
    if (!engine) return invalidEngine(std::string("cannot deserialize the ") + which + " (reason above)");
    return engine;
}

}  // namespace

CompareCommand::CompareCommand(CLI::App& parent)
    : mApp(parent.add_subcommand("compare",
                                 "Compare an engine built from an ONNX model with a reference engine (CPU, the model's "
                                 "precision, no graph optimizations), tensor by tensor, as Polygraphy does")) {
    mOptions.addOptions(*mApp);
    mApp->footer(
        "Both engines are built from --onnx with the same shapes and run once on the same inputs (--loadInputs, or\n"
        "random data from a fixed seed). With --compareTensors=all, every layer output is an engine output in both,\n"
        "so the first tensor outside the tolerance names the layer where they part; marking them keeps the engine\n"
        "under test from fusing across them, so also check --compareTensors=outputs. Timing flags have no effect.\n\n"
        "Exit status: 0 when every compared tensor matches; 1 when one does not, or a step fails; 2 for a\n"
        "malformed command line.");
}

bool CompareCommand::selected() const {
    return mApp->parsed();
}

int CompareCommand::run(const std::string& commandLine) {
    return runWithStatusLines("kiln_compare", commandLine, [this] { return runSteps(); });
}

int CompareCommand::runSteps() {
    CliLogger logger;
    Logger log(&logger);
    std::unique_ptr<Builder> builder = createBuilder(logger);
    Expected<std::string> gpu = selectGpu(mOptions.exec.system);
    Status parsed = gpu.status();
    if (parsed) parsed = mOptions.parse(builder->platformHasGpu());
    if (!parsed) {
        log.error(parsed.message());
        return kExitUsage;
    }
    logger.setVerbose(mOptions.exec.reporting.verbose);
    if (!gpu->empty()) log.info("Selected device: " + *gpu);
    for (const std::string& note : mOptions.exec.notes()) log.warning(note);
    // Plugin creators must be registered before the model is parsed or the engine loaded.
    if (Status loaded = mOptions.exec.system.loadPlugins(log); !loaded) {
        logger.reportFailure(loaded.message());
        return kExitFailure;
    }

    auto fail = [&](const Status& status) {
        logger.reportFailure(status.message());
        return kExitFailure;
    };
    std::vector<ComparedTensor> compared, referenceCompared;
    log.info("Engine under test:");
    auto candidatePlan = buildEngine(mOptions.exec, *builder, logger, markTensors(mOptions.allTensors, compared));
    if (!candidatePlan) return fail(candidatePlan.status());
    log.info("Reference engine (CPU, the model's precision, graph optimizations off):");
    const ExecOptions referenceOptions = mOptions.referenceOptions();
    auto referencePlan =
        buildEngine(referenceOptions, *builder, logger, markTensors(mOptions.allTensors, referenceCompared));
    if (!referencePlan) return fail(referencePlan.status());

    std::unique_ptr<Runtime> runtime = createRuntime(logger);
    auto candidate = deserialize(*runtime, **candidatePlan, "engine under test");
    if (!candidate) return fail(candidate.status());
    auto reference = deserialize(*runtime, **referencePlan, "reference engine");
    if (!reference) return fail(reference.status());
    auto inputs = prepareInputs(**candidate, mOptions.exec, log);
    if (!inputs) return fail(inputs.status());

    std::unique_ptr<InferenceStream> candidateStream, referenceStream;
    std::vector<TensorView> candidateOutputs, referenceOutputs;
    if (Status ran = runOnce(**candidate, *inputs, mOptions.exec, log, candidateStream, candidateOutputs); !ran)
        return fail(ran.withContext("running the engine under test"));
    if (Status ran = runOnce(**reference, *inputs, referenceOptions, log, referenceStream, referenceOutputs); !ran)
        return fail(ran.withContext("running the reference engine"));

    std::map<std::string, const TensorView*> candidateByName, referenceByName;
    for (const TensorView& view : candidateOutputs) candidateByName[view.name] = &view;
    for (const TensorView& view : referenceOutputs) referenceByName[view.name] = &view;
    std::vector<TensorComparison> comparisons;
    for (const ComparedTensor& tensor : compared) {
        auto c = candidateByName.find(tensor.name);
        if (c == candidateByName.end()) continue;  // not an output of the built engine (folded into a constant)
        auto r = referenceByName.find(tensor.name);
        TensorComparison comparison;
        if (r == referenceByName.end()) {
            comparison.name = tensor.name;
            comparison.dtype = c->second->dtype;
            comparison.candidateDims = c->second->dims;
            comparison.missing = true;
        } else {
            comparison = compareTensors(*c->second, *r->second, mOptions.tolerance);
        }
        comparison.producer = tensor.producer;
        comparisons.push_back(std::move(comparison));
    }

    size_t matching = 0;
    const TensorComparison* first = nullptr;
    for (const TensorComparison& c : comparisons) {
        if (c.matches()) ++matching;
        else if (!first) first = &c;
    }
    log.info("Tensors compared (|a - r| <= " + std::to_string(mOptions.tolerance.atol) + " + " +
             std::to_string(mOptions.tolerance.rtol) + " * |r|), in the model's order:");
    for (const std::string& line : formatComparisons(comparisons)) log.info(line);
    if (!mOptions.exportComparison.empty()) {
        const std::string text = comparisonsToJson(comparisons, mOptions.tolerance).dump(1) + "\n";
        if (Status written = writeFile(mOptions.exportComparison, text.data(), text.size()); !written)
            return fail(written.withContext("--exportComparison"));
        log.info("Comparison written to '" + mOptions.exportComparison + "'");
    }
    log.info(std::to_string(matching) + " of " + std::to_string(comparisons.size()) + " tensors match");
    if (first) {
        logger.reportFailure("the engines differ: first at '" + first->name + "'" +
                             (first->producer.empty() ? std::string() : " from " + first->producer));
        return kExitFailure;
    }
    return kExitSuccess;
}

}  // namespace kiln::cli
