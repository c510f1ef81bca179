#pragma once
// The CUDA C source of one generated kernel per kiln::FusedPointwise node (its program,
// src/ir/pointwise_program.h): one thread per output element (grid-stride), each input read once
// through its broadcast strides, then every instruction as one straight-line C expression on float,
// and the last one written. The scalar formulas are the interpreter's (kernels/fused_pointwise.cu),
// so the generated kernel and the interpreter agree bit for bit where the compiler contracts alike.
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
/// input is broadcast. Shared by the interpreter and the generated kernel.
struct PointwiseBroadcast {
    int rank{0};
    int64_t count{0};
    int64_t dims[kPointwiseMaxRank]{};
    int64_t strides[kMaxPointwiseInputs][kPointwiseMaxRank]{};
};

/// `inputs` (right-aligned, numpy rules) broadcast to `output`; an error names what does not fit.
Expected<PointwiseBroadcast> planPointwiseBroadcast(const std::vector<Shape>& inputs, const Shape& output);

/// The one argument of a generated kernel, passed by value. The generated source declares the same
/// layout (KilnPointwiseArgs): 64-bit integers and pointers only, so no padding differs.
struct GeneratedPointwiseArgs {
    int64_t count{0};
    int64_t dims[kPointwiseMaxRank]{};
    int64_t strides[kMaxPointwiseInputs][kPointwiseMaxRank]{};
    const void* inputs[kMaxPointwiseInputs]{};
    void* output{nullptr};
};

/// What the generated source depends on: the program, each input's and the output's element type
/// (float, float16 or bfloat16, each on its own) and the output rank (the index walk is unrolled
/// for it).
struct PointwiseKernelSignature {
    PointwiseProgram program;
    std::vector<DataType> inputTypes;
    DataType outputType{DataType::kFLOAT};
    size_t rank{0};
};

/// The CUDA C source of the signature's kernel (named kGeneratedPointwiseKernelName). Unsupported (the
/// interpreter runs the node) for an opcode or element type the generator does not know, a rank above
/// kPointwiseMaxRank, or inputs that disagree with the program.
Expected<std::string> generatePointwiseSource(const PointwiseKernelSignature& signature);

}  // namespace kiln::cuda
