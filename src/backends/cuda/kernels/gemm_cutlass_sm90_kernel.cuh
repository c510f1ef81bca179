#pragma once
// One CUTLASS 3.x Hopper GEMM type with FusedMatMul's epilogue (gemm_cutlass_sm90.h): a TMA-fed,
// warp-specialized wgmma mainloop built by CUTLASS's CollectiveBuilder, and its TMA epilogue running the
// predefined visitor tree LinCombPerColBiasEltAct, which computes act(beta * C + (alpha * acc + bias[n]))
// in float. With alpha = 1 and beta = 1 (0 without a residual) that is FusedMatMul's act(acc + bias + Z),
// the bias added before Z as fused_epilogue.cu adds them. A configuration without a residual runs the
// tree act(acc + bias[n]) with no C operand at all instead (BiasActivationTree). The product is computed
// as laid out, D = A * B with B row-major (N-major for CUTLASS): 16-bit wgmma reads N-major B from shared
// memory, and a per-column bias needs no transposed formulation (D^T = B^T A^T).
//
// Included only by the files that instantiate configurations, compiled for sm_90a with the CUTLASS
// headers (KILN_CUTLASS_SM90, see src/backends/cuda/CMakeLists.txt). Where those are missing, or the
// target is not sm_90a, KILN_CUTLASS_SM90_KERNELS is 0 and the files return no configuration.

#include "backends/cuda/kernels/gemm_cutlass_sm90_configs.h"

#if defined(KILN_CUTLASS_SM90)
#include "cutlass/arch/config.h"
#endif

#if defined(KILN_CUTLASS_SM90) && defined(CUTLASS_ARCH_MMA_SM90_SUPPORTED)
#define KILN_CUTLASS_SM90_KERNELS 1

#include <type_traits>

#include "backends/cuda/cuda_status.h"
#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/operations.hpp"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/kernel/gemm_universal.hpp"

namespace kiln::cuda::cutlass_sm90 {

/// What TMA needs of every operand's rows: 8 16-bit elements (16 bytes).
constexpr int kAlignment = 8;

/// FusedMatMul's activation read at run time, as a CUTLASS epilogue functor: Sm90Compute hands it its
/// Arguments (the FusedActivation, a kernel parameter) with each fragment. The scalar form only names the
/// Arguments. It serves the kinds without a compiled configuration (cutlassConfigServes).
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
        // ReLU gets a loop of its own, in which applyActivation's switch folds away; the others switch per
        // element.
        if (activation.kind == ActivationKind::kRelu) return apply(x, FusedActivation{ActivationKind::kRelu});
        return apply(x, activation);
    }

private:
    CUTLASS_DEVICE static cutlass::Array<T, N> apply(cutlass::Array<T, N> const& x, FusedActivation activation) {
        cutlass::Array<T, N> y;
        CUTLASS_PRAGMA_UNROLL
        for (int i = 0; i < N; ++i) y[i] = applyActivation(activation, x[i]);
        return y;
    }
};

/// An activation compiled into the epilogue (CutlassEpilogueActivation other than kAtRunTime): no switch.
/// The outputs are 16-bit, so the GELU is fused_activation.h's 16-bit form: a float16 product's without
/// the cap (its accumulator is finite for finite inputs), a bfloat16 one's with it.
template <CutlassEpilogueActivation Kind, class Element>
struct CompiledActivation {
    static_assert(Kind != CutlassEpilogueActivation::kAtRunTime);
    CUTLASS_DEVICE static float apply(float x) {
        if constexpr (Kind != CutlassEpilogueActivation::kGelu) return x;
        else if constexpr (std::is_same_v<Element, cutlass::half_t>) return geluOfFloat16Product(x);
        else return geluForHalfPrecision(x);
    }
    template <class T>
    struct Functor {
        using Arguments = FusedActivation;  // unread; the epilogue's arguments keep one type
        CUTLASS_DEVICE T operator()(T const& x, Arguments const&) const { return T(apply(x)); }
    };
    template <class T, int N>
    struct Functor<cutlass::Array<T, N>> {
        using Arguments = FusedActivation;
        CUTLASS_DEVICE cutlass::Array<T, N> operator()(cutlass::Array<T, N> const& x, Arguments const&) const {
            cutlass::Array<T, N> y;
            CUTLASS_PRAGMA_UNROLL
            for (int i = 0; i < N; ++i) y[i] = apply(x[i]);
            return y;
        }
    };
};

/// The epilogue functor of an activation choice for a product of Element.
template <CutlassEpilogueActivation Kind, class Element>
struct EpilogueActivation {
    template <class T>
    using Functor = typename CompiledActivation<Kind, Element>::template Functor<T>;
};
template <class Element>
struct EpilogueActivation<CutlassEpilogueActivation::kAtRunTime, Element> {
    template <class T>
    using Functor = KilnActivation<T>;
};

template <int M, int N, int K>
using TileShape = cute::Shape<cute::Int<M>, cute::Int<N>, cute::Int<K>>;
template <int M, int N>
using ClusterShape = cute::Shape<cute::Int<M>, cute::Int<N>, cute::_1>;

/// Each consumer warp group on a tile of its own, one's epilogue overlapping the other's mainloop.
struct Pingpong {
    using Mainloop = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
    using Epilogue = cutlass::epilogue::TmaWarpSpecialized;
    static constexpr CutlassSchedule kSchedule = CutlassSchedule::kPingpong;
};

/// act(acc + bias[n]) with no C operand: what a configuration without a residual computes. The predefined
/// LinCombPerColBiasEltAct tree weighs beta * C even at beta 0 (a conversion and a multiply-add an
/// element, which an arithmetic-bound GELU epilogue pays for), and its C tile takes shared memory.
template <class Element, class Tile, CutlassEpilogueActivation Act>
using BiasActivationTree = cutlass::epilogue::fusion::Sm90EVT<
    cutlass::epilogue::fusion::Sm90Compute<EpilogueActivation<Act, Element>::template Functor, Element, float,
                                           cutlass::FloatRoundStyle::round_to_nearest>,
    cutlass::epilogue::fusion::Sm90EVT<
        cutlass::epilogue::fusion::Sm90Compute<cutlass::plus, float, float, cutlass::FloatRoundStyle::round_to_nearest>,
        cutlass::epilogue::fusion::Sm90AccFetch,
        cutlass::epilogue::fusion::Sm90RowBroadcast<0, Tile, Element, float, cute::Stride<cute::_0, cute::_1, int64_t>,
                                                    kAlignment>>>;

/// One GEMM type: element type, CTA tile, cluster, schedule, epilogue activation, and whether its epilogue
/// reads a residual (C). Float accumulation and epilogue math.
template <class Element, class Tile, class Cluster, class Schedule, class EpilogueTile, CutlassEpilogueActivation Act,
          bool kResidual>
struct Sm90Gemm {
    using RowMajor = cutlass::layout::RowMajor;
    using Fusion = std::conditional_t<
        kResidual,
        cutlass::epilogue::fusion::LinCombPerColBiasEltAct<EpilogueActivation<Act, Element>::template Functor, Element,
                                                           float, Element, Element, float, kAlignment>,
        BiasActivationTree<Element, Tile, Act>>;
    using ElementC = std::conditional_t<kResidual, Element, void>;  // void: no C load, no C shared memory
    using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Tile, Cluster,
        EpilogueTile, float, float, ElementC, RowMajor, kAlignment, Element, RowMajor,
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

    static Arguments arguments(const CutlassGemmProblem& p, const CutlassDevice& device) {
        using Stored = typename Adapter::ElementA;
        // Row-major A (m, k): stride (lda, 1); row-major B (k, n) seen as CUTLASS's (n, k): stride (1, ldb);
        // row-major C and D (m, n): stride (ldd, 1). One batch.
        typename Kernel::StrideA strideA = cute::make_stride(p.lda, cute::Int<1>{}, int64_t{0});
        typename Kernel::StrideB strideB = cute::make_stride(cute::Int<1>{}, p.ldb, int64_t{0});
        typename Kernel::StrideD strideD = cute::make_stride(p.ldd, cute::Int<1>{}, int64_t{0});
        auto* d = static_cast<Stored*>(p.d);
        cutlass::KernelHardwareInfo hardware;
        hardware.device_id = device.id;
        hardware.sm_count = device.smCount;
        const auto* bias = static_cast<const Stored*>(p.bias);  // null reads as zeros (the broadcast's default)
        // Without a residual, beta is 0 and the epilogue never reads C; D stands in so its TMA descriptor
        // describes valid memory. A configuration without C takes no pointer for it.
        const Stored* c = nullptr;
        if constexpr (kResidual) c = p.residual ? static_cast<const Stored*>(p.residual) : d;
        Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                       {static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), 1},
                       {static_cast<const Stored*>(p.a), strideA, static_cast<const Stored*>(p.b), strideB},
                       {{}, c, strideD, d, strideD},
                       hardware};
        if constexpr (kResidual) {
            auto& fusion = args.epilogue.thread;
            fusion.alpha = 1.f;
            fusion.beta = p.residual ? 1.f : 0.f;
            fusion.bias_ptr = bias;
            fusion.activation = p.activation;
        } else {
            // The tree's arguments: its child (acc, the bias row, their sum), then its activation.
            auto& tree = args.epilogue.thread;
            tree.op_0.op_1.ptr_row = bias;
            tree.op_1 = p.activation;
        }
        return args;
    }
};

inline Status cutlassStatus(cutlass::Status status, const char* step) {
    if (status == cutlass::Status::kSuccess) return Status::ok();
    return unsupported(std::string("CUTLASS sm90 GEMM ") + step + ": " + cutlass::cutlassGetStatusString(status));
}

template <class Gemm>
CutlassTypedGemm typedGemm() {
    return {
        [](const CutlassGemmProblem& p, const CutlassDevice& device) {
            return cutlassStatus(Gemm::Adapter::can_implement(Gemm::arguments(p, device)), "cannot run this problem");
        },
        [](const CutlassGemmProblem& p, const CutlassDevice& device) {
            return Gemm::Adapter::get_workspace_size(Gemm::arguments(p, device));
        },
        [](const CutlassGemmProblem& p, const CutlassDevice& device, void* workspace, cudaStream_t stream) {
            typename Gemm::Adapter gemm;
            KILN_RETURN_IF_ERROR(cutlassStatus(gemm.initialize(Gemm::arguments(p, device), workspace, stream),
                                               "initialize"));
            KILN_RETURN_IF_ERROR(cutlassStatus(gemm.run(stream), "launch"));
            return launchStatus("CUTLASS sm90 GEMM");
        }};
}

/// The epilogue's subtile: CUTLASS's choice (64x32 for ping-pong, 128x32 cooperative) where M is 0.
template <int M, int N>
using EpilogueTile = std::conditional_t<M == 0, cutlass::epilogue::collective::EpilogueTileAuto,
                                        cute::Shape<cute::Int<M>, cute::Int<N>>>;

/// Configuration `id` (stable across builds: engines store it) as both element types' kernels.
template <int M, int N, int K, int CM, int CN, class Schedule, int EM, int EN, CutlassEpilogueActivation Act,
          bool kResidual>
CutlassCompiledConfig compiled(int64_t id) {
    using Tile = TileShape<M, N, K>;
    using Cluster = ClusterShape<CM, CN>;
    using Epilogue = EpilogueTile<EM, EN>;
    return {CutlassGemmConfig{id, M, N, K, CM, CN, Schedule::kSchedule, EM, EN, Act, kResidual},
            typedGemm<Sm90Gemm<cutlass::half_t, Tile, Cluster, Schedule, Epilogue, Act, kResidual>>(),
            typedGemm<Sm90Gemm<cutlass::bfloat16_t, Tile, Cluster, Schedule, Epilogue, Act, kResidual>>()};
}

}  // namespace kiln::cuda::cutlass_sm90

#else
#define KILN_CUTLASS_SM90_KERNELS 0
#endif
