#pragma once
// A Hopper (sm_90a) GEMM from CUTLASS 3.x with Kiln's FusedMatMul epilogue fused into it:
//   D[m, n] = act(sum_k A[m, k] * B[k, n] + bias[n] + Z[m, n])
// accumulated and finished in float, stored once as float16 or bfloat16: a tactic the builder times
// beside cuBLASLt (which fuses bias, ReLU and the residual, but whose GELU is the tanh form, so an exact
// GELU costs it a second pass, fused_epilogue.cu). The activation is chosen at run time
// (fused_activation.h), so each tile configuration is one template instantiation per type whatever the
// activation: every instantiation costs CI's compiler minutes.
//
// Layouts: A row-major [m, k] (leading dim lda); B row-major [k, n] (ldb), as ONNX MatMul's weight
// initializer is stored; D and the residual Z row-major [m, n] (ldd, shared). No CUTLASS type appears
// here: the files that instantiate the kernels are compiled for sm_90a only, and list no configuration
// when the build has no sm_90 target or no CUTLASS headers (cmake/KilnCutlass.cmake).

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/kernels/fused_activation.h"
#include "common/status.h"
#include "ir/dtype.h"

namespace kiln::cuda {

struct CutlassGemmProblem {
    int64_t m{0};
    int64_t n{0};
    int64_t k{0};
    DataType type{DataType::kHALF};  // of A, B, D, the bias and the residual: kHALF or kBF16
    const void* a{nullptr};
    int64_t lda{0};
    const void* b{nullptr};
    int64_t ldb{0};
    void* d{nullptr};
    int64_t ldd{0};
    const void* bias{nullptr};      // n elements, or null
    const void* residual{nullptr};  // laid out as D (ldd), or null
    FusedActivation activation;
};

/// How the warp-specialized kernel shares a CTA's work among its two consumer warp groups.
enum class CutlassSchedule : int { kCooperative, kPingpong };

/// The activation a configuration's epilogue applies: one compiled in, or any other, read at run time.
/// The compiled ones exist for the kinds FusedMatMul reaches CUTLASS with most (none; GELU, whose
/// arithmetic bounds the epilogue): a switch in the epilogue loop cost 3 % of the identity product and 7 %
/// of the GELU one on an H200 (docs/BENCHMARKS-2026-12-03.md).
enum class CutlassEpilogueActivation : int { kAtRunTime, kIdentity, kGelu };

/// One compiled tile configuration. `id` is stable across builds: engines store it as their tactic.
struct CutlassGemmConfig {
    int64_t id{0};
    int tileM{0}, tileN{0}, tileK{0};
    int clusterM{1}, clusterN{1};
    CutlassSchedule schedule{CutlassSchedule::kCooperative};
    int epilogueM{0}, epilogueN{0};  // the epilogue's subtile; 0: CUTLASS's choice
    CutlassEpilogueActivation activation{CutlassEpilogueActivation::kAtRunTime};
    // Whether its epilogue reads a residual. One without has no C operand at all: a product with a
    // residual is refused, one without skips beta * C's arithmetic.
    bool residual{true};
};

/// Whether `config`'s epilogue applies `kind`: a compiled activation serves its own kind alone, the
/// run-time one every kind without a compiled configuration.
bool cutlassConfigServes(const CutlassGemmConfig& config, ActivationKind kind);

/// A FusedMatMul tactic state (backends/tactic_choice.h) that names a CUTLASS configuration is
/// {kCutlassTacticTag, config id}: two words, where cuBLASLt's algorithm state has eight and the
/// direct kernel's one or none, so no other state reads as a CUTLASS one.
constexpr int64_t kCutlassTacticTag = 0x4b696c6e43544c53;  // "KilnCTLS"
inline std::vector<int64_t> cutlassTacticState(const CutlassGemmConfig& config) {
    return {kCutlassTacticTag, config.id};
}

/// The compiled configurations (empty in a build without them).
const std::vector<CutlassGemmConfig>& cutlassGemmConfigs();

/// "128x256x64_coop_c2x1" (with "_e64x64" for a chosen epilogue subtile, "_compiled_gelu" for a compiled
/// activation, "_no_c" for an epilogue without a C operand): the configuration as tactic names show it.
std::string cutlassConfigName(const CutlassGemmConfig& config);

/// Whether `config` can run `problem`, the pointers included (null pointers are taken as aligned, so a
/// problem without them is checked for its shape alone): the type, the extents (positive, within int32),
/// every leading dim and pointer aligned to 8 elements (16 bytes, what TMA needs), the activation one the
/// configuration serves, and the current device an sm_90 one. The shape and the activation are checked
/// before the device, so a machine without a GPU still reports them.
Status cutlassCanRun(const CutlassGemmProblem& problem, const CutlassGemmConfig& config);

/// Scratch bytes `config` needs for `problem` (its tile scheduler's).
size_t cutlassWorkspaceBytes(const CutlassGemmProblem& problem, const CutlassGemmConfig& config);

/// Enqueues the product on `stream`; checks cutlassCanRun first.
Status runCutlassGemm(const CutlassGemmProblem& problem, const CutlassGemmConfig& config, void* workspace,
                      size_t workspaceBytes, cudaStream_t stream);

}  // namespace kiln::cuda
