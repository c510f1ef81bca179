// Dropout at inference: the output is the input (copied device to device unless the runtime made it
// alias the input) and the optional mask is all true. Training mode (random masking) has no CUDA
// kernel: a node whose training_mode input is not the constant false is refused, since reading a
// computed flag would wait for the device inside the run.

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

class DropoutKernel : public Kernel {
public:
    explicit DropoutKernel(const Node& node) : mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs[0].byteSize() != outputs[0].byteSize())
            return invalidArgument(mName + ": input " + shapeToString(inputs[0].shape, true) + " and output " +
                                   shapeToString(outputs[0].shape, true) + " differ in size");
        mBytes = outputs[0].byteSize();
        mMaskBytes = 0;
        if (outputs.size() > 1) {
            if (outputs[1].dtype != DataType::kBOOL || outputs[1].elementCount() != inputs[0].elementCount())
                return invalidArgument(mName + ": the mask must be a bool tensor of the input's shape");
            mMaskBytes = outputs[1].byteSize();
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mBytes > 0 && io.input(0).data != io.output(0).data)
            KILN_CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice, stream));
        // bool true is the byte 1.
        if (mMaskBytes > 0 && io.numOutputs > 1 && io.output(1).data)
            KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(io.output(1).data, 1, mMaskBytes, stream));
        return Status::ok();
    }

    std::string tacticName() const override { return "cuda.dropout_inference"; }

private:
    std::string mName;
    size_t mBytes{0};
    size_t mMaskBytes{0};
};

bool dropoutSupported(const Node& node, std::string* reason) {
    if (!node.input(0)) {
        if (reason) *reason = "Dropout needs its data input";
        return false;
    }
    const Value* mode = node.input(2);
    if (!mode) return true;
    if (mode->isConstant() && mode->constant->elementCount() == 1 && mode->constant->elementAsDouble(0) == 0)
        return true;
    if (reason)
        *reason = mode->isConstant() ? "Dropout in training mode (random masking) has no CUDA kernel"
                                     : "Dropout's training_mode must be a constant for the CUDA kernel";
    return false;
}

}  // namespace

void registerDropoutKernels(CudaKernelRegistry& registry) {
    registry.add({"Dropout", dropoutSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<DropoutKernel>(node));
                  }});
}

}  // namespace kiln::cuda
