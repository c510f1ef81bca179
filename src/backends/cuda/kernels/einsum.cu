// Einsum on float, float16, bfloat16, double, int32 and int64, any equation ir/ops/einsum_equation.h
// parses (diagonals, labels summed within one operand, broadcast ellipsis extents, any operand count up
// to kMaxOperands): the CPU backend's loop nest (backends/cpu/kernels/einsum.cpp) with one thread per
// output element. The output's labels give each operand's base offset; the thread then walks every
// combination of the summed labels, each operand's offset moving by its stride for the label (the sum
// of its axes' strides for a repeated label, i.e. a diagonal; 0 for an absent or broadcast axis).
// Products are accumulated in double (int64 for integers), as the CPU does.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/einsum_equation.h"

namespace kiln::cuda {

namespace {

using EinsumTypes = DeviceTypes<float, __half, __nv_bfloat16, double, int32_t, int64_t>;

constexpr int kMaxOperands = 4;
constexpr int kMaxLabels = 16;

struct EinsumPlan {
    int operands{0};
    int outputLabels{0};
    int summedLabels{0};
    // Loop order: the output's labels (outermost first), then the summed ones (outermost first).
    int64_t extent[kMaxLabels]{};
    int64_t stride[kMaxOperands][kMaxLabels]{};  // per operand, per loop position
    int64_t outputCount{0};
    int64_t summedCount{1};
};

struct EinsumOperands {
    const void* data[kMaxOperands]{};
};

template <typename T>
__global__ void einsumKernel(EinsumOperands operands, T* out, EinsumPlan plan) {
    using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < plan.outputCount; o += step) {
        int64_t base[kMaxOperands] = {};
        int64_t rest = o;
        for (int l = plan.outputLabels - 1; l >= 0; --l) {
            const int64_t coord = rest % plan.extent[l];
            rest /= plan.extent[l];
            for (int i = 0; i < plan.operands; ++i) base[i] += coord * plan.stride[i][l];
        }
        Acc acc = 0;
        for (int64_t s = 0; s < plan.summedCount; ++s) {
            int64_t offset[kMaxOperands];
            for (int i = 0; i < plan.operands; ++i) offset[i] = base[i];
            int64_t r = s;
            for (int l = plan.outputLabels + plan.summedLabels - 1; l >= plan.outputLabels; --l) {
                const int64_t coord = r % plan.extent[l];
                r /= plan.extent[l];
                for (int i = 0; i < plan.operands; ++i) offset[i] += coord * plan.stride[i][l];
            }
            Acc product = 1;
            for (int i = 0; i < plan.operands; ++i)
                product *= static_cast<Acc>(load(static_cast<const T*>(operands.data[i])[offset[i]]));
            acc += product;
        }
        out[o] = store<T>(acc);
    }
}

class EinsumKernel : public Kernel {
public:
    explicit EinsumKernel(const Node& node)
        : mType(node.outputs[0]->dtype), mEquation(node.attrs.getString("equation", "")), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.size() > static_cast<size_t>(kMaxOperands))
            return unsupported(mName + ": the CUDA Einsum takes at most " + std::to_string(kMaxOperands) + " operands");
        std::vector<int64_t> ranks;
        for (const TensorView& in : inputs) ranks.push_back(in.rank());
        auto parsed = parseEinsumEquation(mEquation, ranks);
        if (!parsed) return invalidArgument(mName + ": " + parsed.status().message());
        const EinsumEquation& eq = *parsed;
        const size_t labels = static_cast<size_t>(eq.labelCount);
        if (labels > static_cast<size_t>(kMaxLabels))
            return unsupported(mName + ": the CUDA Einsum takes at most " + std::to_string(kMaxLabels) + " labels");
        std::vector<int64_t> extent(labels, 1);
        for (size_t i = 0; i < inputs.size(); ++i)
            for (size_t a = 0; a < inputs[i].shape.size(); ++a) {
                const int64_t d = inputs[i].shape[a];
                int64_t& e = extent[static_cast<size_t>(eq.inputs[i][a])];
                if (d != 1) {
                    if (e != 1 && e != d)
                        return invalidArgument(mName + ": equation '" + mEquation + "': extents " + std::to_string(e) +
                                               " and " + std::to_string(d) + " of one label differ");
                    e = d;
                }
            }
        std::vector<size_t> order(eq.output.begin(), eq.output.end());
        for (size_t l = 0; l < labels; ++l)
            if (std::find(eq.output.begin(), eq.output.end(), static_cast<int32_t>(l)) == eq.output.end())
                order.push_back(l);
        // Per operand and label: the element stride (summed over repeated axes; broadcast axes add none).
        std::vector<std::vector<int64_t>> labelStride(inputs.size(), std::vector<int64_t>(labels, 0));
        for (size_t i = 0; i < inputs.size(); ++i) {
            int64_t stride = 1;
            for (size_t a = inputs[i].shape.size(); a-- > 0;) {
                if (inputs[i].shape[a] != 1) labelStride[i][static_cast<size_t>(eq.inputs[i][a])] += stride;
                stride *= inputs[i].shape[a];
            }
        }
        Shape expected;
        for (int32_t l : eq.output) expected.push_back(extent[static_cast<size_t>(l)]);
        if (outputs[0].shape != expected)
            return invalidArgument(mName + ": output shape " + shapeToString(outputs[0].shape, true) +
                                   " differs from the equation's " + shapeToString(expected, true));
        mPlan = EinsumPlan{};
        mPlan.operands = static_cast<int>(inputs.size());
        mPlan.outputLabels = static_cast<int>(eq.output.size());
        mPlan.summedLabels = static_cast<int>(labels - eq.output.size());
        mPlan.outputCount = outputs[0].elementCount();
        for (size_t p = 0; p < order.size(); ++p) {
            mPlan.extent[p] = extent[order[p]];
            if (p >= eq.output.size()) mPlan.summedCount *= extent[order[p]];
            for (size_t i = 0; i < inputs.size(); ++i) mPlan.stride[i][p] = labelStride[i][order[p]];
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.outputCount == 0) return Status::ok();
        EinsumOperands operands;
        for (size_t i = 0; i < io.numInputs; ++i) operands.data[i] = io.input(i).data;
        auto stream = static_cast<cudaStream_t>(io.stream);
        EinsumTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            einsumKernel<T><<<elementwiseGrid(mPlan.outputCount), kElementwiseBlock, 0, stream>>>(
                operands, static_cast<T*>(io.output(0).data), mPlan);
        });
        return launchStatus("einsumKernel");
    }

    std::string tacticName() const override { return std::string("cuda.einsum_loop_nest_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    std::string mEquation;
    std::string mName;
    EinsumPlan mPlan;
};

bool einsumSupported(const Node& node, std::string* reason) {
    if (node.inputs.empty() || node.inputs.size() > static_cast<size_t>(kMaxOperands)) {
        if (reason)
            *reason = "the CUDA Einsum takes 1 to " + std::to_string(kMaxOperands) + " operands, not " +
                      std::to_string(node.inputs.size());
        return false;
    }
    if (!inputsHaveType(node, 0, node.inputs.size(), EinsumTypes::types(), reason)) return false;
    if (!node.attrs.has("equation")) {
        if (reason) *reason = "Einsum needs its equation attribute";
        return false;
    }
    return true;
}

}  // namespace

void registerEinsumKernels(CudaKernelRegistry& registry) {
    registry.add({"Einsum", einsumSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<EinsumKernel>(node));
                  }});
}

}  // namespace kiln::cuda
