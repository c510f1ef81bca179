// LayerNormalization on float: each row (the dims from `axis` on, flattened) normalized by its mean and
// variance, then scaled and shifted. One block per row; the mean first, then the variance around it
// (two passes, so a large mean does not cancel the variance's digits), both in float.

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

constexpr int kLayerNormBlock = 256;

__global__ void layerNormKernel(const float* in, const float* scale, const float* bias, float* out, int64_t cols,
                                float epsilon) {
    __shared__ float scratch[kLayerNormBlock / 32 + 1];
    const float* x = in + static_cast<int64_t>(blockIdx.x) * cols;
    float* y = out + static_cast<int64_t>(blockIdx.x) * cols;
    float sum = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += kLayerNormBlock) sum += x[c];
    const float mean = blockSum<kLayerNormBlock>(sum, scratch) / static_cast<float>(cols);
    float squares = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += kLayerNormBlock) {
        const float d = x[c] - mean;
        squares += d * d;
    }
    const float variance = blockSum<kLayerNormBlock>(squares, scratch) / static_cast<float>(cols);
    const float inverse = rsqrtf(variance + epsilon);
    for (int64_t c = threadIdx.x; c < cols; c += kLayerNormBlock) {
        float v = (x[c] - mean) * inverse * scale[c];
        if (bias) v += bias[c];
        y[c] = v;
    }
}

class LayerNormKernel : public Kernel {
public:
    explicit LayerNormKernel(const Node& node)
        : mAxisAttr(node.attrs.getInt("axis", -1)),
          mEpsilon(node.attrs.getFloat("epsilon", 1e-5f)),
          mHasBias(node.hasInput(2)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(x.size()));
        if (!axis) return invalidArgument(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        mCols = shapeElementCount(Shape(x.begin() + *axis, x.end()));
        mRows = mCols == 0 ? 0 : inputs[0].elementCount() / mCols;
        // Scale and B broadcast over the normalized dims; the kernel reads them per column, so they must
        // hold one value per column (a smaller, broadcast Scale has no CUDA kernel).
        if (inputs[1].elementCount() != mCols || (mHasBias && inputs[2].elementCount() != mCols))
            return unsupported(mName + ": Scale and B must hold one value per normalized element (" +
                               std::to_string(mCols) + ")");
        if (mRows > INT32_MAX) return unsupported(mName + ": too many rows for one launch");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mRows == 0) return Status::ok();
        layerNormKernel<<<static_cast<unsigned>(mRows), kLayerNormBlock, 0, static_cast<cudaStream_t>(io.stream)>>>(
            static_cast<const float*>(io.input(0).data), static_cast<const float*>(io.input(1).data),
            mHasBias ? static_cast<const float*>(io.input(2).data) : nullptr, static_cast<float*>(io.output(0).data),
            mCols, mEpsilon);
        return launchStatus("layerNormKernel");
    }

    std::string tacticName() const override { return "cuda.layernorm_f32"; }

private:
    int64_t mAxisAttr;
    float mEpsilon;
    bool mHasBias;
    std::string mName;
    int64_t mRows{0};
    int64_t mCols{0};
};

bool layerNormSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 3, {DataType::kFLOAT}, reason)) return false;
    for (size_t i = 1; i < node.outputs.size(); ++i) {
        if (node.outputs[i]) {
            if (reason) *reason = "LayerNormalization's Mean and InvStdDev outputs have no CUDA kernel";
            return false;
        }
    }
    return true;
}

}  // namespace

void registerNormalizationKernels(CudaKernelRegistry& registry) {
    registry.add({"LayerNormalization", layerNormSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<LayerNormKernel>(node));
                  }});
}

}  // namespace kiln::cuda
