// kiln::FusedPointwise on the GPU. Its program (src/ir/pointwise_program.h) runs as a kernel generated
// for the node (pointwise_codegen.h: straight-line CUDA C, compiled by NVRTC into a CUBIN for this
// device) where the generator covers it. The generated kernel has forms per shape class (the coalesced
// rank, 32- or 64-bit index walk, one or a vector of outputs per thread: generated_pointwise_variants.h);
// a reshape makes sure the forms its plan needs are compiled, and each run picks the vector form where
// the addresses are aligned for it, the scalar form otherwise. The builder stores the forms of the
// node's own shapes on the engine's node (backends/code_generation.h, kGeneratedCodeAttribute), so a
// kernel created from a loaded engine only loads them.
//
// The interpreter below is the fallback for nodes the generator does not cover: one thread per output
// element runs the program's opcodes through a switch on values it reads once from each input
// (broadcast by strides) and writes one result. The program, the input addresses and strides travel
// as one kernel argument, so a run launches one kernel and copies nothing. Both follow the CPU
// kernels' scalar definitions (NaN passes through Relu / Max / Min as numpy's does). Half and bfloat16
// tensors are read and written in their type and computed in float, so a chain rounds once, at its end.

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <cuda_bf16.h>

#include "backends/code_generation.h"
#include "backends/cuda/cubin_kernel.h"
#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/generated_pointwise_variants.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/nvrtc_compiler.h"
#include "backends/cuda/pointwise_codegen.h"
#include "ir/pointwise_program.h"
#include "ir/sym_shape.h"

namespace kiln::cuda {

namespace {

constexpr int kMaxInputs = static_cast<int>(kMaxPointwiseInputs);
constexpr int kMaxCode = static_cast<int>(kMaxPointwiseSlots);

struct PointwiseArgs {
    int numInputs{0};
    int numCode{0};
    PointwiseBroadcast shape;
    const void* inputs[kMaxInputs]{};
    void* output{nullptr};
    uint8_t op[kMaxCode]{};
    int8_t a[kMaxCode]{};
    int8_t b[kMaxCode]{};
    float alpha[kMaxCode]{};
    float beta[kMaxCode]{};
};

__device__ float apply(PointwiseOp op, float x, float y, float alpha, float beta) {
    switch (op) {
        case PointwiseOp::kRelu: return x < 0.f ? 0.f : x;
        case PointwiseOp::kLeakyRelu: return x < 0.f ? alpha * x : x;
        case PointwiseOp::kElu: return x < 0.f ? alpha * expm1f(x) : x;
        case PointwiseOp::kSigmoid: {
            const float e = expf(-fabsf(x));
            const float r = 1.f / (1.f + e);
            return x >= 0.f ? r : e * r;
        }
        case PointwiseOp::kHardSigmoid: return fminf(fmaxf(alpha * x + beta, 0.f), 1.f);
        case PointwiseOp::kHardSwish: return x * fminf(fmaxf(x * (1.f / 6.f) + 0.5f, 0.f), 1.f);
        case PointwiseOp::kTanh: return tanhf(x);
        case PointwiseOp::kSoftplus: return x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x));
        case PointwiseOp::kGeluErf: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
        case PointwiseOp::kGeluTanh:
            return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
        case PointwiseOp::kClip: return x != x ? x : fminf(fmaxf(x, alpha), beta);
        case PointwiseOp::kExp: return expf(x);
        case PointwiseOp::kLog: return logf(x);
        case PointwiseOp::kSqrt: return sqrtf(x);
        case PointwiseOp::kReciprocal: return 1.f / x;
        case PointwiseOp::kAbs: return fabsf(x);
        case PointwiseOp::kNeg: return -x;
        case PointwiseOp::kErf: return erff(x);
        case PointwiseOp::kFloor: return floorf(x);
        case PointwiseOp::kCeil: return ceilf(x);
        case PointwiseOp::kAdd: return x + y;
        case PointwiseOp::kSub: return x - y;
        case PointwiseOp::kMul: return x * y;
        case PointwiseOp::kDiv: return x / y;
        case PointwiseOp::kPow: return powf(x, y);
        case PointwiseOp::kMax: return (x > y || x != x) ? x : y;
        case PointwiseOp::kMin: return (x < y || x != x) ? x : y;
        case PointwiseOp::kPRelu: return x < 0.f ? y * x : x;
    }
    return 0.f;
}

// The interpreter's element conversions: float, half and bfloat16 storage, float arithmetic.
__device__ __forceinline__ float loadFloat(float v) { return v; }
__device__ __forceinline__ float loadFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float loadFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T>
__device__ __forceinline__ T storeFloat(float v);
template <>
__device__ __forceinline__ float storeFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half storeFloat<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 storeFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T>
__global__ void fusedPointwiseKernel(const PointwiseArgs args) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < args.shape.count; i += step) {
        float slot[kMaxCode];
        int64_t offsets[kMaxInputs];
        for (int k = 0; k < args.numInputs; ++k) offsets[k] = 0;
        int64_t rest = i;
        for (int d = 0; d < args.shape.rank; ++d) {
            const int64_t coord = rest % args.shape.dims[d];
            rest /= args.shape.dims[d];
            for (int k = 0; k < args.numInputs; ++k) offsets[k] += coord * args.shape.strides[k][d];
        }
        for (int k = 0; k < args.numInputs; ++k) slot[k] = loadFloat(static_cast<const T*>(args.inputs[k])[offsets[k]]);
        for (int c = 0; c < args.numCode; ++c) {
            const float y = args.b[c] >= 0 ? slot[args.b[c]] : 0.f;
            slot[args.numInputs + c] =
                apply(static_cast<PointwiseOp>(args.op[c]), slot[args.a[c]], y, args.alpha[c], args.beta[c]);
        }
        static_cast<T*>(args.output)[i] = storeFloat<T>(slot[args.numInputs + args.numCode - 1]);
    }
}

/// One node's kernel: the generated one where the generator covers the node (its forms loaded from the
/// code stored on the node, else compiled at the reshape that first needs them), the interpreter
/// otherwise. Both run the coalesced broadcast plan.
class FusedPointwiseKernel : public Kernel, public CodeGenerator {
public:
    /// `generated`: the node's program and types where the generator covers it, nullopt where the
    /// interpreter runs the node; `expected`: the plan of the node's own shapes (expectedPlan: the
    /// forms the builder compiles for the engine); `architecture`: the device's ("sm_90").
    FusedPointwiseKernel(const PointwiseProgram& program, DataType type,
                         std::optional<PointwiseKernelSignature> generated, std::optional<PointwiseBroadcast> expected,
                         std::string architecture)
        : mType(type), mExpected(expected) {
        mArgs.numInputs = static_cast<int>(program.numInputs);
        mArgs.numCode = static_cast<int>(program.code.size());
        for (int c = 0; c < mArgs.numCode; ++c) {
            const PointwiseInstruction& in = program.code[static_cast<size_t>(c)];
            mArgs.op[c] = static_cast<uint8_t>(in.op);
            mArgs.a[c] = static_cast<int8_t>(in.a);
            mArgs.b[c] = static_cast<int8_t>(in.b);
            mArgs.alpha[c] = in.alpha;
            mArgs.beta[c] = in.beta;
        }
        if (generated) {
            mVectorWidth = pointwiseVectorWidth(generated->inputTypes, generated->outputType);
            for (DataType t : generated->inputTypes) mInputBytes.push_back(dataTypeSize(t));
            mOutputBytes = dataTypeSize(generated->outputType);
            mForms.emplace(std::move(*generated), std::move(architecture));
        }
    }

    /// Uses the code the builder stored on the node (kGeneratedCodeAttribute): compiles nothing for
    /// the forms it holds.
    Status loadStoredCode(const std::string& code) { return mForms->loadStored(code); }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        std::vector<Shape> shapes;
        for (const TensorView& in : inputs) shapes.push_back(in.shape);
        auto plan = planPointwiseBroadcast(shapes, outputs[0].shape);
        if (!plan) return plan.status().withContext("cuda.fused_pointwise");
        mArgs.shape = plan.value();
        mScalar = mVector = nullptr;  // the previous plan's forms
        if (!mForms) return Status::ok();
        mGeneratedArgs.count = mArgs.shape.count;
        std::copy(std::begin(mArgs.shape.dims), std::end(mArgs.shape.dims), std::begin(mGeneratedArgs.dims));
        for (int k = 0; k < kMaxInputs; ++k)
            std::copy(std::begin(mArgs.shape.strides[k]), std::end(mArgs.shape.strides[k]),
                      std::begin(mGeneratedArgs.strides[k]));
        KILN_ASSIGN_OR_RETURN(mScalar, formsFor(mArgs.shape, false));
        KILN_ASSIGN_OR_RETURN(mVector, formsFor(mArgs.shape, true));
        mLastWidth = mVector ? mVectorWidth : 1;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mArgs.shape.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mScalar) {
            GeneratedPointwiseArgs args = mGeneratedArgs;
            for (int k = 0; k < mArgs.numInputs; ++k) args.inputs[k] = io.input(static_cast<size_t>(k)).data;
            args.output = io.output(0).data;
            const bool vector = mVector && vectorAligned(args);
            mLastWidth = vector ? mVectorWidth : 1;
            const unsigned grid = elementwiseGrid(mArgs.shape.count / mLastWidth);
            void* arguments[] = {&args};
            return (vector ? mVector : mScalar)
                ->launch(grid, kElementwiseBlock, arguments, stream)
                .withContext(std::string("generated kernel ") + kGeneratedPointwiseKernelName);
        }
        const unsigned grid = elementwiseGrid(mArgs.shape.count);
        PointwiseArgs args = mArgs;
        for (int k = 0; k < args.numInputs; ++k) args.inputs[k] = io.input(static_cast<size_t>(k)).data;
        args.output = io.output(0).data;
        if (mType == DataType::kHALF)
            fusedPointwiseKernel<__half><<<grid, kElementwiseBlock, 0, stream>>>(args);
        else if (mType == DataType::kBF16)
            fusedPointwiseKernel<__nv_bfloat16><<<grid, kElementwiseBlock, 0, stream>>>(args);
        else
            fusedPointwiseKernel<float><<<grid, kElementwiseBlock, 0, stream>>>(args);
        return launchStatus("fusedPointwiseKernel");
    }

    Expected<std::string> generatedCode() override {
        if (!mForms) return std::string();
        if (mExpected) {
            KILN_RETURN_IF_ERROR(formsFor(*mExpected, false).status());
            KILN_RETURN_IF_ERROR(formsFor(*mExpected, true).status());
        }
        return mForms->stored();
    }

    std::string tacticName() const override {
        // The vector form's width where the latest run (or, before one, the reshape) chose it.
        std::string name = mForms ? "cuda.fused_pointwise_nvrtc_" : "cuda.fused_pointwise_";
        if (mForms && mLastWidth > 1) name += "vec" + std::to_string(mLastWidth) + "_";
        return name + std::to_string(mArgs.numCode) + "_ops_" + tacticTypeSuffix(mType);
    }

private:
    /// The scalar form for `plan`, or (`vector`) its vector form where its shape allows one (nullptr
    /// otherwise): compiled now if no earlier reshape or stored code has it.
    Expected<const CubinKernel*> formsFor(const PointwiseBroadcast& plan, bool vector) {
        const size_t rank = static_cast<size_t>(plan.rank);
        const bool narrow = pointwiseFitsNarrowIndex(plan.count);
        if (!vector) return mForms->get(rank, narrow, 1);
        if (!pointwisePlanAllowsVector(plan, static_cast<size_t>(mArgs.numInputs), mVectorWidth))
            return static_cast<const CubinKernel*>(nullptr);
        return mForms->get(rank, narrow, mVectorWidth);
    }

    /// Whether every address the vector form reads or writes in packs is aligned to its pack: the
    /// output and each input contiguous along the innermost dimension (a broadcast one is read by
    /// element). Offsets within a tensor are multiples of the width (the innermost extent is).
    bool vectorAligned(const GeneratedPointwiseArgs& args) const {
        const size_t width = static_cast<size_t>(mVectorWidth);
        if (!addressesAligned(width * mOutputBytes, {args.output})) return false;
        for (int k = 0; k < mArgs.numInputs; ++k)
            if (args.strides[k][0] != 0 &&
                !addressesAligned(width * mInputBytes[static_cast<size_t>(k)], {args.inputs[k]}))
                return false;
        return true;
    }

    DataType mType;
    PointwiseArgs mArgs;
    std::optional<PointwiseBroadcast> mExpected;
    std::optional<GeneratedPointwiseVariants> mForms;  // where the generator covers the node
    int mVectorWidth{1};
    std::vector<size_t> mInputBytes;
    size_t mOutputBytes{0};
    GeneratedPointwiseArgs mGeneratedArgs;
    const CubinKernel* mScalar{nullptr};  // the reshaped plan's forms (owned by mForms)
    const CubinKernel* mVector{nullptr};  // nullptr where the plan's shape has no vector form
    int mLastWidth{1};
};

/// An unknown output extent (a dynamic dimension) as expectedPlan guesses it: not 1, so it is not taken
/// for a broadcast one, and a multiple of every vector width.
constexpr int64_t kDynamicExtentGuess = 16;

/// The plan of `node`'s own shapes: the forms the builder compiles for the engine. A dynamic extent is
/// guessed (an input's as the output's at that place, the output's as kDynamicExtentGuess), which is
/// right for the usual dynamic batch or sequence; where the running shapes need other forms, the
/// reshape compiles them.
std::optional<PointwiseBroadcast> expectedPlan(const Node& node) {
    Shape output;
    for (const Dim& d : node.outputs[0]->shape) output.push_back(d.isKnown() ? d.value : kDynamicExtentGuess);
    std::vector<Shape> inputs;
    for (const Value* in : node.inputs) {
        if (!in || in->shape.size() > output.size()) return std::nullopt;
        Shape shape;
        const size_t lead = output.size() - in->shape.size();  // right-aligned
        for (size_t d = 0; d < in->shape.size(); ++d)
            shape.push_back(in->shape[d].isKnown() ? in->shape[d].value : output[lead + d]);
        inputs.push_back(std::move(shape));
    }
    auto plan = planPointwiseBroadcast(inputs, output);
    if (!plan) return std::nullopt;
    return plan.value();
}

/// The kernel of `node`: generated where the generator covers it, with the node's stored code when the
/// builder left some.
Expected<std::unique_ptr<Kernel>> createFusedPointwise(const Node& node, const CudaContext& context) {
    KILN_ASSIGN_OR_RETURN(PointwiseProgram program, PointwiseProgram::fromNode(node));
    const DataType type = node.input(0)->dtype;
    PointwiseKernelSignature signature{program, {}, node.outputs[0]->dtype, node.outputs[0]->shape.size()};
    for (const Value* in : node.inputs) signature.inputTypes.push_back(in->dtype);
    const bool covered = context.device && generatePointwiseSource(signature).isOk();
    std::optional<PointwiseKernelSignature> generated;
    if (covered) generated = std::move(signature);
    const std::string architecture =
        context.device ? sassArchitecture(context.device->computeMajor, context.device->computeMinor) : std::string();
    auto kernel =
        std::make_unique<FusedPointwiseKernel>(program, type, std::move(generated), expectedPlan(node), architecture);
    if (auto stored = node.attrs.getString(kGeneratedCodeAttribute)) {
        if (!covered)
            return invalidEngine("generated code is stored for " + node.describe() +
                                 ", which this build does not generate: rebuild the engine");
        KILN_RETURN_IF_ERROR(kernel->loadStoredCode(*stored));
    }
    return std::unique_ptr<Kernel>(std::move(kernel));
}

}  // namespace

void registerFusedPointwiseKernels(CudaKernelRegistry& registry) {
    registry.add({"kiln::FusedPointwise",
                  [](const Node& node, std::string* reason) {
                      auto program = PointwiseProgram::fromNode(node);
                      if (!program) {
                          if (reason) *reason = program.status().message();
                          return false;
                      }
                      if (!inputsHaveType(node, 0, node.inputs.size(),
                                          {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}, reason) ||
                          !ranksAtMost(node, kPointwiseMaxRank, reason))
                          return false;
                      // The interpreter writes the inputs' type.
                      if (node.outputs.size() != 1 || !node.outputs[0] || node.outputs[0]->dtype != node.input(0)->dtype) {
                          if (reason) *reason = "the output's element type differs from the inputs'";
                          return false;
                      }
                      return true;
                  },
                  createFusedPointwise});
}

}  // namespace kiln::cuda
