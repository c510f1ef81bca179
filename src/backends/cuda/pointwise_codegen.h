#pragma once
// The CUDA C source of one generated kernel per kiln::FusedPointwise node (its program,
// src/ir/pointwise_program.h) and shape class: each input read once through its broadcast strides,
// then every instruction as one straight-line C expression on float, and the last one written. The
// scalar formulas are the interpreter's (kernels/fused_pointwise.cu), so the generated kernel and the
// interpreter agree bit for bit where the compiler contracts alike.
//
// Such a kernel moves a few bytes per element, so what it costs is its index math, not its arithmetic:
// one thread per element dividing a 64-bit index by every dimension's extent was ALU-bound (BERT's
// embedding sum ran at a third of the memory bandwidth). Hence three things shape the kernel:
//  - the broadcast plan is coalesced: size-1 dimensions drop out and neighbours every input walks
//    alike merge, so a contiguous tensor is rank 1 and the walk has the fewest divisions;
//  - the index walk is 32-bit (narrowIndex) when every offset fits, a fraction of a 64-bit division;
//  - the vector form (vectorWidth V > 1) has each thread make V consecutive outputs of the innermost
//    dimension: one 16-byte (or 8-byte) access per contiguous input and for the output, one scalar
//    read per input broadcast along it, the program V times with the same formulas (so the results
//    are the scalar kernel's bit for bit). The launch picks it only where every address is aligned.
// Half and bfloat16 values are read and written in their type and computed in float (converted with
// inline PTX and bit shifts), so the source includes no header and NVRTC needs no include path.
//
// Host C++ only: generation runs (and is tested) without a GPU; nvrtc_compiler.h compiles the source.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/tensor_view.h"
#include "common/status.h"
#include "ir/pointwise_program.h"

namespace kiln::cuda {

/// Highest output rank of a FusedPointwise on the GPU (the interpreter's bound too).
constexpr int kPointwiseMaxRank = 8;

/// The name of the generated `extern "C" __global__` function.
inline constexpr const char* kGeneratedPointwiseKernelName = "kiln_fused_pointwise";

/// How the output's elements map onto each input's: dims innermost first, element strides 0 where an
/// input is broadcast, coalesced (no size-1 dimension; no two neighbours that every input walks as
/// one). Shared by the interpreter and the generated kernel.
struct PointwiseBroadcast {
    int rank{0};
    int64_t count{0};
    int64_t dims[kPointwiseMaxRank]{};
    int64_t strides[kMaxPointwiseInputs][kPointwiseMaxRank]{};
};

/// `inputs` (right-aligned, numpy rules) broadcast to `output`, coalesced; an error names what does not
/// fit. Dimensions d and d + 1 merge when every input's stride[d + 1] is stride[d] * dims[d]: the input
/// is contiguous across both, or broadcast over both (both strides 0).
Expected<PointwiseBroadcast> planPointwiseBroadcast(const std::vector<Shape>& inputs, const Shape& output);

/// Whether the 32-bit index walk covers `count` outputs (and so every input offset): below 2^31.
bool pointwiseFitsNarrowIndex(int64_t count);

/// The vector width for these element types: as many elements as the widest type fits in 16 bytes
/// (8 for 16-bit types only, 4 where any is float); 1 where a type is not generated.
int pointwiseVectorWidth(const std::vector<DataType>& inputTypes, DataType outputType);

/// Whether `plan`'s shape allows the vector form of width `width` for its first `numInputs` inputs:
/// the innermost extent a multiple of it, every input contiguous (stride 1) or broadcast (stride 0)
/// along it. The launch still checks the addresses' alignment.
bool pointwisePlanAllowsVector(const PointwiseBroadcast& plan, size_t numInputs, int width);

/// The one argument of a generated kernel, passed by value. The generated source declares the same
/// layout (KilnPointwiseArgs): 64-bit integers and pointers only, so no padding differs.
struct GeneratedPointwiseArgs {
    int64_t count{0};
    int64_t dims[kPointwiseMaxRank]{};
    int64_t strides[kMaxPointwiseInputs][kPointwiseMaxRank]{};
    const void* inputs[kMaxPointwiseInputs]{};
    void* output{nullptr};
};

/// What the generated source depends on, and so what its compiled kernels are cached by: the program,
/// each input's and the output's element type (float, float16 or bfloat16, each on its own), the
/// coalesced plan's rank (the index walk is unrolled for it), the index width and the vector width.
struct PointwiseKernelSignature {
    PointwiseProgram program;
    std::vector<DataType> inputTypes;
    DataType outputType{DataType::kFLOAT};
    size_t rank{0};
    bool narrowIndex{false};  // 32-bit index walk: only for a count pointwiseFitsNarrowIndex accepts
    int vectorWidth{1};       // 1: one output per thread; V: V consecutive outputs per thread

    /// The cache key of the variant within one node's kernels: rank, index width, vector width.
    std::string variantKey() const;
};

/// The CUDA C source of the signature's kernel (named kGeneratedPointwiseKernelName). Unsupported (the
/// interpreter runs the node) for an opcode or element type the generator does not know, a rank above
/// kPointwiseMaxRank, inputs that disagree with the program, or a vector width that is not a power of
/// two whose accesses fit 16 bytes (or one at rank 0). The vector form expects what
/// pointwisePlanAllowsVector checks and addresses aligned to its accesses; the launch ensures both.
Expected<std::string> generatePointwiseSource(const PointwiseKernelSignature& signature);

}  // namespace kiln::cuda
