// Element-wise math: Add Sub Mul Div Pow (and two-input Max Min) with numpy broadcasting, and the unary
// Exp Log Neg Abs Sqrt Reciprocal Floor Ceil Erf Gelu, on float and float16 (computed in float, rounded
// once to half).

#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"

namespace kiln::cuda {

namespace {

struct AddFn {
    __device__ float operator()(float a, float b) const { return a + b; }
};
struct SubFn {
    __device__ float operator()(float a, float b) const { return a - b; }
};
struct MulFn {
    __device__ float operator()(float a, float b) const { return a * b; }
};
struct DivFn {
    __device__ float operator()(float a, float b) const { return a / b; }
};

struct PowFn {
    __device__ float operator()(float a, float b) const { return powf(a, b); }
};
struct MaxFn {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct MinFn {
    __device__ float operator()(float a, float b) const { return fminf(a, b); }
};

struct ExpFn {
    __device__ float operator()(float x) const { return expf(x); }
};
struct NegFn {
    __device__ float operator()(float x) const { return -x; }
};
struct AbsFn {
    __device__ float operator()(float x) const { return fabsf(x); }
};
struct SqrtFn {
    __device__ float operator()(float x) const { return sqrtf(x); }
};
struct LogFn {
    __device__ float operator()(float x) const { return logf(x); }
};
struct ReciprocalFn {
    __device__ float operator()(float x) const { return 1.f / x; }
};
struct FloorFn {
    __device__ float operator()(float x) const { return floorf(x); }
};
struct CeilFn {
    __device__ float operator()(float x) const { return ceilf(x); }
};
struct ErfFn {
    __device__ float operator()(float x) const { return erff(x); }
};
struct GeluFn {  // the exact form (approximate = "none")
    __device__ float operator()(float x) const { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }
};
struct GeluTanhFn {  // approximate = "tanh"
    __device__ float operator()(float x) const {
        return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    }
};

// No __restrict__: the runtime may run an element-wise op in place (out aliasing an input).
// kFlat: the plan has one dim, so each input's offset is the index times its stride (1, or 0 for a
// broadcast scalar): the same-shape and scalar cases skip the index decomposition.
template <typename T, typename Fn, typename IndexT, bool kFlat>
__global__ void binaryKernel(const T* a, const T* b, T* out, BroadcastPlan plan) {
    const IndexT count = static_cast<IndexT>(plan.count);
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        IndexT offsets[2];
        if constexpr (kFlat) {
            offsets[0] = i * static_cast<IndexT>(plan.strides[0][0]);
            offsets[1] = i * static_cast<IndexT>(plan.strides[1][0]);
        } else {
            broadcastOffsets<2>(plan, i, offsets);
        }
        out[i] = fromFloat<T>(Fn{}(toFloat(a[offsets[0]]), toFloat(b[offsets[1]])));
    }
}

template <typename T, typename Fn>
Status launchBinary(const BroadcastPlan& plan, const void* a, const void* b, void* out, cudaStream_t stream) {
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* po = static_cast<T*>(out);
    const unsigned grid = elementwiseGrid(plan.count);
    const bool flat = plan.rank == 1;
    if (plan.fitsInt32()) {
        if (flat)
            binaryKernel<T, Fn, uint32_t, true><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan);
        else
            binaryKernel<T, Fn, uint32_t, false><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan);
    } else {
        if (flat)
            binaryKernel<T, Fn, int64_t, true><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan);
        else
            binaryKernel<T, Fn, int64_t, false><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan);
    }
    return launchStatus("binaryKernel");
}

template <typename Fn>
class BinaryKernel : public Kernel {
public:
    BinaryKernel(std::string tactic, DataType type) : mTactic(std::move(tactic)), mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.size() < 2 || outputs.empty()) return invalidArgument(mTactic + ": needs two inputs and one output");
        for (const TensorView* v : {&inputs[0], &inputs[1], &outputs[0]})
            if (v->dtype != mType) return invalidArgument(mTactic + ": every tensor must be " + dataTypeName(mType));
        KILN_ASSIGN_OR_RETURN(mPlan, planBroadcast({inputs[0].shape, inputs[1].shape}, outputs[0].shape));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mType == DataType::kHALF)
            return launchBinary<__half, Fn>(mPlan, io.input(0).data, io.input(1).data, io.output(0).data, stream);
        return launchBinary<float, Fn>(mPlan, io.input(0).data, io.input(1).data, io.output(0).data, stream);
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    DataType mType;
    BroadcastPlan mPlan;
};

template <typename Fn>
void registerBinaryKernel(CudaKernelRegistry& registry, const std::string& opType, const std::string& name) {
    registry.add({opType,
                  [](const Node& node, std::string* reason) {
                      if (node.inputs.size() != 2) {  // Max and Min are variadic in ONNX
                          if (reason) *reason = "the CUDA kernel takes exactly two inputs";
                          return false;
                      }
                      return inputsHaveType(node, 0, 2, {DataType::kFLOAT, DataType::kHALF}, reason) &&
                             ranksAtMost(node, kMaxBroadcastRank, reason);
                  },
                  [name](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      return std::unique_ptr<Kernel>(
                          std::make_unique<BinaryKernel<Fn>>("cuda." + name + "_" + tacticTypeSuffix(type), type));
                  }});
}

}  // namespace

void registerElementwiseKernels(CudaKernelRegistry& registry) {
    registerBinaryKernel<AddFn>(registry, "Add", "add");
    registerBinaryKernel<SubFn>(registry, "Sub", "sub");
    registerBinaryKernel<MulFn>(registry, "Mul", "mul");
    registerBinaryKernel<DivFn>(registry, "Div", "div");
    registerUnaryKernel<ExpFn>(registry, "Exp", "exp");
    registerUnaryKernel<NegFn>(registry, "Neg", "neg");
    registerUnaryKernel<AbsFn>(registry, "Abs", "abs");
    registerUnaryKernel<SqrtFn>(registry, "Sqrt", "sqrt");
    registerBinaryKernel<PowFn>(registry, "Pow", "pow");
    registerBinaryKernel<MaxFn>(registry, "Max", "max");
    registerBinaryKernel<MinFn>(registry, "Min", "min");
    registerUnaryKernel<LogFn>(registry, "Log", "log");
    registerUnaryKernel<ReciprocalFn>(registry, "Reciprocal", "reciprocal");
    registerUnaryKernel<FloorFn>(registry, "Floor", "floor");
    registerUnaryKernel<CeilFn>(registry, "Ceil", "ceil");
    registerUnaryKernel<ErfFn>(registry, "Erf", "erf");
    // Gelu's two forms are two functors; the node's `approximate` attribute picks one.
    registry.add({"Gelu",
                  [](const Node& node, std::string* reason) {
                      const std::string approximate = node.attrs.getString("approximate", "none");
                      if (approximate != "none" && approximate != "tanh") {
                          if (reason) *reason = "Gelu approximate='" + approximate + "' is neither 'none' nor 'tanh'";
                          return false;
                      }
                      return inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kHALF}, reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      const std::string suffix = std::string("_") + tacticTypeSuffix(type);
                      if (node.attrs.getString("approximate", "none") == "tanh")
                          return std::unique_ptr<Kernel>(
                              std::make_unique<UnaryMapKernel<GeluTanhFn>>("cuda.gelu_tanh" + suffix, type));
                      return std::unique_ptr<Kernel>(std::make_unique<UnaryMapKernel<GeluFn>>("cuda.gelu" + suffix, type));
                  }});
}

}  // namespace kiln::cuda
