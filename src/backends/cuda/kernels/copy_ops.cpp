// Ops that, at inference, copy their input unchanged: BitCast (same element width, same shape: the
// bytes are the result) and Dropout outside training (the data copied, the optional mask all true).

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

class CopyKernel : public Kernel {
public:
    explicit CopyKernel(std::string tactic) : mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].byteSize() != outputs[0].byteSize())
            return invalidArgument(mTactic + ": input and output must have the same byte size");
        mBytes = outputs[0].byteSize();
        mMaskBytes = outputs.size() > 1 ? outputs[1].byteSize() : 0;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mBytes != 0 && io.output(0).data != io.input(0).data)
            KILN_CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice, stream));
        // Dropout's mask: bool true is the byte 1.
        if (mMaskBytes != 0 && io.numOutputs > 1 && io.output(1).data)
            KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(io.output(1).data, 1, mMaskBytes, stream));
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    size_t mBytes{0};
    size_t mMaskBytes{0};
};

/// The training_mode input lives on the device; reading it at run time would stall the stream, so
/// only a graph where it is absent or a constant false runs here.
bool dropoutSupported(const Node& node, std::string* reason) {
    if (!node.input(0)) {
        if (reason) *reason = "input 0 is missing";
        return false;
    }
    const Value* mode = node.input(2);
    if (!mode) return true;
    if (mode->isConstant() && mode->constant->elementCount() == 1 && mode->constant->elementAsDouble(0) == 0)
        return true;
    if (reason)
        *reason = "the CUDA Dropout runs inference only: training_mode must be absent or a constant false";
    return false;
}

}  // namespace

void registerCopyKernels(CudaKernelRegistry& registry) {
    registry.add({"BitCast",
                  [](const Node& node, std::string* reason) {
                      if (node.input(0)) return true;
                      if (reason) *reason = "input 0 is missing";
                      return false;
                  },
                  [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CopyKernel>("cuda.bitcast_copy"));
                  }});
    registry.add({"Dropout", dropoutSupported, [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CopyKernel>("cuda.dropout_inference"));
                  }});
}

}  // namespace kiln::cuda
