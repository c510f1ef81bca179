// NonZero, Unique, NonMaxSuppression and ImageDecoder: ops whose output shapes depend on the values of their inputs
// (OpSchema::dataDependentShape). The runtime cannot plan the layers after them until the host knows
// the output sizes, so a run that reaches one synchronizes with the device whatever the kernel does.
// ImageDecoder has no device kernel: images are decoded on the host by the CPU backend's kernel (below).
// The others have a device kernel that brings back only the output size: NonZero for the common types
// (nonzero.cu), NonMaxSuppression on float boxes and scores (nms.cu), Unique over all elements of a
// float, double or 8-, 32- or 64-bit integer input (unique.cu). What those do not take (other types,
// Unique along an axis of a multi-dimensional input) is evaluated on the host: computeOutputShapes() copies the inputs back on the
// run's stream (after the layers that produce them), waits, and lets the CPU backend's kernel of the
// same node compute the outputs and their shapes; run() copies those outputs to the device. The
// results are thus exactly the CPU backend's. Copies through pageable host memory and the waits keep
// such a run out of a CUDA graph (isCapturable says so).

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/nms.h"
#include "backends/cuda/kernels/nonzero.h"
#include "backends/cuda/kernels/unique.h"

namespace kiln::cuda {

namespace {

class HostEvaluatedKernel : public Kernel {
public:
    HostEvaluatedKernel(const Node& node, std::unique_ptr<Kernel> cpuKernel)
        : mName(node.describe()), mOp(node.opType), mCpu(std::move(cpuKernel)) {}

    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        KILN_RETURN_IF_ERROR(stageInputs(io));
        KernelIO host = hostIO(io);
        auto shapes = mCpu->computeOutputShapes(host);
        if (!shapes) mStaged = false;
        return shapes;
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        // Without a computeOutputShapes() first (shapes known when the engine was built) the inputs are
        // read here; otherwise the CPU kernel still holds the outputs it computed for those shapes.
        if (!mStaged) KILN_RETURN_IF_ERROR(stageInputs(io));
        mStaged = false;
        std::vector<Tensor> outputs;
        std::vector<TensorView> outViews;
        outputs.reserve(io.numOutputs);
        for (size_t i = 0; i < io.numOutputs; ++i) {
            const TensorView& out = io.output(i);
            if (!out.data) {
                outViews.emplace_back();
                continue;
            }
            outputs.push_back(Tensor::allocate(out.dtype, out.shape));
            outViews.push_back(viewOf(outputs.back()));
        }
        KernelIO host = hostIO(io);
        host.outputs = outViews.data();
        host.numOutputs = outViews.size();
        KILN_RETURN_IF_ERROR(mCpu->run(host));
        for (size_t i = 0; i < io.numOutputs; ++i) {
            const TensorView& out = io.output(i);
            if (out.data && out.byteSize() != 0)
                KILN_CUDA_RETURN_IF_ERROR(
                    cudaMemcpyAsync(out.data, outViews[i].data, out.byteSize(), cudaMemcpyHostToDevice, stream));
        }
        // The host tensors die with this call: the copies must have read them.
        KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
        mInputs.clear();
        return Status::ok();
    }

    std::string tacticName() const override { return "cuda.host_evaluated_" + mCpu->tacticName(); }

    bool isCapturable(std::string* reason) const override {
        if (reason)
            *reason = mOp + "'s output shape depends on its input values: the inputs are read back to the host "
                             "and the outputs computed there";
        return false;
    }

private:
    /// Host copies of the present inputs, once the stream has produced them.
    Status stageInputs(const KernelIO& io) {
        auto stream = static_cast<cudaStream_t>(io.stream);
        mInputs.clear();
        mInputViews.clear();
        mInputs.reserve(io.numInputs);
        for (size_t i = 0; i < io.numInputs; ++i) {
            const TensorView& in = io.input(i);
            if (!in.data) {
                mInputViews.emplace_back();
                continue;
            }
            mInputs.push_back(Tensor::allocate(in.dtype, in.shape));
            if (in.byteSize() != 0)
                KILN_CUDA_RETURN_IF_ERROR(
                    cudaMemcpyAsync(mInputs.back().data(), in.data, in.byteSize(), cudaMemcpyDeviceToHost, stream));
            mInputViews.push_back(viewOf(mInputs.back()));
        }
        KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
        mStaged = true;
        return Status::ok();
    }

    KernelIO hostIO(const KernelIO& io) const {
        KernelIO host;
        host.inputs = mInputViews.data();
        host.numInputs = mInputViews.size();
        host.strings = io.strings;
        return host;
    }

    std::string mName;
    std::string mOp;
    std::unique_ptr<Kernel> mCpu;
    std::vector<Tensor> mInputs;
    std::vector<TensorView> mInputViews;
    bool mStaged{false};
};

Backend* cpuBackend(std::string* reason) {
    std::string error;
    Backend* cpu = getBackend("cpu", &error);
    if (!cpu && reason) *reason = "the CPU backend that evaluates it is unavailable: " + error;
    return cpu;
}

bool hostEvaluatedSupported(const Node& node, std::string* reason) {
    Backend* cpu = cpuBackend(reason);
    if (!cpu) return false;
    std::string why;
    if (cpu->supports(node, &why)) return true;
    if (reason) *reason = node.opType + " is evaluated by the CPU backend's kernel, which refuses it: " + why;
    return false;
}

/// The node's device kernel, or nullptr when it has none for the node's types and attributes.
std::unique_ptr<Kernel> makeDeviceKernel(const Node& node) {
    if (node.opType == "NonZero") return makeDeviceNonZero(node);
    if (node.opType == "Unique") return makeDeviceUnique(node);
    if (node.opType == "NonMaxSuppression") return makeDeviceNms(node);
    return nullptr;
}

Expected<std::unique_ptr<Kernel>> createHostEvaluated(const Node& node, const CudaContext&) {
    if (std::unique_ptr<Kernel> device = makeDeviceKernel(node)) return device;
    std::string reason;
    Backend* cpu = cpuBackend(&reason);
    if (!cpu) return unsupported(node.describe() + ": " + reason);
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> cpuKernel, cpu->createKernel(node));
    return std::unique_ptr<Kernel>(std::make_unique<HostEvaluatedKernel>(node, std::move(cpuKernel)));
}

}  // namespace

void registerValueDependentKernels(CudaKernelRegistry& registry) {
    for (const char* op : {"NonZero", "Unique", "NonMaxSuppression", "ImageDecoder"})
        registry.add({op, hostEvaluatedSupported, createHostEvaluated});
}

}  // namespace kiln::cuda
