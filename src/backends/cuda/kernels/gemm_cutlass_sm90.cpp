// The CUTLASS sm_90a GEMMs' registry and entry points (gemm_cutlass_sm90.h): which configurations this
// build compiled (gemm_cutlass_sm90_configs.h), whether one can run a problem, and its launch. The
// kernels themselves are instantiated in gemm_cutlass_sm90_pingpong*.cu, for sm_90a
// alone and only where cmake/KilnCutlass.cmake found the headers and KILN_CUDA_ARCHITECTURES has 90;
// elsewhere those lists are empty and every problem is refused with the reason.

#include "backends/cuda/kernels/gemm_cutlass_sm90.h"

#include <array>
#include <climits>
#include <mutex>
#include <utility>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/gemm_cutlass_sm90_configs.h"

namespace kiln::cuda {

namespace {

/// The activation kind a compiled epilogue applies; kNone for the run-time one, which serves others.
ActivationKind compiledKind(CutlassEpilogueActivation activation) {
    return activation == CutlassEpilogueActivation::kGelu ? ActivationKind::kGelu : ActivationKind::kNone;
}

}  // namespace

bool cutlassConfigServes(const CutlassGemmConfig& config, ActivationKind kind) {
    if (config.activation != CutlassEpilogueActivation::kAtRunTime) return kind == compiledKind(config.activation);
    return kind != ActivationKind::kNone && kind != ActivationKind::kGelu;
}

std::string cutlassConfigName(const CutlassGemmConfig& c) {
    return std::to_string(c.tileM) + "x" + std::to_string(c.tileN) + "x" + std::to_string(c.tileK) +
           (c.schedule == CutlassSchedule::kPingpong ? "_pingpong" : "_coop") + "_c" + std::to_string(c.clusterM) + "x" +
           std::to_string(c.clusterN) +
           (c.epilogueM ? "_e" + std::to_string(c.epilogueM) + "x" + std::to_string(c.epilogueN) : "") +
           (c.activation == CutlassEpilogueActivation::kAtRunTime
                ? ""
                : std::string("_compiled_") + activationTacticName(compiledKind(c.activation))) +
           (c.residual ? "" : "_no_c");
}

namespace {

/// What TMA needs of every operand: 16-byte aligned rows and base addresses (8 16-bit elements).
constexpr int64_t kAlignmentElements = 8;
constexpr uintptr_t kAlignmentBytes = 16;

/// The type, extents, leading dims and pointers of a problem, as every configuration needs them.
Status checkProblemShape(const CutlassGemmProblem& p) {
    if (p.type != DataType::kHALF && p.type != DataType::kBF16)
        return unsupported(std::string("CUTLASS sm90 GEMM: ") + dataTypeName(p.type) +
                           " operands (only float16 and bfloat16 are compiled)");
    if (p.m <= 0 || p.n <= 0 || p.k <= 0 || p.m > INT_MAX || p.n > INT_MAX || p.k > INT_MAX)
        return unsupported("CUTLASS sm90 GEMM: extents " + std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                           std::to_string(p.k) + " must be positive and within int32");
    if (p.lda < p.k || p.ldb < p.n || p.ldd < p.n)
        return invalidArgument("CUTLASS sm90 GEMM: leading dims lda " + std::to_string(p.lda) + ", ldb " +
                               std::to_string(p.ldb) + ", ldd " + std::to_string(p.ldd) +
                               " are shorter than the rows they hold");
    // CUTLASS's can_implement asks the contiguous extents (k of A, n of B and D) for the alignment too.
    for (int64_t extent : {p.lda, p.ldb, p.ldd, p.n, p.k})
        if (extent % kAlignmentElements != 0)
            return unsupported("CUTLASS sm90 GEMM: n " + std::to_string(p.n) + ", k " + std::to_string(p.k) +
                               " and the leading dims (lda " + std::to_string(p.lda) + ", ldb " + std::to_string(p.ldb) +
                               ", ldd " + std::to_string(p.ldd) + ") must be multiples of 8 elements (16-byte aligned rows)");
    const std::pair<const void*, const char*> pointers[] = {
        {p.a, "A"}, {p.b, "B"}, {p.d, "D"}, {p.bias, "the bias"}, {p.residual, "the residual"}};
    for (const auto& [pointer, what] : pointers)
        if (reinterpret_cast<uintptr_t>(pointer) % kAlignmentBytes != 0)
            return unsupported(std::string("CUTLASS sm90 GEMM: ") + what + " is not 16-byte aligned");
    return Status::ok();
}

/// The device-free part of cutlassCanRun: the shape, and an activation the configuration applies.
Status checkProblem(const CutlassGemmProblem& p, const CutlassGemmConfig& config) {
    KILN_RETURN_IF_ERROR(checkProblemShape(p));
    if (!cutlassConfigServes(config, p.activation.kind))
        return unsupported("CUTLASS sm90 GEMM: configuration " + cutlassConfigName(config) + " does not apply the " +
                           activationTacticName(p.activation.kind) +
                           " activation (a configuration with another epilogue does)");
    if (p.residual && !config.residual)
        return unsupported("CUTLASS sm90 GEMM: configuration " + cutlassConfigName(config) +
                           " reads no residual (its epilogue has no C operand)");
    return Status::ok();
}

const std::vector<CutlassCompiledConfig>& compiledConfigs() {
    static const std::vector<CutlassCompiledConfig> configs = [] {
        std::vector<CutlassCompiledConfig> all = cutlassPingpongConfigs();
        for (auto* more : {&cutlassPingpongIdentityConfigs, &cutlassPingpongGeluConfigs})
            for (CutlassCompiledConfig& c : more()) all.push_back(c);
        return all;
    }();
    return configs;
}

Status notBuilt() {
    return unsupported(
        "CUTLASS sm90 GEMM: not in this build (it needs 90 in KILN_CUDA_ARCHITECTURES and the nvidia-cutlass "
        "headers, see cmake/KilnCutlass.cmake)");
}

Expected<const CutlassCompiledConfig*> findConfig(const CutlassGemmConfig& config) {
    if (compiledConfigs().empty()) return notBuilt();
    for (const CutlassCompiledConfig& c : compiledConfigs())
        if (c.config.id == config.id) return &c;
    return invalidArgument("CUTLASS sm90 GEMM: no configuration " + std::to_string(config.id) + " in this build");
}

const CutlassTypedGemm& typed(const CutlassCompiledConfig& c, DataType type) {
    return type == DataType::kBF16 ? c.bfloat : c.half;
}

/// The current device, which must be an sm_90 one; its SM count is asked once per device (every launch
/// needs it, for the persistent tile scheduler's grid).
Expected<CutlassDevice> currentDevice() {
    constexpr int kDevicesRemembered = 64;
    static std::array<int, kDevicesRemembered> smCounts{};  // 0: not asked yet; -1: not an sm_90 device
    static std::mutex mutex;
    CutlassDevice device;
    KILN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device.id));
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (device.id < kDevicesRemembered && smCounts[device.id] > 0) {
            device.smCount = smCounts[device.id];
            return device;
        }
    }
    int major = 0, minor = 0;
    KILN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device.id));
    KILN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device.id));
    // sm_90a code runs on compute capability 9.0 exactly.
    if (major != 9 || minor != 0)
        return unsupported("CUTLASS sm90 GEMM: device " + std::to_string(device.id) + " is sm_" +
                           std::to_string(major * 10 + minor) + ", the kernels are compiled for sm_90a only");
    KILN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&device.smCount, cudaDevAttrMultiProcessorCount, device.id));
    std::lock_guard<std::mutex> lock(mutex);
    if (device.id < kDevicesRemembered) smCounts[device.id] = device.smCount;
    return device;
}

}  // namespace

const std::vector<CutlassGemmConfig>& cutlassGemmConfigs() {
    static const std::vector<CutlassGemmConfig> configs = [] {
        std::vector<CutlassGemmConfig> list;
        for (const CutlassCompiledConfig& c : compiledConfigs()) list.push_back(c.config);
        return list;
    }();
    return configs;
}

Status cutlassCanRun(const CutlassGemmProblem& problem, const CutlassGemmConfig& config) {
    KILN_RETURN_IF_ERROR(checkProblem(problem, config));
    KILN_ASSIGN_OR_RETURN(const CutlassCompiledConfig* compiled, findConfig(config));
    KILN_ASSIGN_OR_RETURN(CutlassDevice device, currentDevice());
    return typed(*compiled, problem.type).canImplement(problem, device);
}

size_t cutlassWorkspaceBytes(const CutlassGemmProblem& problem, const CutlassGemmConfig& config) {
    auto compiled = findConfig(config);
    auto device = currentDevice();
    if (!compiled || !device || !checkProblemShape(problem).isOk()) return 0;
    return typed(**compiled, problem.type).workspace(problem, *device);
}

Status runCutlassGemm(const CutlassGemmProblem& problem, const CutlassGemmConfig& config, void* workspace,
                      size_t workspaceBytes, cudaStream_t stream) {
    KILN_RETURN_IF_ERROR(checkProblem(problem, config));
    KILN_ASSIGN_OR_RETURN(const CutlassCompiledConfig* compiled, findConfig(config));
    KILN_ASSIGN_OR_RETURN(CutlassDevice device, currentDevice());
    const CutlassTypedGemm& gemm = typed(*compiled, problem.type);
    KILN_RETURN_IF_ERROR(gemm.canImplement(problem, device));
    const size_t needed = gemm.workspace(problem, device);
    if (workspaceBytes < needed)
        return internalError("CUTLASS sm90 GEMM needs " + std::to_string(needed) + " workspace bytes, got " +
                             std::to_string(workspaceBytes));
    return gemm.run(problem, device, workspace, stream);
}

}  // namespace kiln::cuda
