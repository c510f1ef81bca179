// kiln::FusedPointwise on the GPU: one thread per output element runs the layer's program
// (src/ir/pointwise_program.h) on values it reads once from each input (broadcast by strides) and
// writes one result. The program, the input addresses and strides travel as one kernel argument, so
// a run launches one kernel and copies nothing. The scalar math follows the CPU kernels' definitions
// (NaN passes through Relu / Max / Min as numpy's does). Half tensors are read and written as half and
// computed in float, so a chain rounds once, at its end.

#include <cstdint>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/pointwise_program.h"

namespace kiln::cuda {

namespace {

constexpr int kMaxRank = 8;
constexpr int kMaxInputs = static_cast<int>(kMaxPointwiseInputs);
constexpr int kMaxCode = static_cast<int>(kMaxPointwiseSlots);

struct PointwiseArgs {
    int numInputs{0};
    int numCode{0};
    int rank{0};
    int64_t count{0};
    int64_t dims[kMaxRank]{};                 // innermost first
    int64_t strides[kMaxInputs][kMaxRank]{};  // element strides, 0 where broadcast
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

template <typename T>
__global__ void fusedPointwiseKernel(const PointwiseArgs args) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < args.count; i += step) {
        float slot[kMaxCode];
        int64_t offsets[kMaxInputs];
        for (int k = 0; k < args.numInputs; ++k) offsets[k] = 0;
        int64_t rest = i;
        for (int d = 0; d < args.rank; ++d) {
            const int64_t coord = rest % args.dims[d];
            rest /= args.dims[d];
            for (int k = 0; k < args.numInputs; ++k) offsets[k] += coord * args.strides[k][d];
        }
        for (int k = 0; k < args.numInputs; ++k) slot[k] = toFloat(static_cast<const T*>(args.inputs[k])[offsets[k]]);
        for (int c = 0; c < args.numCode; ++c) {
            const float y = args.b[c] >= 0 ? slot[args.b[c]] : 0.f;
            slot[args.numInputs + c] =
                apply(static_cast<PointwiseOp>(args.op[c]), slot[args.a[c]], y, args.alpha[c], args.beta[c]);
        }
        static_cast<T*>(args.output)[i] = fromFloat<T>(slot[args.numInputs + args.numCode - 1]);
    }
}

class FusedPointwiseKernel : public Kernel {
public:
    FusedPointwiseKernel(const PointwiseProgram& program, DataType type) : mType(type) {
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

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& out = outputs[0].shape;
        if (out.size() > static_cast<size_t>(kMaxRank)) return invalidArgument("cuda.fused_pointwise: rank above 8");
        mArgs.rank = static_cast<int>(out.size());
        mArgs.count = 1;
        for (int d = 0; d < mArgs.rank; ++d) {
            mArgs.dims[d] = out[out.size() - 1 - static_cast<size_t>(d)];
            mArgs.count *= mArgs.dims[d];
        }
        for (int k = 0; k < mArgs.numInputs; ++k) {
            const Shape& s = inputs[static_cast<size_t>(k)].shape;
            if (s.size() > out.size()) return invalidArgument("cuda.fused_pointwise: an input outranks the output");
            int64_t stride = 1;
            for (int d = 0; d < mArgs.rank; ++d) {
                const bool present = static_cast<size_t>(d) < s.size();
                const int64_t extent = present ? s[s.size() - 1 - static_cast<size_t>(d)] : 1;
                if (extent != 1 && extent != mArgs.dims[d])
                    return invalidArgument("cuda.fused_pointwise: an input does not broadcast to the output");
                mArgs.strides[k][d] = extent == 1 ? 0 : stride;
                stride *= extent;
            }
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mArgs.count == 0) return Status::ok();
        PointwiseArgs args = mArgs;
        for (int k = 0; k < args.numInputs; ++k) args.inputs[k] = io.input(static_cast<size_t>(k)).data;
        args.output = io.output(0).data;
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mType == DataType::kHALF)
            fusedPointwiseKernel<__half><<<elementwiseGrid(args.count), kElementwiseBlock, 0, stream>>>(args);
        else
            fusedPointwiseKernel<float><<<elementwiseGrid(args.count), kElementwiseBlock, 0, stream>>>(args);
        return launchStatus("fusedPointwiseKernel");
    }

    std::string tacticName() const override {
        return "cuda.fused_pointwise_" + std::to_string(mArgs.numCode) + "_ops_" + tacticTypeSuffix(mType);
    }

private:
    DataType mType;
    PointwiseArgs mArgs;
};

}  // namespace

void registerFusedPointwiseKernels(CudaKernelRegistry& registry) {
    registry.add({"kiln::FusedPointwise",
                  [](const Node& node, std::string* reason) {
                      auto program = PointwiseProgram::fromNode(node);
                      if (!program) {
                          if (reason) *reason = program.status().message();
                          return false;
                      }
                      return inputsHaveType(node, 0, node.inputs.size(), {DataType::kFLOAT, DataType::kHALF}, reason) &&
                             ranksAtMost(node, kMaxRank, reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      KILN_ASSIGN_OR_RETURN(PointwiseProgram program, PointwiseProgram::fromNode(node));
                      return std::unique_ptr<Kernel>(std::make_unique<FusedPointwiseKernel>(program, node.input(0)->dtype));
                  }});
}

}  // namespace kiln::cuda
