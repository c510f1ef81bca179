// Ops that only relabel a tensor's shape (Reshape Flatten Squeeze Unsqueeze Identity): the bytes are
// the input's, copied device to device unless the runtime already made the output alias the input. And
// Shape, whose output values are the input's extents, known on the host at reshape.

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

class RelabelKernel : public Kernel {
public:
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs[0].byteSize() != outputs[0].byteSize())
            return invalidArgument("cuda.copy: input " + shapeToString(inputs[0].shape, true) + " and output " +
                                   shapeToString(outputs[0].shape, true) + " differ in size");
        mBytes = outputs[0].byteSize();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mBytes == 0 || io.input(0).data == io.output(0).data) return Status::ok();
        KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice,
                                                  static_cast<cudaStream_t>(io.stream)));
        return Status::ok();
    }
    std::string tacticName() const override { return "cuda.copy"; }

private:
    size_t mBytes{0};
};

class ShapeKernel : public Kernel {
public:
    explicit ShapeKernel(const Node& node) : mStart(node.attrs.getInt("start", 0)), mEnd(node.attrs.getInt("end")) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const int64_t rank = inputs[0].rank();
        auto clampAxis = [rank](int64_t axis) {
            if (axis < 0) axis += rank;
            return std::min(std::max<int64_t>(axis, 0), rank);
        };
        const int64_t start = clampAxis(mStart);
        const int64_t end = clampAxis(mEnd.value_or(rank));
        mValues.clear();
        for (int64_t d = start; d < end; ++d) mValues.push_back(inputs[0].shape[static_cast<size_t>(d)]);
        if (outputs[0].dtype != DataType::kINT64 || outputs[0].elementCount() != static_cast<int64_t>(mValues.size()))
            return invalidArgument("cuda.shape: the output must hold " + std::to_string(mValues.size()) + " int64 values");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mValues.empty()) return Status::ok();
        // From pageable memory the copy is staged before cudaMemcpyAsync returns, and mValues stays
        // unchanged until the next reshape.
        KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(io.output(0).data, mValues.data(), mValues.size() * sizeof(int64_t),
                                                  cudaMemcpyHostToDevice, static_cast<cudaStream_t>(io.stream)));
        return Status::ok();
    }
    std::string tacticName() const override { return "cuda.shape"; }
    // Only a Shape of a data-dependent tensor runs (others are folded while preparing), and such a run
    // is never captured; the copy from pageable memory would not be recordable anyway.
    bool isCapturable(std::string* reason) const override {
        if (reason) *reason = "its values are copied from pageable host memory";
        return false;
    }

private:
    int64_t mStart;
    std::optional<int64_t> mEnd;
    std::vector<int64_t> mValues;
};

bool hasData(const Node& node, std::string* reason) {
    if (node.input(0)) return true;
    if (reason) *reason = "input 0 is missing";
    return false;
}

}  // namespace

void registerShapeKernels(CudaKernelRegistry& registry) {
    for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
        registry.add({op, hasData, [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                          return std::unique_ptr<Kernel>(std::make_unique<RelabelKernel>());
                      }});
    registry.add({"Shape", hasData, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ShapeKernel>(node));
                  }});
}

}  // namespace kiln::cuda
