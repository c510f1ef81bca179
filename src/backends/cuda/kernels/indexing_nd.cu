// Indexing ops that pick or place whole elements (moved as 1, 2, 4 or 8-byte words), as the CPU kernels
// do:
// - GatherND with batch_dims: each int64 index tuple selects a slice of the data; one thread per
//   output element;
// - OneHot: output element (outer, d, inner) is on_value when the index at (outer, inner), counted
//   from the end when negative, is d, else off_value; the depth is the output's extent on the axis,
//   so the depth input is never read; the values are read on the device;
// - MaxUnpool: the output zeroed, then each X element written where its flat index (into the unpooled
//   N x C x extents tensor, placed in the output's leading corner) points.
// - Compress: the kept positions of the condition read back to the host (the output shape depends on
//   them), then the slices gathered on the device.
// Indices out of range cannot be reported without waiting for the device (the CPU kernels report
// them as errors): GatherND writes zeros for such a tuple, OneHot leaves the all-off row (as the spec
// says), MaxUnpool drops the element. When two MaxUnpool elements share an index, some one of them
// stays (on the CPU the later one).

#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_index.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/word_dispatch.h"
#include "ir/ops/conv_window.h"

namespace kiln::cuda {

namespace {

constexpr int kMaxTupleSize = 8;

// -------------------------------------------------------------------------------------------- GatherND

struct GatherNdPlan {
    int tupleSize{0};
    int64_t tupleExtents[kMaxTupleSize]{};
    int64_t tupleStrides[kMaxTupleSize]{};
    int64_t tuplesPerBatch{1};
    int64_t batchStride{0};
    int64_t slice{1};
    int64_t count{0};  // output elements
};

template <typename Word>
__global__ void gatherNdKernel(const Word* data, const int64_t* indices, Word* out, GatherNdPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < plan.count; e += step) {
        const int64_t tuple = e / plan.slice;
        const int64_t* index = indices + tuple * plan.tupleSize;
        int64_t offset = (tuple / plan.tuplesPerBatch) * plan.batchStride + e % plan.slice;
        bool inside = true;
        for (int j = 0; j < plan.tupleSize; ++j) {
            const int64_t i = normalizeIndex(index[j], plan.tupleExtents[j]);
            inside = inside && i >= 0;
            offset += i * plan.tupleStrides[j];
        }
        out[e] = inside ? data[offset] : Word{0};
    }
}

class GatherNdKernel : public Kernel {
public:
    explicit GatherNdKernel(const Node& node)
        : mName(node.describe()), mBatchDims(node.attrs.getInt("batch_dims", 0)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& data = inputs[0].shape;
        const Shape& indices = inputs[1].shape;
        const int64_t r = static_cast<int64_t>(data.size());
        const int64_t q = static_cast<int64_t>(indices.size());
        if (q < 1 || mBatchDims < 0 || mBatchDims >= std::min(q, r))
            return invalidModel(mName + ": bad batch_dims or ranks");
        const int64_t tupleSize = indices.back();
        if (tupleSize < 1 || tupleSize > r - mBatchDims) return invalidModel(mName + ": bad indices.shape[-1]");
        if (tupleSize > kMaxTupleSize) return unsupported(mName + ": index tuples of more than 8 coordinates");
        const int64_t batches = shapeElementCount(Shape(data.begin(), data.begin() + mBatchDims));
        if (shapeElementCount(Shape(indices.begin(), indices.begin() + mBatchDims)) != batches)
            return invalidArgument(mName + ": batch dims of data and indices differ");
        mPlan = GatherNdPlan{};
        mPlan.tupleSize = static_cast<int>(tupleSize);
        mPlan.tuplesPerBatch = shapeElementCount(Shape(indices.begin() + mBatchDims, indices.end() - 1));
        mPlan.slice = shapeElementCount(Shape(data.begin() + mBatchDims + tupleSize, data.end()));
        mPlan.batchStride = shapeElementCount(Shape(data.begin() + mBatchDims, data.end()));
        int64_t stride = mPlan.slice;
        for (int64_t j = tupleSize - 1; j >= 0; --j) {
            mPlan.tupleExtents[j] = data[static_cast<size_t>(mBatchDims + j)];
            mPlan.tupleStrides[j] = stride;
            stride *= data[static_cast<size_t>(mBatchDims + j)];
        }
        mPlan.count = batches * mPlan.tuplesPerBatch * mPlan.slice;
        if (outputs[0].elementCount() != mPlan.count)
            return invalidArgument(mName + ": the output " + shapeToString(outputs[0].shape, true) +
                                   " does not hold the gathered slices");
        mElementSize = dataTypeSize(inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const bool known = dispatchWord(mElementSize, [&](auto tag) {
            using Word = decltype(tag);
            gatherNdKernel<Word><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const Word*>(io.input(0).data), static_cast<const int64_t*>(io.input(1).data),
                static_cast<Word*>(io.output(0).data), mPlan);
        });
        if (!known) return unsupported(mName + ": no CUDA kernel for " + std::to_string(mElementSize) + "-byte elements");
        return launchStatus("gatherNdKernel");
    }

    std::string tacticName() const override { return "cuda.gather_nd"; }

private:
    std::string mName;
    int64_t mBatchDims;
    GatherNdPlan mPlan;
    size_t mElementSize{4};
};

bool gatherNdSupported(const Node& node, std::string* reason) {
    const Value* data = node.input(0);
    const Value* indices = node.input(1);
    if (!data || !indices || indices->dtype != DataType::kINT64) {
        if (reason) *reason = "GatherND needs data and int64 indices";
        return false;
    }
    if (!wordSizedType(data->dtype)) {
        if (reason) *reason = std::string("no CUDA GatherND for ") + dataTypeName(data->dtype);
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------- OneHot

struct OneHotPlan {
    int64_t depth{0};
    int64_t inner{1};
    int64_t count{0};
};

template <typename Word, typename I>
__global__ void oneHotKernel(const I* indices, const Word* values, Word* out, OneHotPlan plan) {
    const Word off = values[0];
    const Word on = values[1];
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < plan.count; e += step) {
        const int64_t i = e % plan.inner;
        const int64_t rest = e / plan.inner;
        const int64_t d = rest % plan.depth;
        const int64_t a = rest / plan.depth;
        // Float indices truncate toward zero (float16 through float), as the CPU converts them.
        const int64_t index = normalizeIndex(static_cast<int64_t>(load(indices[a * plan.inner + i])), plan.depth);
        out[e] = index == d ? on : off;
    }
}

using OneHotIndexTypes = DeviceTypes<float, double, __half, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t,
                                     uint32_t, uint64_t>;

class OneHotKernel : public Kernel {
public:
    explicit OneHotKernel(const Node& node) : mName(node.describe()), mAxisAttr(node.attrs.getInt("axis", -1)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& out = outputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(out.size()));
        if (!axis) return invalidModel(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        if (inputs[2].elementCount() != 2) return invalidArgument(mName + ": values must hold [off_value, on_value]");
        mPlan.depth = out[static_cast<size_t>(*axis)];
        mPlan.inner = shapeElementCount(Shape(out.begin() + *axis + 1, out.end()));
        mPlan.count = shapeElementCount(out);
        if (mPlan.count != inputs[0].elementCount() * mPlan.depth)
            return invalidArgument(mName + ": the output " + shapeToString(out, true) + " does not fit the indices");
        mIndexType = inputs[0].dtype;
        mElementSize = dataTypeSize(inputs[2].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        Status status = unsupported(mName + ": no CUDA OneHot for " + std::to_string(mElementSize) + "-byte values");
        dispatchWord(mElementSize, [&](auto tag) {
            using Word = decltype(tag);
            (void)(status = OneHotIndexTypes::dispatchStatus(
                mIndexType, unsupported(mName + ": no CUDA OneHot for " + dataTypeName(mIndexType) + " indices"),
                [&](auto indexTag) -> Status {
                    using I = decltype(indexTag);
                    oneHotKernel<Word, I><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                        static_cast<const I*>(io.input(0).data), static_cast<const Word*>(io.input(2).data),
                        static_cast<Word*>(io.output(0).data), mPlan);
                    return launchStatus("oneHotKernel");
                }));
        });
        return status;
    }

    std::string tacticName() const override { return "cuda.one_hot"; }

private:
    std::string mName;
    int64_t mAxisAttr;
    OneHotPlan mPlan;
    DataType mIndexType{DataType::kINT64};
    size_t mElementSize{4};
};

bool oneHotSupported(const Node& node, std::string* reason) {
    const Value* indices = node.input(0);
    const Value* values = node.input(2);
    if (!indices || !values) {
        if (reason) *reason = "OneHot needs its indices, depth and values";
        return false;
    }
    if (!OneHotIndexTypes::contains(indices->dtype)) {
        if (reason) *reason = std::string("no CUDA OneHot for ") + dataTypeName(indices->dtype) + " indices";
        return false;
    }
    if (!wordSizedType(values->dtype)) {
        if (reason) *reason = std::string("no CUDA OneHot for ") + dataTypeName(values->dtype) + " values";
        return false;
    }
    return true;
}

// ------------------------------------------------------------------------------------------- MaxUnpool

constexpr int kMaxUnpoolRank = 8;

struct UnpoolPlan {
    int rank{0};
    int64_t unpooled[kMaxUnpoolRank]{};  // N, C, unpooled spatial extents
    int64_t outStrides[kMaxUnpoolRank]{};
    int64_t unpooledCount{0};
    int64_t count{0};  // X elements
};

template <typename Word>
__global__ void maxUnpoolKernel(const Word* x, const int64_t* indices, Word* out, UnpoolPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        int64_t index = indices[i];
        if (index < 0 || index >= plan.unpooledCount) continue;
        int64_t offset = 0;
        for (int d = plan.rank - 1; d >= 0; --d) {
            offset += (index % plan.unpooled[d]) * plan.outStrides[d];
            index /= plan.unpooled[d];
        }
        out[offset] = x[i];
    }
}

class MaxUnpoolKernel : public Kernel {
public:
    MaxUnpoolKernel(const Node& node, WindowSpec spec) : mName(node.describe()), mSpec(std::move(spec)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& y = outputs[0].shape;
        if (inputs[1].shape != x)
            return invalidArgument(mName + ": indices I " + shapeToString(inputs[1].shape, true) +
                                   " must have the shape of X " + shapeToString(x, true));
        if (y.size() != x.size()) return invalidArgument(mName + ": the output's rank differs from X's");
        if (x.size() > kMaxUnpoolRank) return unsupported(mName + ": the CUDA MaxUnpool handles rank <= 8");
        Shape unpooled{x[0], x[1]};
        for (size_t d = 0; d + 2 < x.size(); ++d) unpooled.push_back(unpoolExtent(mSpec, d, x[2 + d]));
        for (size_t d = 0; d < y.size(); ++d)
            if (d < 2 ? y[d] != unpooled[d] : y[d] < unpooled[d])
                return invalidArgument(mName + ": output_shape " + shapeToString(y, true) +
                                       " must keep N and C and hold the unpooled shape " + shapeToString(unpooled, true));
        mPlan = UnpoolPlan{};
        mPlan.rank = static_cast<int>(x.size());
        int64_t stride = 1;
        for (int d = mPlan.rank - 1; d >= 0; --d) {
            mPlan.unpooled[d] = unpooled[static_cast<size_t>(d)];
            mPlan.outStrides[d] = stride;
            stride *= y[static_cast<size_t>(d)];
        }
        mPlan.unpooledCount = shapeElementCount(unpooled);
        mPlan.count = shapeElementCount(x);
        mElementSize = dataTypeSize(inputs[0].dtype);
        mBytes = outputs[0].byteSize();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mBytes > 0) KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(io.output(0).data, 0, mBytes, stream));
        if (mPlan.count == 0) return Status::ok();
        const bool known = dispatchWord(mElementSize, [&](auto tag) {
            using Word = decltype(tag);
            maxUnpoolKernel<Word><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const Word*>(io.input(0).data), static_cast<const int64_t*>(io.input(1).data),
                static_cast<Word*>(io.output(0).data), mPlan);
        });
        if (!known) return unsupported(mName + ": no CUDA kernel for " + std::to_string(mElementSize) + "-byte elements");
        return launchStatus("maxUnpoolKernel");
    }

    std::string tacticName() const override { return "cuda.max_unpool"; }

private:
    std::string mName;
    WindowSpec mSpec;
    UnpoolPlan mPlan;
    size_t mElementSize{4};
    size_t mBytes{0};
};

bool maxUnpoolSupported(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    const Value* indices = node.input(1);
    if (!x || !indices || indices->dtype != DataType::kINT64) {
        if (reason) *reason = "MaxUnpool needs X and int64 indices";
        return false;
    }
    if (!FloatTypes::contains(x->dtype)) {
        if (reason) *reason = std::string("no CUDA kernel for MaxUnpool on ") + dataTypeName(x->dtype);
        return false;
    }
    if (x->shape.size() < 3) {
        if (reason) *reason = "MaxUnpool's X must have rank >= 3 (N x C x D1 ...)";
        return false;
    }
    return ranksAtMost(node, kMaxUnpoolRank, reason);
}

Expected<std::unique_ptr<Kernel>> createMaxUnpool(const Node& node, const CudaContext&) {
    const size_t rank = node.input(0)->shape.size();
    auto spec = parseWindowSpec(node.attrs, rank - 2, std::nullopt, WindowKind::kPooling);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    return std::unique_ptr<Kernel>(std::make_unique<MaxUnpoolKernel>(node, std::move(spec).value()));
}

// -------------------------------------------------------------------------------------------- Compress

struct CompressPlan {
    int64_t extent{0};  // input extent along the axis (all elements when there is no axis)
    int64_t inner{1};
    int64_t kept{0};
    int64_t count{0};  // output elements
};

template <typename Word>
__global__ void compressKernel(const Word* in, const int64_t* kept, Word* out, CompressPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < plan.count; e += step) {
        const int64_t i = e % plan.inner;
        const int64_t rest = e / plan.inner;
        const int64_t j = rest % plan.kept;
        const int64_t o = rest / plan.kept;
        out[e] = in[(o * plan.extent + kept[j]) * plan.inner + i];
    }
}

/// Compress: the slices along `axis` (or the elements of the flattened input) whose condition entry is
/// true; a condition shorter than the axis drops the slices past its end. The output's shape depends
/// on the condition's values, so the kernel reads the condition back to the host (after the runtime
/// synchronized the stream) to report it, then uploads the kept positions to its workspace and
/// gathers the slices on the device.
class CompressKernel : public Kernel {
public:
    explicit CompressKernel(const Node& node) : mName(node.describe()), mAxis(node.attrs.getInt("axis")) {}

    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        KILN_RETURN_IF_ERROR(layout(io.input(0).shape));
        KILN_ASSIGN_OR_RETURN(mKept, keptPositions(io.input(1), static_cast<cudaStream_t>(io.stream)));
        mPending = true;
        return std::vector<Shape>{outputShape(io.input(0).shape)};
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        KILN_RETURN_IF_ERROR(layout(inputs[0].shape));
        mElementSize = dataTypeSize(inputs[0].dtype);
        mWorkspace = static_cast<size_t>(std::min(mPlan.extent, inputs[1].elementCount())) * sizeof(int64_t);
        return Status::ok();
    }

    size_t workspaceSize() const override { return mWorkspace; }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mPending) {
            KILN_ASSIGN_OR_RETURN(mKept, keptPositions(io.input(1), stream));
        }
        mPending = false;
        const Shape expected = outputShape(io.input(0).shape);
        if (io.output(0).shape != expected)
            return internalError(mName + ": output given shape " + shapeToString(io.output(0).shape, true) +
                                 ", the condition keeps " + shapeToString(expected, true));
        mPlan.kept = static_cast<int64_t>(mKept.size());
        mPlan.count = io.output(0).elementCount();
        if (mPlan.count == 0) return Status::ok();
        // From pageable memory the copy is staged before cudaMemcpyAsync returns, so mKept may change
        // afterwards.
        KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(io.workspace, mKept.data(), mKept.size() * sizeof(int64_t),
                                                  cudaMemcpyHostToDevice, stream));
        const bool known = dispatchWord(mElementSize, [&](auto tag) {
            using Word = decltype(tag);
            compressKernel<Word><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const Word*>(io.input(0).data), static_cast<const int64_t*>(io.workspace),
                static_cast<Word*>(io.output(0).data), mPlan);
        });
        if (!known) return unsupported(mName + ": no CUDA kernel for " + std::to_string(mElementSize) + "-byte elements");
        return launchStatus("compressKernel");
    }

    bool isCapturable(std::string* reason) const override {
        if (reason) *reason = "its output shape depends on the condition, read back to the host";
        return false;
    }

    std::string tacticName() const override { return "cuda.compress"; }

private:
    Status layout(const Shape& x) {
        mPlan = CompressPlan{};
        mPlan.extent = shapeElementCount(x);
        if (!mAxis) return Status::ok();
        auto axis = normalizeAxis(*mAxis, static_cast<int64_t>(x.size()));
        if (!axis)
            return invalidArgument(mName + ": axis " + std::to_string(*mAxis) + " is out of range for rank " +
                                   std::to_string(x.size()));
        mAxisIndex = static_cast<size_t>(*axis);
        mPlan.extent = x[mAxisIndex];
        mPlan.inner = shapeElementCount(Shape(x.begin() + *axis + 1, x.end()));
        return Status::ok();
    }

    Shape outputShape(const Shape& x) const {
        Shape out = mAxis ? x : Shape{0};
        out[mAxis ? mAxisIndex : 0] = static_cast<int64_t>(mKept.size());
        return out;
    }

    Expected<std::vector<int64_t>> keptPositions(const TensorView& condition, cudaStream_t stream) const {
        const int64_t length = std::min(mPlan.extent, condition.elementCount());
        std::vector<uint8_t> flags(static_cast<size_t>(length));
        if (length > 0) {
            KILN_CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(flags.data(), condition.data, flags.size(), cudaMemcpyDeviceToHost, stream));
            KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
        }
        std::vector<int64_t> kept;
        for (int64_t i = 0; i < length; ++i)
            if (flags[static_cast<size_t>(i)]) kept.push_back(i);
        return kept;
    }

    std::string mName;
    std::optional<int64_t> mAxis;
    size_t mAxisIndex{0};
    CompressPlan mPlan;
    std::vector<int64_t> mKept;
    bool mPending{false};
    size_t mElementSize{4};
    size_t mWorkspace{0};
};

bool compressSupported(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    const Value* condition = node.input(1);
    if (!x || !condition || condition->dtype != DataType::kBOOL) {
        if (reason) *reason = "Compress needs its input and a bool condition";
        return false;
    }
    if (!wordSizedType(x->dtype)) {
        if (reason) *reason = std::string("no CUDA Compress for ") + dataTypeName(x->dtype);
        return false;
    }
    return true;
}

}  // namespace

void registerIndexingNdKernels(CudaKernelRegistry& registry) {
    registry.add({"GatherND", gatherNdSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GatherNdKernel>(node));
                  }});
    registry.add({"OneHot", oneHotSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<OneHotKernel>(node));
                  }});
    registry.add({"MaxUnpool", maxUnpoolSupported, createMaxUnpool});
    registry.add({"Compress", compressSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CompressKernel>(node));
                  }});
}

}  // namespace kiln::cuda
