// Data movement by a fixed index map, on any element type (moved as 1, 2, 4 or 8-byte words), as the
// CPU kernels move it:
// - DepthToSpace / SpaceToDepth (DCR and CRD): the spec's reshape + transpose, one strided copy;
// - Tile: each output coordinate reads input coordinate (coordinate mod input extent); the repeats
//   follow from the output shape, so the repeats input is never read;
// - CenterCropPad: a centered window of the input inside a centered window of the zeroed output;
// - ReverseSequence: the first sequence_lens[b] steps of each batch reversed, the rest copied. The
//   lengths are read on the device; one out of [0, steps] leaves its batch copied unreversed (the CPU
//   kernel reports it as an error, which a kernel cannot without waiting for the device).

#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/word_dispatch.h"
#include "backends/cuda/kernels/strided_copy.h"

namespace kiln::cuda {

namespace {

constexpr int kMaxWindowRank = 8;

bool wordSizedInput(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    if (!x) {
        if (reason) *reason = node.opType + " needs its input";
        return false;
    }
    if (wordSizedType(x->dtype)) return true;
    if (reason) *reason = std::string("no CUDA ") + node.opType + " for " + dataTypeName(x->dtype);
    return false;
}

// ------------------------------------------------------------------------ DepthToSpace, SpaceToDepth, Tile

/// A kernel that is one strided copy, planned at reshape from the input and output shapes.
class StridedCopyKernel : public Kernel {
public:
    using Planner = std::function<Expected<StridedView>(const Shape& in, const Shape& out)>;
    StridedCopyKernel(std::string tactic, Planner planner) : mTactic(std::move(tactic)), mPlanner(std::move(planner)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_ASSIGN_OR_RETURN(mView, mPlanner(inputs[0].shape, outputs[0].shape));
        mElementSize = dataTypeSize(inputs[0].dtype);
        return Status::ok();
    }
    Status run(const KernelIO& io) override {
        return launchStridedCopy(mView, mElementSize, io.input(0).data, io.output(0).data,
                                 static_cast<cudaStream_t>(io.stream));
    }
    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    Planner mPlanner;
    StridedView mView;
    size_t mElementSize{4};
};

/// The view reading `in`, reshaped to `view`, transposed by `perm`.
Expected<StridedView> transposedView(const Shape& view, const std::vector<int64_t>& perm, const std::string& name) {
    const std::vector<int64_t> strides = contiguousStrides(view);
    Shape out(perm.size());
    std::vector<int64_t> outStrides(perm.size());
    for (size_t d = 0; d < perm.size(); ++d) {
        out[d] = view[static_cast<size_t>(perm[d])];
        outStrides[d] = strides[static_cast<size_t>(perm[d])];
    }
    if (!fitsStridedRank(out)) return unsupported(name + ": more than 8 dims of extent > 1");
    return compactView(out, outStrides, 0);
}

Expected<std::pair<int64_t, bool>> blockAttributes(const Node& node) {
    const int64_t block = node.attrs.getInt("blocksize", 0);
    if (block < 1) return invalidModel(node.describe() + ": attribute 'blocksize' must be a positive integer");
    const std::string mode = node.attrs.getString("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return invalidModel(node.describe() + ": mode '" + mode + "' is not DCR or CRD");
    return std::make_pair(block, mode == "CRD");
}

Expected<std::unique_ptr<Kernel>> createDepthToSpace(const Node& node, const CudaContext&) {
    KILN_ASSIGN_OR_RETURN(auto attrs, blockAttributes(node));
    const auto [b, crd] = attrs;
    const std::string name = node.describe();
    return std::unique_ptr<Kernel>(std::make_unique<StridedCopyKernel>(
        crd ? "cuda.depth_to_space_crd" : "cuda.depth_to_space_dcr",
        [=](const Shape& in, const Shape&) -> Expected<StridedView> {
            if (in.size() != 4 || in[1] % (b * b) != 0)
                return invalidArgument(name + ": input " + shapeToString(in, true) + " does not fit the block size");
            const int64_t c = in[1] / (b * b);
            if (crd) return transposedView({in[0], c, b, b, in[2], in[3]}, {0, 1, 4, 2, 5, 3}, name);
            return transposedView({in[0], b, b, c, in[2], in[3]}, {0, 3, 4, 1, 5, 2}, name);
        }));
}

Expected<std::unique_ptr<Kernel>> createSpaceToDepth(const Node& node, const CudaContext&) {
    KILN_ASSIGN_OR_RETURN(auto attrs, blockAttributes(node));
    const auto [b, crd] = attrs;
    const std::string name = node.describe();
    return std::unique_ptr<Kernel>(std::make_unique<StridedCopyKernel>(
        crd ? "cuda.space_to_depth_crd" : "cuda.space_to_depth_dcr",
        [=](const Shape& in, const Shape&) -> Expected<StridedView> {
            if (in.size() != 4 || in[2] % b != 0 || in[3] % b != 0)
                return invalidArgument(name + ": input " + shapeToString(in, true) + " does not fit the block size");
            const Shape view{in[0], in[1], in[2] / b, b, in[3] / b, b};
            if (crd) return transposedView(view, {0, 1, 3, 5, 2, 4}, name);
            return transposedView(view, {0, 3, 5, 1, 2, 4}, name);
        }));
}

Expected<std::unique_ptr<Kernel>> createTile(const Node& node, const CudaContext&) {
    const std::string name = node.describe();
    return std::unique_ptr<Kernel>(std::make_unique<StridedCopyKernel>(
        "cuda.tile_strided", [=](const Shape& in, const Shape& out) -> Expected<StridedView> {
            if (in.size() != out.size()) return invalidArgument(name + ": output rank differs from the input's");
            // Output dim i of extent r*d, row-major, is the pair (repeat r, element d): the repeat
            // reads the input with stride 0.
            const std::vector<int64_t> inStrides = contiguousStrides(in);
            Shape pairs;
            std::vector<int64_t> strides;
            for (size_t i = 0; i < in.size(); ++i) {
                const int64_t repeats = in[i] == 0 ? 0 : out[i] / in[i];
                if (in[i] != 0 && repeats * in[i] != out[i])
                    return invalidArgument(name + ": output extent " + std::to_string(out[i]) +
                                           " is not a multiple of " + std::to_string(in[i]));
                pairs.insert(pairs.end(), {repeats, in[i]});
                strides.insert(strides.end(), {0, inStrides[i]});
            }
            if (shapeElementCount(out) == 0) return StridedView{};
            if (!fitsStridedRank(pairs)) return unsupported(name + ": more than 8 tiled dims of extent > 1");
            return compactView(pairs, strides, 0);
        }));
}

// ------------------------------------------------------------------------------------- CenterCropPad

/// Output coordinate c of dim d reads input coordinate c - shift[d] when it is in [0, inDims[d]),
/// else the element is zero.
struct WindowPlan {
    int rank{0};
    int64_t outDims[kMaxWindowRank]{};
    int64_t inDims[kMaxWindowRank]{};
    int64_t inStrides[kMaxWindowRank]{};
    int64_t shift[kMaxWindowRank]{};
    int64_t count{0};
};

template <typename Word>
__global__ void centerWindowKernel(const Word* in, Word* out, WindowPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        int64_t rest = i;
        int64_t offset = 0;
        bool inside = true;
        for (int d = plan.rank - 1; d >= 0; --d) {
            const int64_t source = rest % plan.outDims[d] - plan.shift[d];
            rest /= plan.outDims[d];
            inside = inside && source >= 0 && source < plan.inDims[d];
            offset += source * plan.inStrides[d];
        }
        out[i] = inside ? in[offset] : Word{0};
    }
}

class CenterCropPadKernel : public Kernel {
public:
    explicit CenterCropPadKernel(const Node& node) : mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& in = inputs[0].shape;
        const Shape& out = outputs[0].shape;
        if (in.size() != out.size()) return invalidArgument(mName + ": output rank differs from the input's");
        if (in.size() > kMaxWindowRank) return unsupported(mName + ": the CUDA CenterCropPad handles rank <= 8");
        mPlan = WindowPlan{};
        mPlan.rank = static_cast<int>(in.size());
        mPlan.count = shapeElementCount(out);
        const std::vector<int64_t> strides = contiguousStrides(in);
        for (size_t d = 0; d < in.size(); ++d) {
            mPlan.outDims[d] = out[d];
            mPlan.inDims[d] = in[d];
            mPlan.inStrides[d] = strides[d];
            // Cropping starts (in - out) / 2 into the input; padding (out - in) / 2 into the output.
            mPlan.shift[d] = in[d] > out[d] ? -((in[d] - out[d]) / 2) : (out[d] - in[d]) / 2;
        }
        mElementSize = dataTypeSize(inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const bool known = dispatchWord(mElementSize, [&](auto tag) {
            using Word = decltype(tag);
            centerWindowKernel<Word><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const Word*>(io.input(0).data), static_cast<Word*>(io.output(0).data), mPlan);
        });
        if (!known) return unsupported(mName + ": no CUDA kernel for " + std::to_string(mElementSize) + "-byte elements");
        return launchStatus("centerWindowKernel");
    }

    std::string tacticName() const override { return "cuda.center_crop_pad"; }

private:
    std::string mName;
    WindowPlan mPlan;
    size_t mElementSize{4};
};

// ----------------------------------------------------------------------------------- ReverseSequence

/// The input as [outer = time or batch, mid = the other, chunk]: (batch b, step t) is one contiguous
/// chunk of `chunk` elements.
struct ReversePlan {
    bool timeMajor{true};
    int64_t batch{0};
    int64_t steps{0};
    int64_t chunk{0};
    int64_t count{0};
};

template <typename Word, typename Len>
__global__ void reverseSequenceKernel(const Word* in, const Len* lens, Word* out, ReversePlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        const int64_t k = i % plan.chunk;
        const int64_t pair = i / plan.chunk;
        const int64_t b = plan.timeMajor ? pair % plan.batch : pair / plan.steps;
        const int64_t t = plan.timeMajor ? pair / plan.batch : pair % plan.steps;
        const int64_t len = static_cast<int64_t>(lens[b]);
        const int64_t from = len >= 0 && len <= plan.steps && t < len ? len - 1 - t : t;
        const int64_t source = plan.timeMajor ? from * plan.batch + b : b * plan.steps + from;
        out[i] = in[source * plan.chunk + k];
    }
}

class ReverseSequenceKernel : public Kernel {
public:
    ReverseSequenceKernel(const Node& node, bool timeMajor) : mName(node.describe()) { mPlan.timeMajor = timeMajor; }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& in = inputs[0].shape;
        if (in.size() < 2) return invalidArgument(mName + ": the input must have rank >= 2");
        mPlan.batch = in[mPlan.timeMajor ? 1 : 0];
        mPlan.steps = in[mPlan.timeMajor ? 0 : 1];
        mPlan.chunk = shapeElementCount(Shape(in.begin() + 2, in.end()));
        mPlan.count = shapeElementCount(in);
        if (inputs[1].elementCount() != mPlan.batch)
            return invalidArgument(mName + ": sequence_lens must have one entry per batch");
        mElementSize = dataTypeSize(inputs[0].dtype);
        mLensType = inputs[1].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const bool known = dispatchWord(mElementSize, [&](auto tag) {
            using Word = decltype(tag);
            const Word* in = static_cast<const Word*>(io.input(0).data);
            Word* out = static_cast<Word*>(io.output(0).data);
            const unsigned grid = elementwiseGrid(mPlan.count);
            if (mLensType == DataType::kINT32)
                reverseSequenceKernel<Word, int32_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    in, static_cast<const int32_t*>(io.input(1).data), out, mPlan);
            else
                reverseSequenceKernel<Word, int64_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    in, static_cast<const int64_t*>(io.input(1).data), out, mPlan);
        });
        if (!known) return unsupported(mName + ": no CUDA kernel for " + std::to_string(mElementSize) + "-byte elements");
        return launchStatus("reverseSequenceKernel");
    }

    std::string tacticName() const override { return "cuda.reverse_sequence"; }

private:
    std::string mName;
    ReversePlan mPlan;
    size_t mElementSize{4};
    DataType mLensType{DataType::kINT64};
};

Expected<std::unique_ptr<Kernel>> createReverseSequence(const Node& node, const CudaContext&) {
    const int64_t batchAxis = node.attrs.getInt("batch_axis", 1);
    const int64_t timeAxis = node.attrs.getInt("time_axis", 0);
    if ((batchAxis != 0 && batchAxis != 1) || (timeAxis != 0 && timeAxis != 1) || batchAxis == timeAxis)
        return invalidModel(node.describe() + ": batch_axis and time_axis must be 0 and 1 in some order");
    return std::unique_ptr<Kernel>(std::make_unique<ReverseSequenceKernel>(node, timeAxis == 0));
}

bool reverseSequenceSupported(const Node& node, std::string* reason) {
    if (!wordSizedInput(node, reason)) return false;
    const Value* lens = node.input(1);
    if (lens && (lens->dtype == DataType::kINT32 || lens->dtype == DataType::kINT64)) return true;
    if (reason) *reason = "ReverseSequence's sequence_lens must be int32 or int64";
    return false;
}

}  // namespace

void registerSpatialLayoutKernels(CudaKernelRegistry& registry) {
    registry.add({"DepthToSpace", wordSizedInput, createDepthToSpace});
    registry.add({"SpaceToDepth", wordSizedInput, createSpaceToDepth});
    registry.add({"Tile", wordSizedInput, createTile});
    registry.add({"CenterCropPad", wordSizedInput,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CenterCropPadKernel>(node));
                  }});
    registry.add({"ReverseSequence", reverseSequenceSupported, createReverseSequence});
}

}  // namespace kiln::cuda
