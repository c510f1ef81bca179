// Expand: a broadcast copy of any element type (the bytes move; the type does not matter). The target
// shape (input 1) is not read: the output view already has the shape it produced.

#include <cstdint>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/broadcast_copy.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

template <typename Word, typename IndexT>
__global__ void broadcastCopyKernel(const Word* src, Word* dst, BroadcastPlan plan) {
    const IndexT count = static_cast<IndexT>(plan.count);
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        IndexT offset[1];
        broadcastOffsets<1>(plan, i, offset);
        dst[i] = src[offset[0]];
    }
}

template <typename Word>
void launchWords(const BroadcastPlan& plan, const void* src, void* dst, cudaStream_t stream) {
    const unsigned grid = elementwiseGrid(plan.count);
    const Word* s = static_cast<const Word*>(src);
    Word* d = static_cast<Word*>(dst);
    if (plan.fitsInt32())
        broadcastCopyKernel<Word, uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(s, d, plan);
    else
        broadcastCopyKernel<Word, int64_t><<<grid, kElementwiseBlock, 0, stream>>>(s, d, plan);
}

class ExpandKernel : public Kernel {
public:
    explicit ExpandKernel(DataType type) : mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].dtype != mType || outputs[0].dtype != mType)
            return invalidArgument(tacticName() + ": input and output must be " + dataTypeName(mType));
        KILN_ASSIGN_OR_RETURN(mPlan, planBroadcast({inputs[0].shape}, outputs[0].shape));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        return launchBroadcastCopy(mPlan, dataTypeSize(mType), io.input(0).data, io.output(0).data,
                                   static_cast<cudaStream_t>(io.stream));
    }

    std::string tacticName() const override { return std::string("cuda.expand_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    BroadcastPlan mPlan;
};

}  // namespace

Status launchBroadcastCopy(const BroadcastPlan& plan, size_t elementSize, const void* src, void* dst,
                           cudaStream_t stream) {
    if (plan.count == 0) return Status::ok();
    switch (elementSize) {
        case 1:
            launchWords<uint8_t>(plan, src, dst, stream);
            break;
        case 2:
            launchWords<uint16_t>(plan, src, dst, stream);
            break;
        case 4:
            launchWords<uint32_t>(plan, src, dst, stream);
            break;
        case 8:
            launchWords<uint64_t>(plan, src, dst, stream);
            break;
        default:
            return internalError("launchBroadcastCopy: element size " + std::to_string(elementSize));
    }
    return launchStatus("broadcastCopyKernel");
}

void registerExpandKernels(CudaKernelRegistry& registry) {
    registry.add({"Expand",
                  [](const Node& node, std::string* reason) {
                      if (!node.input(0)) {
                          if (reason) *reason = "input 0 is missing";
                          return false;
                      }
                      return ranksAtMost(node, kMaxBroadcastRank, reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ExpandKernel>(node.input(0)->dtype));
                  }});
}

}  // namespace kiln::cuda
