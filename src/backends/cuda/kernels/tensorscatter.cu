// TensorScatter (ONNX opset 24, the KV-cache write), as the CPU backend does it
// (backends/cpu/kernels/tensorscatter.cpp): the cache, viewed as [outer, max_sequence_length, inner]
// around the sequence axis, is copied to the output on the stream, then one thread per update element
// writes it to row write_indices[batch] + s of its prefix (modulo the cache length in circular mode).
// Elements move as words of their size, so every fixed-size type is handled.
//
// write_indices live on the device: in linear mode an update row that falls outside the cache (the
// CPU backend reports it before writing anything) is dropped rather than written out of bounds, since
// a kernel cannot report without a host sync.

#include <cuda_runtime.h>

#include <memory>
#include <optional>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

struct ScatterPlan {
    int64_t outer{0};      // rows before the sequence axis (batch included)
    int64_t perBatch{1};   // of those, how many share one write index
    int64_t maxLength{0};  // the cache's sequence extent
    int64_t length{0};     // the update's sequence extent
    int64_t inner{0};      // elements after the sequence axis
    int64_t count{0};      // update elements
    bool circular{false};
};

template <typename Word>
__global__ void tensorScatterKernel(const Word* update, const int64_t* writeIndices, Word* out, ScatterPlan p) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < p.count; e += step) {
        const int64_t c = e % p.inner, s = (e / p.inner) % p.length, prefix = e / (p.inner * p.length);
        const int64_t start = writeIndices ? writeIndices[prefix / p.perBatch] : 0;
        int64_t row = start + s;
        if (p.circular)
            row = ((row % p.maxLength) + p.maxLength) % p.maxLength;
        else if (row < 0 || row >= p.maxLength)
            continue;
        out[(prefix * p.maxLength + row) * p.inner + c] = update[e];
    }
}

class TensorScatterKernel final : public Kernel {
public:
    TensorScatterKernel(const Node& node, bool circular)
        : mName(node.describe()), mAxis(node.attrs.getInt("axis", -2)), mHasIndices(node.hasInput(2)) {
        mPlan.circular = circular;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& cache = inputs[0].shape;
        const Shape& update = inputs[1].shape;
        const int64_t rank = static_cast<int64_t>(cache.size());
        std::optional<int64_t> axis = normalizeAxis(mAxis, rank);
        if (!axis || *axis == 0 || rank < 2)
            return invalidArgument(mName + ": axis " + std::to_string(mAxis) + " does not name a non-batch axis of rank " +
                                   std::to_string(rank));
        bool fits = update.size() == cache.size() && outputs[0].shape == cache && inputs[1].dtype == inputs[0].dtype &&
                    outputs[0].dtype == inputs[0].dtype;
        for (int64_t i = 0; fits && i < rank; ++i)
            fits = i == *axis ? update[size_t(i)] <= cache[size_t(i)] : update[size_t(i)] == cache[size_t(i)];
        if (!fits)
            return invalidArgument(mName + ": update " + shapeToString(update, true) + " does not fit past_cache " +
                                   shapeToString(cache, true) + " along axis " + std::to_string(*axis));
        if (mHasIndices && (inputs[2].shape != Shape{cache[0]} || inputs[2].dtype != DataType::kINT64))
            return invalidArgument(mName + ": write_indices " + shapeToString(inputs[2].shape, true) +
                                   " is not int64 of one index per batch entry (" + std::to_string(cache[0]) + ")");
        mPlan.outer = shapeElementCount(Shape(cache.begin(), cache.begin() + *axis));
        mPlan.perBatch = cache[0] > 0 ? mPlan.outer / cache[0] : 1;
        mPlan.maxLength = cache[size_t(*axis)];
        mPlan.length = update[size_t(*axis)];
        mPlan.inner = shapeElementCount(Shape(cache.begin() + *axis + 1, cache.end()));
        mPlan.count = mPlan.outer * mPlan.length * mPlan.inner;
        mBytes = outputs[0].byteSize();
        mElementSize = dataTypeSize(inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mBytes > 0 && io.output(0).data != io.input(0).data)
            KILN_CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice, stream));
        if (mPlan.count == 0) return Status::ok();
        const int64_t* indices = mHasIndices ? static_cast<const int64_t*>(io.input(2).data) : nullptr;
        const unsigned grid = elementwiseGrid(mPlan.count);
#define KILN_TENSOR_SCATTER_CASE(BYTES, WORD)                                                                \
    case BYTES:                                                                                              \
        tensorScatterKernel<WORD><<<grid, kElementwiseBlock, 0, stream>>>(                                   \
            static_cast<const WORD*>(io.input(1).data), indices, static_cast<WORD*>(io.output(0).data), mPlan); \
        break;
        switch (mElementSize) {
            KILN_TENSOR_SCATTER_CASE(1, uint8_t)
            KILN_TENSOR_SCATTER_CASE(2, uint16_t)
            KILN_TENSOR_SCATTER_CASE(4, uint32_t)
            KILN_TENSOR_SCATTER_CASE(8, uint64_t)
            default: return unsupported(mName + ": no CUDA kernel for " + std::to_string(mElementSize) + "-byte elements");
        }
#undef KILN_TENSOR_SCATTER_CASE
        return launchStatus("tensorScatterKernel");
    }

    std::string tacticName() const override { return "cuda.tensor_scatter"; }

private:
    std::string mName;
    int64_t mAxis;
    bool mHasIndices;
    ScatterPlan mPlan;
    size_t mBytes{0};
    size_t mElementSize{4};
};

bool tensorScatterSupported(const Node& node, std::string* reason) {
    const Value* cache = node.input(0);
    const Value* update = node.input(1);
    if (!cache || !update) {
        if (reason) *reason = "past_cache and update are required";
        return false;
    }
    const size_t size = cache->dtype == DataType::kSTRING ? 0 : dataTypeSize(cache->dtype);
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        if (reason) *reason = std::string("no CUDA TensorScatter for ") + dataTypeName(cache->dtype);
        return false;
    }
    if (update->dtype != cache->dtype) {
        if (reason) *reason = "update must have past_cache's type";
        return false;
    }
    const Value* indices = node.input(2);
    if (indices && indices->dtype != DataType::kINT64) {
        if (reason) *reason = "write_indices must be int64";
        return false;
    }
    const std::string mode = node.attrs.getString("mode", "linear");
    if (mode != "linear" && mode != "circular") {
        if (reason) *reason = "mode '" + mode + "' is not linear or circular";
        return false;
    }
    return true;
}

}  // namespace

void registerTensorScatterKernels(CudaKernelRegistry& registry) {
    registry.add({"TensorScatter", tensorScatterSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      const bool circular = node.attrs.getString("mode", "linear") == "circular";
                      return std::unique_ptr<Kernel>(std::make_unique<TensorScatterKernel>(node, circular));
                  }});
}

}  // namespace kiln::cuda
