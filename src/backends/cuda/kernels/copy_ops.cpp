// BitCast: same element width, same shape, so the bytes are the result: a device-to-device copy
// (Dropout at inference, the other pure copy, has its own kernel in dropout.cpp: it also fills the mask).

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
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mBytes != 0 && io.output(0).data != io.input(0).data)
            KILN_CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice, stream));
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    size_t mBytes{0};
};

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
}

}  // namespace kiln::cuda
