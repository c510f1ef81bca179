#include "builder/engine_builder.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "backends/backend.h"
#include "backends/code_generation.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/precision_attributes.h"
#include "builder/io_types.h"
#include "builder/layout_selection.h"
#include "builder/pinned_input_dims.h"
#include "builder/profile_resolution.h"
#include "builder/tactic_selection.h"
#include "ir/shape_inference.h"
#include "ir/verifier.h"
#include "passes/pipeline.h"
#include "passes/precision_assignment.h"
#include "quant/int8_calibration.h"
#include "runtime/data_dependent_run.h"
#include "runtime/execution_layout.h"

namespace kiln {

namespace {

std::string backendFor(const BuilderConfig& config) {
    switch (config.getDefaultDeviceType()) {
        case DeviceType::kCPU: return "cpu";
        case DeviceType::kGPU: return "cuda";
    }
    return "cpu";
}

/// Every node the backend cannot run, in one error.
Status checkSupport(const Graph& graph, const Backend& backend) {
    std::vector<std::string> problems;
    for (const auto& node : graph.nodes()) {
        std::string reason;
        if (!backend.supports(*node, &reason)) problems.push_back(node->describe() + ": " + reason);
    }
    if (problems.empty()) return Status::ok();
    std::ostringstream oss;
    oss << problems.size() << (problems.size() == 1 ? " layer is" : " layers are") << " not supported by the "
        << backend.name() << " backend:";
    for (const auto& p : problems) oss << "\n  " << p;
    return unsupported(oss.str());
}

/// The layers' tactic names when shapes are known only at run time (no reshape possible here).
Status recordTacticsWithoutShapes(EnginePlan& plan, const Backend& backend) {
    if (!plan.layers.empty()) return Status::ok();
    for (const auto& node : plan.graph->nodes()) {
        KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, backend.createKernel(*node));
        plan.layers[node->id] = LayerDecision{kernel->tacticName(), node->outputs.empty() || !node->outputs[0] ? DataType::kFLOAT : node->outputs[0]->dtype};
    }
    return Status::ok();
}

/// Activation bytes (arena + the largest kernel workspace) at a profile's max shapes, and each
/// layer's tactic name.
Status planProfileMemory(EnginePlan& plan, const Backend& backend, const Logger& log, const ProgressPhase& build) {
    const Graph& graph = *plan.graph;
    ProgressPhase phase(build.monitor(), "Planning memory", &build, static_cast<int32_t>(plan.profiles.size()));
    for (size_t p = 0; p < plan.profiles.size(); ++p) {
        auto inferred = inferAtProfile(graph, plan.profiles[p], OptProfileSelector::kMAX);
        if (!inferred)
            return inferred.status().withContext("optimization profile " + std::to_string(p) +
                                                 " at its max shapes (and max shape-tensor values)");
        std::vector<ValueInfo> infos = std::move(inferred).value();
        if (hasDataDependentShapes(graph, infos)) {
            // Sizes known only while running: a context allocates per run, not from an arena.
            KILN_RETURN_IF_ERROR(recordTacticsWithoutShapes(plan, backend));
            plan.activationBytesPerProfile.push_back(0);
            log.info("profile " + std::to_string(p) +
                     ": some shapes depend on computed values; activation memory is allocated during each run");
            continue;
        }
        KILN_ASSIGN_OR_RETURN(ExecutionLayout layout, layoutExecution(graph, infos, backend.alignment(),
                                                   [&](const Node& n, size_t i) { return backend.canRunInPlace(n, i); }));
        size_t workspace = 0;
        for (size_t nodeIndex : layout.runNodes) {
            const Node& node = *graph.nodes()[nodeIndex];
            KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, backend.createKernel(node));
            std::vector<TensorView> ins, outs;
            for (const Value* v : node.inputs) {
                if (!v) { ins.emplace_back(); continue; }
                const ValueInfo& i = infos[static_cast<size_t>(v->id)];
                ins.push_back({i.dtype, toConcrete(i.shape), nullptr});
            }
            for (const Value* v : node.outputs) {
                if (!v) { outs.emplace_back(); continue; }
                const ValueInfo& i = infos[static_cast<size_t>(v->id)];
                outs.push_back({i.dtype, toConcrete(i.shape), nullptr});
            }
            KILN_RETURN_IF_ERROR(kernel->reshape(ins, outs).withContext(node.describe()));
            workspace = std::max(workspace, kernel->workspaceSize());
            if (p == 0) plan.layers[node.id] = LayerDecision{kernel->tacticName(), node.outputs.empty() || !node.outputs[0] ? DataType::kFLOAT : node.outputs[0]->dtype};
        }
        if (p == 0)
            for (size_t nodeIndex : layout.elidedNodes) {
                const Node& node = *graph.nodes()[nodeIndex];
                plan.layers[node.id] = LayerDecision{"elided (inputs written into the output)", node.outputs[0]->dtype};
            }
        size_t align = backend.alignment();
        size_t total = (layout.arenaBytes + align - 1) / align * align + workspace;
        plan.activationBytesPerProfile.push_back(total);
        std::ostringstream oss;
        oss << "profile " << p << ": activation memory " << total << " bytes (arena " << layout.arenaBytes
            << ", lower bound " << layout.lowerBoundBytes << ", unshared sum " << layout.sumOfActivationBytes
            << ", workspace " << workspace << ")";
        log.info(oss.str());
        KILN_RETURN_IF_ERROR(phase.completeStep());
    }
    return Status::ok();
}

/// Kernel timing at the first profile's opt shapes (builder/tactic_selection.h); skipped where some shapes
/// are known only while running.
Status chooseTactics(Graph& graph, const std::vector<ProfileShapes>& profiles, Backend& backend,
                     const BuilderConfig& config, const Logger& log, const ProgressPhase& build) {
    if (backend.isHostMemory() || config.getBuilderOptimizationLevel() <= 0 || profiles.empty()) return Status::ok();
    auto infos = inferAtProfile(graph, profiles[0], OptProfileSelector::kOPT);
    if (!infos) return infos.status().withContext("optimization profile 0 at its opt shapes");
    if (hasDataDependentShapes(graph, infos.value())) {
        log.info("tactic selection: some shapes depend on computed values; those layers keep their default kernels");
    }
    return selectTactics(graph, infos.value(), backend, config, log, build);
}

/// Compiles the kernels of `graph`'s nodes (and of their subgraphs') that generate their code, storing
/// it on each node; counts them in `generated`. A subgraph's node whose kernel cannot be created on its
/// own (it reads values of the enclosing graph) is left to its control-flow kernel, which then compiles
/// it when it creates it.
Status storeGeneratedCode(Graph& graph, const Backend& backend, bool subgraph, size_t& generated) {
    for (const auto& node : graph.nodes()) {
        for (auto& [name, value] : node->attrs.all()) {
            if (const auto* body = std::get_if<std::shared_ptr<Graph>>(&value); body && *body)
                KILN_RETURN_IF_ERROR(storeGeneratedCode(**body, backend, true, generated));
            if (const auto* bodies = std::get_if<std::vector<std::shared_ptr<Graph>>>(&value))
                for (const auto& b : *bodies)
                    if (b) KILN_RETURN_IF_ERROR(storeGeneratedCode(*b, backend, true, generated));
        }
        node->attrs.erase(kGeneratedCodeAttribute);  // only code compiled here, for this target, is kept
        auto kernel = backend.createKernel(*node);
        if (!kernel && subgraph) continue;
        if (!kernel) return kernel.status();
        auto* generator = dynamic_cast<CodeGenerator*>(kernel.value().get());
        if (!generator) continue;
        auto code = generator->generatedCode();
        if (!code) return code.status().withContext(node->describe());
        if (code.value().empty()) continue;
        node->attrs.set(kGeneratedCodeAttribute, std::move(code).value());
        ++generated;
    }
    return Status::ok();
}

/// Kernels generated for their node (backends/code_generation.h: the CUDA backend's fused pointwise
/// kernels, compiled by NVRTC) are compiled here, once, and their code stored on the node, so the engine
/// carries it and loading compiles nothing. It runs before tactic selection so that the trial kernels
/// created there load the stored code instead of compiling it again; the code depends on the node's
/// program and types and on the node's own shapes (the kernel reads them from the node), so no reshape
/// is needed.
Status generateKernelCode(Graph& graph, const Backend& backend, const Logger& log) {
    if (backend.isHostMemory()) return Status::ok();
    const auto start = std::chrono::steady_clock::now();
    size_t generated = 0;
    KILN_RETURN_IF_ERROR(storeGeneratedCode(graph, backend, false, generated));
    if (generated == 0) return Status::ok();
    std::ostringstream oss;
    oss << "generated " << generated << " pointwise kernels (NVRTC), "
        << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() << " ms";
    log.info(oss.str());
    return Status::ok();
}

/// Weakly typed --fp16 / --bf16: layers with a reduced-precision kernel get it (passes/precision_assignment.h).
Status assignReducedPrecision(Graph& graph, const BuilderConfig& config, const Backend& backend,
                              const std::string& backendName, const Logger& log, const ShapeInferenceOptions& options) {
    const bool fp16 = config.getFlag(BuilderFlag::kFP16);
    const bool bf16 = config.getFlag(BuilderFlag::kBF16);
    if (!fp16 && !bf16) return Status::ok();
    if (backendName != "cuda") return Status::ok();  // the CPU backend's fastest kernels are FP32
    PassContext ctx{log, nullptr, {}};
    PrecisionAssignment pass(fp16 ? DataType::kHALF : DataType::kBF16,
                             [&](const Node& node, std::string* reason) { return backend.supports(node, reason); });
    KILN_ASSIGN_OR_RETURN(bool changed, pass.run(graph, ctx));
    for (const std::string& change : ctx.changes) log.info(std::string(pass.name()) + ": " + change);
    if (!changed) {
        // A model exported in float16 / bfloat16 has no FP32 layer to convert: no warning for that.
        const bool anyFloat32 = std::any_of(graph.nodes().begin(), graph.nodes().end(), [](const auto& node) {
            return std::any_of(node->outputs.begin(), node->outputs.end(),
                               [](const Value* out) { return out && out->dtype == DataType::kFLOAT; });
        });
        if (anyFloat32)
            log.warning(std::string("no layer has a ") + (fp16 ? "FP16" : "BF16") + " kernel: every layer keeps FP32");
    }
    return changed ? inferGraphShapes(graph, options) : Status::ok();
}

/// --fp16 / --bf16 on the CUDA backend: convolutional regions may go NHWC, where cuDNN's tensor-core
/// convolutions read and write without reformatting (builder/layout_selection.h decides). FP32 and TF32
/// convolutions, and the CPU backend, keep NCHW.
bool channelsLastApplies(const BuilderConfig& config, const std::string& backendName) {
    return (config.getFlag(BuilderFlag::kFP16) || config.getFlag(BuilderFlag::kBF16)) && backendName == "cuda" &&
           !config.getFlag(BuilderFlag::kNO_GRAPH_OPTIMIZATION);
}

}  // namespace

Expected<EnginePlan> buildEnginePlan(const Graph& network, const BuilderConfig& config, const Logger& log,
                                     ProgressPhase& build) {
    auto start = std::chrono::steady_clock::now();
    if (network.outputs().empty()) return invalidArgument("the network has no outputs: mark at least one tensor as output");

    EnginePlan plan;
    plan.backend = backendFor(config);
    std::string error;
    Backend* backend = getBackend(plan.backend, &error);
    if (!backend) return unsupported(error);
    plan.target = backend->targetDescription();

    plan.graph = network.clone();
    Graph& graph = *plan.graph;
    graph.removeUnusedValues();
    if (!graph.topologicalSort()) return invalidModel("the network has a cycle or reads a tensor nothing produces");

    KILN_ASSIGN_OR_RETURN(plan.profiles, resolveProfiles(graph, config));

    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    KILN_RETURN_IF_ERROR(verifyGraph(graph));
    KILN_RETURN_IF_ERROR(inferGraphShapes(graph, options));
    // INT8 calibration and its Q/DQ pairs before the passes (quant/int8_calibration.h says why).
    if (config.getFlag(BuilderFlag::kINT8)) {
        KILN_RETURN_IF_ERROR(applyInt8Calibration(graph, config, log));
        KILN_RETURN_IF_ERROR(inferGraphShapes(graph, options));
    }
    KILN_RETURN_IF_ERROR(build.completeStep());

    if (!config.getFlag(BuilderFlag::kNO_GRAPH_OPTIMIZATION)) {
        size_t before = graph.nodes().size();
        PassManager passes = defaultPipeline();
        passes.setVerifyAfterEachPass(config.getFlag(BuilderFlag::kDEBUG));
        PassContext ctx{log, &evaluator, {}};
        const PinnedInputDims pinned = PinnedInputDims::pin(graph, plan.profiles);
        if (!pinned.empty()) log.info("optimizing with the extents every profile fixes: " + pinned.describe());
        auto stats = passes.run(graph, ctx);
        pinned.restore();
        if (!stats) return stats.status();
        KILN_RETURN_IF_ERROR(inferGraphShapes(graph, options));
        log.info("graph optimization: " + std::to_string(before) + " -> " + std::to_string(graph.nodes().size()) + " layers");
    }
    KILN_RETURN_IF_ERROR(build.completeStep());

    // GPU kernels read the TF32 choice from their node, so it travels inside the engine file.
    if (plan.backend == "cuda" && !config.getFlag(BuilderFlag::kTF32))
        for (const auto& node : graph.nodes()) node->attrs.set(kAllowTf32Attribute, int64_t{0});
    KILN_RETURN_IF_ERROR(assignReducedPrecision(graph, config, *backend, plan.backend, log, options));
    // After the precision choices, so the boundary's conversions and the precision pass's reformats cancel.
    if (!config.getIoTypes().empty()) {
        KILN_RETURN_IF_ERROR(applyIoTypes(graph, config.getIoTypes(), log));
        KILN_RETURN_IF_ERROR(inferGraphShapes(graph, options));
    }

    // What every graph the builder may keep goes through before it is timed or planned.
    const PrepareLayers prepare = [&](Graph& g) -> Status {
        KILN_RETURN_IF_ERROR(checkSupport(g, *backend));
        KILN_RETURN_IF_ERROR(generateKernelCode(g, *backend, log));
        return chooseTactics(g, plan.profiles, *backend, config, log, build);
    };
    // selectLayout may replace plan.graph by its channels-last form: `graph` is not used after it.
    if (channelsLastApplies(config, plan.backend))
        KILN_RETURN_IF_ERROR(selectLayout(plan.graph, plan.profiles, *backend, config, log, build, prepare));
    else
        KILN_RETURN_IF_ERROR(prepare(graph));
    KILN_RETURN_IF_ERROR(build.completeStep());
    KILN_RETURN_IF_ERROR(planProfileMemory(plan, *backend, log, build));
    KILN_RETURN_IF_ERROR(build.completeStep());

    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::ostringstream oss;
    oss << "engine built for " << plan.backend << " (" << plan.target << "): " << plan.graph->nodes().size()
        << " layers, " << plan.profiles.size() << " profile(s), in " << seconds << " s";
    log.info(oss.str());
    return plan;
}

}  // namespace kiln
