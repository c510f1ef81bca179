// CUTLASS 3.x Hopper GEMMs with FusedMatMul's epilogue (gemm_cutlass_sm90.h): a TMA-fed, warp-specialized
// wgmma mainloop built by CUTLASS's CollectiveBuilder, and its TMA epilogue running the predefined
// visitor tree LinCombPerColBiasEltAct, which computes act(beta * C + (alpha * acc + bias[n])) in float.
// With alpha = 1 and beta = 1 (0 without a residual) that is FusedMatMul's act(acc + bias + Z), the bias
// added before Z as fused_epilogue.cu adds them. The product is computed as laid out, D = A * B with B
// row-major (N-major for CUTLASS): a per-column bias needs no transposed formulation (D^T = B^T A^T) now
// that the sm_90 fusions have LinCombPerColBiasEltAct, and 16-bit wgmma reads N-major B from shared memory.
//
// This file is compiled for sm_90a alone (wgmma and TMA need the arch-specific target) and only where
// cmake/KilnCutlass.cmake found the headers and KILN_CUDA_ARCHITECTURES has 90 (KILN_CUTLASS_SM90);
// elsewhere it is the stub at the end, which refuses every problem and lists no configuration.

#include "backends/cuda/kernels/gemm_cutlass_sm90.h"

#include <climits>
#include <type_traits>
#include <utility>

#include "backends/cuda/cuda_status.h"

#if defined(KILN_CUTLASS_SM90)
#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/operations.hpp"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#endif

namespace kiln::cuda {

std::string cutlassConfigName(const CutlassGemmConfig& c) {
    return std::to_string(c.tileM) + "x" + std::to_string(c.tileN) + "x" + std::to_string(c.tileK) +
           (c.schedule == CutlassSchedule::kPingpong ? "_pingpong" : "_coop") + "_c" + std::to_string(c.clusterM) + "x" +
           std::to_string(c.clusterN);
}

namespace {

/// What TMA needs of every operand: 16-byte aligned rows and base addresses (8 16-bit elements).
constexpr int64_t kAlignmentElements = 8;
constexpr uintptr_t kAlignmentBytes = 16;

/// The device-free part of cutlassCanRun.
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

}  // namespace

}  // namespace kiln::cuda

#if defined(KILN_CUTLASS_SM90) && defined(CUTLASS_ARCH_MMA_SM90_SUPPORTED)

namespace kiln::cuda {

namespace {

/// FusedMatMul's activation as a CUTLASS epilogue functor: Sm90Compute hands it its Arguments (the
/// FusedActivation, a kernel parameter) with each fragment. The scalar form only names the Arguments.
template <class T>
struct KilnActivation {
    using Arguments = FusedActivation;
    CUTLASS_DEVICE T operator()(T const& x, Arguments const& activation) const {
        return applyActivation(activation, x);
    }
};

template <class T, int N>
struct KilnActivation<cutlass::Array<T, N>> {
    using Arguments = FusedActivation;
    CUTLASS_DEVICE cutlass::Array<T, N> operator()(cutlass::Array<T, N> const& x, Arguments const& activation) const {
        // The kinds FusedMatMul reaches CUTLASS with most get a loop of their own, in which applyActivation's
        // switch folds away; the others switch per element.
        switch (activation.kind) {
            case ActivationKind::kNone: return apply(x, FusedActivation{ActivationKind::kNone});
            case ActivationKind::kRelu: return apply(x, FusedActivation{ActivationKind::kRelu});
            case ActivationKind::kGelu: return apply(x, FusedActivation{ActivationKind::kGelu});
            default: return apply(x, activation);
        }
    }

private:
    CUTLASS_DEVICE static cutlass::Array<T, N> apply(cutlass::Array<T, N> const& x, FusedActivation activation) {
        cutlass::Array<T, N> y;
        CUTLASS_PRAGMA_UNROLL
        for (int i = 0; i < N; ++i) y[i] = applyActivation(activation, x[i]);
        return y;
    }
};

template <int M, int N, int K>
using TileShape = cute::Shape<cute::Int<M>, cute::Int<N>, cute::Int<K>>;
template <int M, int N>
using ClusterShape = cute::Shape<cute::Int<M>, cute::Int<N>, cute::_1>;

struct Cooperative {
    using Mainloop = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
    using Epilogue = cutlass::epilogue::TmaWarpSpecializedCooperative;
};
struct Pingpong {
    using Mainloop = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
    using Epilogue = cutlass::epilogue::TmaWarpSpecialized;
};

/// One GEMM type: element type, CTA tile, cluster and schedule. Float accumulation and epilogue math.
template <class Element, class Tile, class Cluster, class Schedule>
struct Sm90Gemm {
    using RowMajor = cutlass::layout::RowMajor;
    static constexpr int kAlignment = static_cast<int>(kAlignmentElements);
    using Fusion = cutlass::epilogue::fusion::LinCombPerColBiasEltAct<KilnActivation, Element, float, Element, Element,
                                                                      float, kAlignment>;
    using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Tile, Cluster,
        cutlass::epilogue::collective::EpilogueTileAuto, float, float, Element, RowMajor, kAlignment, Element, RowMajor,
        kAlignment, typename Schedule::Epilogue, Fusion>::CollectiveOp;
    using CollectiveMainloop = typename cutlass::gemm::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Element, RowMajor, kAlignment, Element, RowMajor,
        kAlignment, float, Tile, Cluster,
        cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
            sizeof(typename CollectiveEpilogue::SharedStorage))>,
        typename Schedule::Mainloop>::CollectiveOp;
    using Kernel =
        cutlass::gemm::kernel::GemmUniversal<cute::Shape<int, int, int, int>, CollectiveMainloop, CollectiveEpilogue>;
    using Adapter = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;
    using Arguments = typename Adapter::Arguments;

    static Arguments arguments(const CutlassGemmProblem& p, const cutlass::KernelHardwareInfo& hardware) {
        using Stored = typename Adapter::ElementA;
        // Row-major A (m, k): stride (lda, 1); row-major B (k, n) seen as CUTLASS's (n, k): stride (1, ldb);
        // row-major C and D (m, n): stride (ldd, 1). One batch.
        typename Kernel::StrideA strideA = cute::make_stride(p.lda, cute::Int<1>{}, int64_t{0});
        typename Kernel::StrideB strideB = cute::make_stride(cute::Int<1>{}, p.ldb, int64_t{0});
        typename Kernel::StrideD strideD = cute::make_stride(p.ldd, cute::Int<1>{}, int64_t{0});
        auto* d = static_cast<Stored*>(p.d);
        // Without a residual, beta is 0 and the epilogue never reads C; D stands in so its TMA
        // descriptor describes valid memory.
        const auto* c = p.residual ? static_cast<const Stored*>(p.residual) : d;
        Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                       {static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), 1},
                       {static_cast<const Stored*>(p.a), strideA, static_cast<const Stored*>(p.b), strideB},
                       {{}, c, strideD, d, strideD},
                       hardware};
        auto& fusion = args.epilogue.thread;
        fusion.alpha = 1.f;
        fusion.beta = p.residual ? 1.f : 0.f;
        // A null bias reads as zeros (the bias broadcast's null default).
        fusion.bias_ptr = static_cast<const Stored*>(p.bias);
        fusion.activation = p.activation;
        return args;
    }
};

Expected<cutlass::KernelHardwareInfo> currentDevice() {
    cutlass::KernelHardwareInfo hardware;
    KILN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&hardware.device_id));
    int major = 0, minor = 0;
    KILN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, hardware.device_id));
    KILN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, hardware.device_id));
    // sm_90a code runs on compute capability 9.0 exactly.
    if (major != 9 || minor != 0)
        return unsupported("CUTLASS sm90 GEMM: device " + std::to_string(hardware.device_id) + " is sm_" +
                           std::to_string(major * 10 + minor) + ", the kernels are compiled for sm_90a only");
    KILN_CUDA_RETURN_IF_ERROR(
        cudaDeviceGetAttribute(&hardware.sm_count, cudaDevAttrMultiProcessorCount, hardware.device_id));
    return hardware;
}

Status cutlassStatus(cutlass::Status status, const char* step) {
    if (status == cutlass::Status::kSuccess) return Status::ok();
    return unsupported(std::string("CUTLASS sm90 GEMM ") + step + ": " + cutlass::cutlassGetStatusString(status));
}

/// The entry points of one configuration, for each type.
struct TypedGemm {
    Status (*canImplement)(const CutlassGemmProblem&, const cutlass::KernelHardwareInfo&);
    size_t (*workspace)(const CutlassGemmProblem&, const cutlass::KernelHardwareInfo&);
    Status (*run)(const CutlassGemmProblem&, const cutlass::KernelHardwareInfo&, void*, cudaStream_t);
};

template <class Gemm>
TypedGemm typedGemm() {
    return {
        [](const CutlassGemmProblem& p, const cutlass::KernelHardwareInfo& hw) {
            return cutlassStatus(Gemm::Adapter::can_implement(Gemm::arguments(p, hw)), "cannot run this problem");
        },
        [](const CutlassGemmProblem& p, const cutlass::KernelHardwareInfo& hw) {
            return Gemm::Adapter::get_workspace_size(Gemm::arguments(p, hw));
        },
        [](const CutlassGemmProblem& p, const cutlass::KernelHardwareInfo& hw, void* workspace, cudaStream_t stream) {
            typename Gemm::Adapter gemm;
            const typename Gemm::Arguments args = Gemm::arguments(p, hw);
            KILN_RETURN_IF_ERROR(cutlassStatus(gemm.initialize(args, workspace, stream), "initialize"));
            KILN_RETURN_IF_ERROR(cutlassStatus(gemm.run(stream), "launch"));
            return launchStatus("CUTLASS sm90 GEMM");
        }};
}

struct CompiledConfig {
    CutlassGemmConfig config;
    TypedGemm half;
    TypedGemm bfloat;
};

template <int M, int N, int K, int CM, int CN, class Schedule>
CompiledConfig compiled(int64_t id) {
    constexpr CutlassSchedule schedule =
        std::is_same_v<Schedule, Pingpong> ? CutlassSchedule::kPingpong : CutlassSchedule::kCooperative;
    return {CutlassGemmConfig{id, M, N, K, CM, CN, schedule},
            typedGemm<Sm90Gemm<cutlass::half_t, TileShape<M, N, K>, ClusterShape<CM, CN>, Schedule>>(),
            typedGemm<Sm90Gemm<cutlass::bfloat16_t, TileShape<M, N, K>, ClusterShape<CM, CN>, Schedule>>()};
}

/// Each entry is two kernel instantiations (float16, bfloat16), together about a minute of a 2-core CI
/// machine's compiler: a large cooperative tile for large products, alone and in 2x1 clusters that share
/// each B tile (TMA multicast), and a ping-pong tile, whose two warp groups overlap one tile's epilogue
/// (GELU's erf) with the other's mainloop and which keeps more SMs busy when M is small. Ids are never
/// reused: engines store them.
const std::vector<CompiledConfig>& compiledConfigs() {
    static const std::vector<CompiledConfig> configs = {
        compiled<128, 256, 64, 1, 1, Cooperative>(1),
        compiled<128, 128, 64, 1, 1, Pingpong>(2),
        compiled<128, 256, 64, 2, 1, Cooperative>(3),
    };
    return configs;
}

Expected<const CompiledConfig*> findConfig(const CutlassGemmConfig& config) {
    for (const CompiledConfig& c : compiledConfigs())
        if (c.config.id == config.id) return &c;
    return invalidArgument("CUTLASS sm90 GEMM: no configuration " + std::to_string(config.id) + " in this build");
}

const TypedGemm& typed(const CompiledConfig& c, DataType type) {
    return type == DataType::kBF16 ? c.bfloat : c.half;
}

}  // namespace

const std::vector<CutlassGemmConfig>& cutlassGemmConfigs() {
    static const std::vector<CutlassGemmConfig> configs = [] {
        std::vector<CutlassGemmConfig> list;
        for (const CompiledConfig& c : compiledConfigs()) list.push_back(c.config);
        return list;
    }();
    return configs;
}

Status cutlassCanRun(const CutlassGemmProblem& problem, const CutlassGemmConfig& config) {
    KILN_RETURN_IF_ERROR(checkProblemShape(problem));
    KILN_ASSIGN_OR_RETURN(const CompiledConfig* compiled, findConfig(config));
    KILN_ASSIGN_OR_RETURN(cutlass::KernelHardwareInfo hardware, currentDevice());
    return typed(*compiled, problem.type).canImplement(problem, hardware);
}

size_t cutlassWorkspaceBytes(const CutlassGemmProblem& problem, const CutlassGemmConfig& config) {
    auto compiled = findConfig(config);
    auto hardware = currentDevice();
    if (!compiled || !hardware || !checkProblemShape(problem).isOk()) return 0;
    return typed(**compiled, problem.type).workspace(problem, *hardware);
}

Status runCutlassGemm(const CutlassGemmProblem& problem, const CutlassGemmConfig& config, void* workspace,
                      size_t workspaceBytes, cudaStream_t stream) {
    KILN_RETURN_IF_ERROR(checkProblemShape(problem));
    KILN_ASSIGN_OR_RETURN(const CompiledConfig* compiled, findConfig(config));
    KILN_ASSIGN_OR_RETURN(cutlass::KernelHardwareInfo hardware, currentDevice());
    const TypedGemm& gemm = typed(*compiled, problem.type);
    KILN_RETURN_IF_ERROR(gemm.canImplement(problem, hardware));
    const size_t needed = gemm.workspace(problem, hardware);
    if (workspaceBytes < needed)
        return internalError("CUTLASS sm90 GEMM needs " + std::to_string(needed) + " workspace bytes, got " +
                             std::to_string(workspaceBytes));
    return gemm.run(problem, hardware, workspace, stream);
}

}  // namespace kiln::cuda

#else  // no sm_90a CUTLASS kernels in this build

namespace kiln::cuda {

namespace {

Status notBuilt() {
    return unsupported(
        "CUTLASS sm90 GEMM: not in this build (it needs 90 in KILN_CUDA_ARCHITECTURES and the nvidia-cutlass "
        "headers, see cmake/KilnCutlass.cmake)");
}

}  // namespace

const std::vector<CutlassGemmConfig>& cutlassGemmConfigs() {
    static const std::vector<CutlassGemmConfig> none;
    return none;
}

Status cutlassCanRun(const CutlassGemmProblem& problem, const CutlassGemmConfig&) {
    KILN_RETURN_IF_ERROR(checkProblemShape(problem));
    return notBuilt();
}

size_t cutlassWorkspaceBytes(const CutlassGemmProblem&, const CutlassGemmConfig&) {
    return 0;
}

Status runCutlassGemm(const CutlassGemmProblem&, const CutlassGemmConfig&, void*, size_t, cudaStream_t) {
    return notBuilt();
}

}  // namespace kiln::cuda

#endif
