// kiln::FusedPointwise on the GPU. Its program (src/ir/pointwise_program.h) runs as a kernel generated
// for the node (pointwise_codegen.h: straight-line CUDA C, compiled by NVRTC into a CUBIN for this
// device) where the generator covers it; the builder stores that CUBIN on the engine's node
// (backends/code_generation.h, kGeneratedCodeAttribute), so a kernel created from a loaded engine only
// loads it, and a kernel created from a node without it compiles at its first reshape.
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
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/nvrtc_compiler.h"
#include "backends/cuda/pointwise_codegen.h"
#include "ir/pointwise_program.h"

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

/// One node's kernel: the generated one where the generator covers the node (loaded from the code
/// stored on the node, else compiled at the first reshape), the interpreter otherwise.
class FusedPointwiseKernel : public Kernel, public CodeGenerator {
public:
    /// `source`: the generated kernel's source (for `generatedRank` outputs), nullopt where the
    /// interpreter runs the node; `architecture`: the device's ("sm_90").
    FusedPointwiseKernel(const PointwiseProgram& program, DataType type, std::optional<std::string> source,
                         size_t generatedRank, std::string architecture)
        : mType(type), mSource(std::move(source)), mGeneratedRank(generatedRank), mArchitecture(std::move(architecture)) {
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
    }

    /// Uses the code the builder stored on the node (kGeneratedCodeAttribute): compiles nothing.
    Status loadStoredCode(std::string code) {
        KILN_ASSIGN_OR_RETURN(mGenerated, CubinKernel::load(code, mArchitecture, kGeneratedPointwiseKernelName));
        mCode = std::move(code);
        return Status::ok();
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        std::vector<Shape> shapes;
        for (const TensorView& in : inputs) shapes.push_back(in.shape);
        auto plan = planPointwiseBroadcast(shapes, outputs[0].shape);
        if (!plan) return plan.status().withContext("cuda.fused_pointwise");
        mArgs.shape = plan.value();
        mGeneratedArgs.count = mArgs.shape.count;
        std::copy(std::begin(mArgs.shape.dims), std::end(mArgs.shape.dims), std::begin(mGeneratedArgs.dims));
        for (int k = 0; k < kMaxInputs; ++k)
            std::copy(std::begin(mArgs.shape.strides[k]), std::end(mArgs.shape.strides[k]),
                      std::begin(mGeneratedArgs.strides[k]));
        // The generated index walk is unrolled for the node's rank; another rank is interpreted.
        mReshaped = true;
        mRunGenerated = (mGenerated || mSource) && outputs[0].shape.size() == mGeneratedRank;
        if (mRunGenerated) KILN_RETURN_IF_ERROR(compileIfNeeded());
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mArgs.shape.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const unsigned grid = elementwiseGrid(mArgs.shape.count);
        if (mRunGenerated) {
            GeneratedPointwiseArgs args = mGeneratedArgs;
            for (int k = 0; k < mArgs.numInputs; ++k) args.inputs[k] = io.input(static_cast<size_t>(k)).data;
            args.output = io.output(0).data;
            void* arguments[] = {&args};
            return mGenerated->launch(grid, kElementwiseBlock, arguments, stream)
                .withContext(std::string("generated kernel ") + kGeneratedPointwiseKernelName);
        }
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
        if (!mGenerated && !mSource) return std::string();
        KILN_RETURN_IF_ERROR(compileIfNeeded());
        return mCode;
    }

    std::string tacticName() const override {
        // Before the first reshape: what will run at the node's own rank.
        const bool generated = mReshaped ? mRunGenerated : (mGenerated || mSource);
        return std::string(generated ? "cuda.fused_pointwise_nvrtc_" : "cuda.fused_pointwise_") +
               std::to_string(mArgs.numCode) + "_ops_" + tacticTypeSuffix(mType);
    }

private:
    Status compileIfNeeded() {
        if (mGenerated) return Status::ok();
        KILN_ASSIGN_OR_RETURN(std::string cubin, compileToCubin(*mSource, "kiln_fused_pointwise.cu", mArchitecture));
        std::string code = tagCubin(mArchitecture, cubin);
        KILN_ASSIGN_OR_RETURN(mGenerated, CubinKernel::load(code, mArchitecture, kGeneratedPointwiseKernelName));
        mCode = std::move(code);
        return Status::ok();
    }

    DataType mType;
    PointwiseArgs mArgs;
    std::optional<std::string> mSource;
    size_t mGeneratedRank;
    std::string mArchitecture;
    std::unique_ptr<CubinKernel> mGenerated;  // loaded or compiled: the generated kernel is ready
    std::string mCode;                        // its tagged CUBIN (cubin_kernel.h), what the engine stores
    GeneratedPointwiseArgs mGeneratedArgs;
    bool mReshaped{false};
    bool mRunGenerated{false};
};

/// The kernel of `node`: generated where the generator covers it, with the node's stored code when the
/// builder left some.
Expected<std::unique_ptr<Kernel>> createFusedPointwise(const Node& node, const CudaContext& context) {
    KILN_ASSIGN_OR_RETURN(PointwiseProgram program, PointwiseProgram::fromNode(node));
    const DataType type = node.input(0)->dtype;
    const size_t rank = node.outputs[0]->shape.size();
    PointwiseKernelSignature signature{program, {}, node.outputs[0]->dtype, rank};
    for (const Value* in : node.inputs) signature.inputTypes.push_back(in->dtype);
    auto source = generatePointwiseSource(signature);
    std::optional<std::string> generated;
    if (source && context.device) generated = std::move(source).value();
    const std::string architecture =
        context.device ? sassArchitecture(context.device->computeMajor, context.device->computeMinor) : std::string();
    auto kernel = std::make_unique<FusedPointwiseKernel>(program, type, std::move(generated), rank, architecture);
    if (auto stored = node.attrs.getString(kGeneratedCodeAttribute))
        KILN_RETURN_IF_ERROR(kernel->loadStoredCode(std::move(*stored)));
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
