// Data movement without arithmetic, on any element type (moved in words of up to 16 bytes): Transpose
// and Slice (a strided view of the input read in output order, copied by strided_copy.cu), Gather (rows
// picked by int32/int64 indices), and Concat / Split (one kernel over the whole tensor's words for up to
// eight pieces; past that, or past 32-bit offsets, one cudaMemcpy2DAsync per piece).

#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/index_values.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/kernels/strided_index.cuh"
#include "ir/ops/shape_infer_helpers.h"
#include "ir/ops/tensor_slice_math.h"

namespace kiln::cuda {

namespace {

// ---------------------------------------------------------------------------------------------- Transpose

class TransposeKernel : public Kernel {
public:
    explicit TransposeKernel(const Node& node) : mPermAttr(node.attrs.getInts("perm")), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& in = inputs[0].shape;
        const std::vector<int64_t> perm = shapeinfer::transposePerm(mPermAttr, in.size());
        if (perm.size() != in.size()) return invalidArgument(mName + ": perm does not match the input rank");
        const std::vector<int64_t> inStrides = contiguousStrides(in);
        std::vector<int64_t> strides(perm.size());
        for (size_t d = 0; d < perm.size(); ++d) {
            auto axis = normalizeAxis(perm[d], static_cast<int64_t>(in.size()));
            if (!axis) return invalidArgument(mName + ": perm is not a permutation");
            strides[d] = inStrides[static_cast<size_t>(*axis)];
        }
        if (!fitsStridedRank(outputs[0].shape))
            return unsupported(mName + ": more than 8 dims of extent > 1");
        mView = compactView(outputs[0].shape, strides, 0);
        mElementSize = dataTypeSize(inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return launchStridedCopy(mView, mElementSize, io.input(0).data, io.output(0).data,
                                 static_cast<cudaStream_t>(io.stream));
    }
    std::string tacticName() const override { return "cuda.transpose_strided"; }

private:
    std::optional<std::vector<int64_t>> mPermAttr;
    std::string mName;
    StridedView mView;
    size_t mElementSize{4};
};

// -------------------------------------------------------------------------------------------------- Slice

class SliceKernel : public Kernel {
public:
    explicit SliceKernel(const Node& node) : mName(node.describe()) {
        for (size_t i = 1; i <= 4; ++i) mIndex[i - 1] = IndexInput(node.input(i));
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        mElementSize = dataTypeSize(inputs[0].dtype);
        if (mInShape.size() != mOutShape.size()) return invalidArgument(mName + ": output rank differs from the input's");
        if (!fitsStridedRank(mOutShape)) return unsupported(mName + ": more than 8 dims of extent > 1");
        // Starts/ends/axes/steps known before running (constants, or values folded at these shapes: the
        // usual cases) are resolved once here; values the layers compute, at each run.
        mResolved = false;
        std::vector<TensorView> known = inputs;
        known.resize(5);
        for (size_t i = 0; i < 4; ++i)
            if (!mIndex[i].knownBeforeRun(known[i + 1])) return Status::ok();
        return resolve(known, nullptr);
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mResolved) {
            std::vector<TensorView> inputs(io.inputs, io.inputs + io.numInputs);
            inputs.resize(5);
            KILN_RETURN_IF_ERROR(resolve(inputs, stream));
            mResolved = false;  // computed values may differ on the next run
        }
        return launchStridedCopy(mView, mElementSize, io.input(0).data, io.output(0).data, stream);
    }
    std::string tacticName() const override { return "cuda.slice_strided"; }
    bool isCapturable(std::string* reason) const override {
        if (mResolved) return true;
        if (reason) *reason = "its starts, ends, axes or steps are computed during the run and read back to the host";
        return false;
    }

private:
    /// Reads the index inputs (constants from the node, the rest from `inputs` on `stream`) and plans the copy.
    Status resolve(const std::vector<TensorView>& inputs, cudaStream_t stream) {
        static const char* kRoles[4] = {" starts", " ends", " axes", " steps"};
        std::vector<int64_t> values[4];
        for (size_t i = 0; i < 4; ++i) {
            if (!mIndex[i].present()) continue;
            KILN_ASSIGN_OR_RETURN(values[i], mIndex[i].read(inputs[i + 1], stream, mName + kRoles[i]));
        }
        const std::vector<int64_t>& starts = values[0];
        const std::vector<int64_t>& ends = values[1];
        std::vector<int64_t> axes = values[2];
        std::vector<int64_t> steps = values[3];
        if (!mIndex[2].present()) {
            axes.resize(starts.size());
            std::iota(axes.begin(), axes.end(), int64_t{0});
        }
        if (!mIndex[3].present()) steps.assign(starts.size(), 1);
        if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
            return invalidArgument(mName + ": starts, ends, axes and steps must have the same length");
        const int64_t rank = static_cast<int64_t>(mInShape.size());
        const std::vector<int64_t> inStrides = contiguousStrides(mInShape);
        std::vector<int64_t> strides(inStrides);
        std::vector<bool> sliced(mInShape.size(), false);
        int64_t offset = 0;
        for (size_t i = 0; i < starts.size(); ++i) {
            auto axis = normalizeAxis(axes[i], rank);
            if (!axis || sliced[static_cast<size_t>(*axis)])
                return invalidArgument(mName + ": axis " + std::to_string(axes[i]) + " is invalid or repeated");
            if (steps[i] == 0) return invalidArgument(mName + ": steps must not be 0");
            const size_t a = static_cast<size_t>(*axis);
            tensorops::SliceRange range = tensorops::resolveSlice(mInShape[a], starts[i], ends[i], steps[i]);
            if (range.count != mOutShape[a])
                return invalidArgument(mName + ": axis " + std::to_string(a) + " slices " + std::to_string(range.count) +
                                       " elements but the output has " + std::to_string(mOutShape[a]));
            if (range.count > 0) offset += range.start * inStrides[a];
            strides[a] = range.step * inStrides[a];
            sliced[a] = true;
        }
        for (size_t a = 0; a < mInShape.size(); ++a)
            if (!sliced[a] && mInShape[a] != mOutShape[a])
                return invalidArgument(mName + ": unsliced axis " + std::to_string(a) + " changes extent");
        mView = compactView(mOutShape, strides, offset);
        mResolved = true;
        return Status::ok();
    }

    std::string mName;
    IndexInput mIndex[4];  // starts, ends, axes, steps
    Shape mInShape, mOutShape;
    size_t mElementSize{4};
    StridedView mView;
    bool mResolved{false};
};

// ------------------------------------------------------------------------------------------------- Gather

// An index outside [-extent, extent) has no element: the output gets zero there rather than a read out
// of bounds (the CPU backend reports it as an error). Offset is uint32_t where every offset fits (the
// usual case: 64-bit division is several times slower), int64_t otherwise.
template <typename Word, typename Index, typename Offset>
__global__ void gatherKernel(const Word* data, const Index* indices, Word* out, Offset count, Offset numIndices,
                             Offset extent, Offset inner) {
    const Offset step = static_cast<Offset>(gridDim.x) * blockDim.x;
    for (Offset i = static_cast<Offset>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const Offset within = i % inner;
        const Offset rest = i / inner;
        const Offset position = rest % numIndices;
        const Offset outer = rest / numIndices;
        int64_t index = static_cast<int64_t>(indices[position]);
        if (index < 0) index += static_cast<int64_t>(extent);
        out[i] = index >= 0 && index < static_cast<int64_t>(extent)
                     ? data[(outer * extent + static_cast<Offset>(index)) * inner + within]
                     : Word{};
    }
}

template <typename Word, typename Index>
void launchGatherWords(const void* data, const Index* indices, void* out, int64_t count, int64_t numIndices,
                       int64_t extent, int64_t inner, cudaStream_t stream) {
    const unsigned grid = elementwiseGrid(count);
    const auto* in = static_cast<const Word*>(data);
    auto* o = static_cast<Word*>(out);
    // Offsets reach (outer * extent + index) * inner + within < the data's count, and i < count.
    const int64_t dataCount = count / (numIndices * inner) * extent * inner;
    if (std::max(count, dataCount) < (int64_t{1} << 31))
        gatherKernel<Word, Index, uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(
            in, indices, o, static_cast<uint32_t>(count), static_cast<uint32_t>(numIndices),
            static_cast<uint32_t>(extent), static_cast<uint32_t>(inner));
    else
        gatherKernel<Word, Index, int64_t><<<grid, kElementwiseBlock, 0, stream>>>(in, indices, o, count, numIndices,
                                                                                    extent, inner);
}

/// Moves each gathered row of `inner` elements in the widest words (up to 16 bytes) that its byte size
/// and both addresses allow: a row is contiguous in the data and in the output.
template <typename Index>
Status launchGather(size_t elementSize, const void* data, const void* indices, void* out, int64_t count,
                    int64_t numIndices, int64_t extent, int64_t inner, cudaStream_t stream) {
    const Index* idx = static_cast<const Index*>(indices);
    const int64_t rowBytes = inner * static_cast<int64_t>(elementSize);
    size_t word = elementSize;
    for (size_t bytes = 16; bytes > elementSize; bytes /= 2) {
        if (rowBytes % static_cast<int64_t>(bytes) == 0 && reinterpret_cast<uintptr_t>(data) % bytes == 0 &&
            reinterpret_cast<uintptr_t>(out) % bytes == 0) {
            word = bytes;
            break;
        }
    }
    const auto per = static_cast<int64_t>(word / elementSize);  // elements per word
    count /= per;
    inner /= per;
    switch (word) {
        case 1: launchGatherWords<uint8_t>(data, idx, out, count, numIndices, extent, inner, stream); break;
        case 2: launchGatherWords<uint16_t>(data, idx, out, count, numIndices, extent, inner, stream); break;
        case 4: launchGatherWords<uint32_t>(data, idx, out, count, numIndices, extent, inner, stream); break;
        case 8: launchGatherWords<uint64_t>(data, idx, out, count, numIndices, extent, inner, stream); break;
        case 16: launchGatherWords<uint4>(data, idx, out, count, numIndices, extent, inner, stream); break;
        default: return unsupported("no Gather for " + std::to_string(elementSize) + "-byte elements");
    }
    return launchStatus("gatherKernel");
}

class GatherKernel : public Kernel {
public:
    explicit GatherKernel(const Node& node) : mAxisAttr(node.attrs.getInt("axis", 0)), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& data = inputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(data.size()));
        if (!axis) return invalidArgument(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        const size_t a = static_cast<size_t>(*axis);
        mExtent = data[a];
        mInner = shapeElementCount(Shape(data.begin() + static_cast<std::ptrdiff_t>(a) + 1, data.end()));
        mNumIndices = inputs[1].elementCount();
        mCount = outputs[0].elementCount();
        mElementSize = dataTypeSize(inputs[0].dtype);
        mIndexType = inputs[1].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mIndexType == DataType::kINT32)
            return launchGather<int32_t>(mElementSize, io.input(0).data, io.input(1).data, io.output(0).data, mCount,
                                         mNumIndices, mExtent, std::max<int64_t>(mInner, 1), stream);
        return launchGather<int64_t>(mElementSize, io.input(0).data, io.input(1).data, io.output(0).data, mCount,
                                     mNumIndices, mExtent, std::max<int64_t>(mInner, 1), stream);
    }
    std::string tacticName() const override { return "cuda.gather_rows"; }

private:
    int64_t mAxisAttr;
    std::string mName;
    int64_t mExtent{0}, mInner{1}, mNumIndices{0}, mCount{0};
    size_t mElementSize{4};
    DataType mIndexType{DataType::kINT64};
};

// ---------------------------------------------------------------------------------------- Concat / Split

/// One 2-D copy per piece: `outer` rows of `pieceBytes`, between a tensor of rows of `pieceBytes` and a
/// wider one of rows of `wholeBytes`, at byte column `columnOffset` of the wider one.
struct PieceCopy {
    size_t columnOffset{0};
    size_t pieceBytes{0};
};

struct AxisPieces {
    int64_t outer{1};
    size_t wholeBytes{0};
    std::vector<PieceCopy> pieces;
};

/// `pieces` are the shapes cut from `whole` along `axis` (the other dims equal).
Expected<AxisPieces> planPieces(const std::string& name, const Shape& whole, const std::vector<Shape>& pieces,
                                int64_t axisAttr, size_t elementSize) {
    auto axis = normalizeAxis(axisAttr, static_cast<int64_t>(whole.size()));
    if (!axis) return invalidArgument(name + ": axis " + std::to_string(axisAttr) + " is out of range");
    const size_t a = static_cast<size_t>(*axis);
    AxisPieces plan;
    plan.outer = shapeElementCount(Shape(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(a)));
    const int64_t inner = shapeElementCount(Shape(whole.begin() + static_cast<std::ptrdiff_t>(a) + 1, whole.end()));
    plan.wholeBytes = static_cast<size_t>(whole[a] * inner) * elementSize;
    int64_t along = 0;
    for (const Shape& piece : pieces) {
        if (piece.size() != whole.size()) return invalidArgument(name + ": pieces differ in rank");
        plan.pieces.push_back({static_cast<size_t>(along * inner) * elementSize,
                               static_cast<size_t>(piece[a] * inner) * elementSize});
        along += piece[a];
    }
    if (along != whole[a])
        return invalidArgument(name + ": the pieces cover " + std::to_string(along) + " of extent " +
                               std::to_string(whole[a]) + " along the axis");
    return plan;
}

/// At most this many pieces go through pieceCopyKernel (a Split or Concat of more copies them one by one).
constexpr int kMaxKernelPieces = 8;

/// The pieces of one Split or Concat in words of a common width: piece p holds `pieceWords[p]` words of
/// each of `outer` rows, at word column `columnOffset[p]` of the whole tensor's rows of `wholeWords`.
template <typename Word>
struct PieceWords {
    Word* narrow[kMaxKernelPieces];  // each piece's tensor (null: an unused Split output)
    uint32_t columnOffset[kMaxKernelPieces];
    uint32_t pieceWords[kMaxKernelPieces];
    int count;
    uint32_t wholeWords;
    uint32_t total;  // outer * wholeWords
};

// One thread per word of the whole tensor, so both sides are read and written in consecutive words;
// kSplit copies whole -> pieces, otherwise pieces -> whole.
template <typename Word, bool kSplit>
__global__ void pieceCopyKernel(Word* whole, PieceWords<Word> p) {
    const uint32_t step = gridDim.x * blockDim.x;
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += step) {
        const uint32_t row = i / p.wholeWords;
        const uint32_t column = i - row * p.wholeWords;
        int k = 0;
        while (k + 1 < p.count && column >= p.columnOffset[k + 1]) ++k;
        if (!p.narrow[k]) continue;
        Word* narrow = p.narrow[k] + row * p.pieceWords[k] + (column - p.columnOffset[k]);
        if constexpr (kSplit)
            *narrow = whole[i];
        else
            whole[i] = *narrow;
    }
}

/// Copies `plan`'s pieces between `whole` and `narrow` in one kernel where they are at most
/// kMaxKernelPieces and every offset fits 32 bits, in the widest word (up to 16 bytes) all piece widths and
/// addresses allow; returns false (nothing launched) otherwise.
template <bool kSplit>
bool launchPieceCopy(const AxisPieces& plan, void* whole, const std::vector<void*>& narrow, cudaStream_t stream) {
    if (plan.pieces.size() > static_cast<size_t>(kMaxKernelPieces) || plan.pieces.empty() || plan.wholeBytes == 0)
        return false;
    if (static_cast<uint64_t>(plan.outer) * plan.wholeBytes >= (uint64_t{1} << 31)) return false;
    size_t word = 16;
    auto fits = [&](size_t w) {
        if (plan.wholeBytes % w || reinterpret_cast<uintptr_t>(whole) % w) return false;
        for (size_t k = 0; k < plan.pieces.size(); ++k)
            if (plan.pieces[k].pieceBytes % w || plan.pieces[k].columnOffset % w ||
                reinterpret_cast<uintptr_t>(narrow[k]) % w)
                return false;
        return true;
    };
    while (word > 1 && !fits(word)) word /= 2;
    auto launch = [&](auto tag) {
        using Word = decltype(tag);
        PieceWords<Word> p{};
        p.count = static_cast<int>(plan.pieces.size());
        p.wholeWords = static_cast<uint32_t>(plan.wholeBytes / sizeof(Word));
        p.total = static_cast<uint32_t>(plan.outer) * p.wholeWords;
        for (int k = 0; k < p.count; ++k) {
            p.narrow[k] = static_cast<Word*>(narrow[static_cast<size_t>(k)]);
            p.columnOffset[k] = static_cast<uint32_t>(plan.pieces[static_cast<size_t>(k)].columnOffset / sizeof(Word));
            p.pieceWords[k] = static_cast<uint32_t>(plan.pieces[static_cast<size_t>(k)].pieceBytes / sizeof(Word));
        }
        pieceCopyKernel<Word, kSplit>
            <<<elementwiseGrid(p.total), kElementwiseBlock, 0, stream>>>(static_cast<Word*>(whole), p);
    };
    switch (word) {
        case 16: launch(uint4{}); break;
        case 8: launch(uint64_t{}); break;
        case 4: launch(uint32_t{}); break;
        case 2: launch(uint16_t{}); break;
        default: launch(uint8_t{}); break;
    }
    return true;
}

class ConcatKernel : public Kernel {
public:
    explicit ConcatKernel(const Node& node) : mAxis(node.attrs.getInt("axis", 0)), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        std::vector<Shape> shapes;
        for (const TensorView& in : inputs) shapes.push_back(in.shape);
        KILN_ASSIGN_OR_RETURN(mPlan, planPieces(mName, outputs[0].shape, shapes, mAxis, dataTypeSize(outputs[0].dtype)));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        char* out = static_cast<char*>(io.output(0).data);
        if (mPlan.outer == 0) return Status::ok();
        std::vector<void*> pieces;
        for (size_t i = 0; i < mPlan.pieces.size(); ++i) pieces.push_back(const_cast<void*>(io.input(i).data));
        if (launchPieceCopy<false>(mPlan, out, pieces, stream)) return launchStatus("pieceCopyKernel");
        for (size_t i = 0; i < mPlan.pieces.size(); ++i) {
            const PieceCopy& p = mPlan.pieces[i];
            if (p.pieceBytes == 0 || mPlan.outer == 0) continue;
            KILN_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(out + p.columnOffset, mPlan.wholeBytes, io.input(i).data,
                                                        p.pieceBytes, p.pieceBytes, static_cast<size_t>(mPlan.outer),
                                                        cudaMemcpyDeviceToDevice, stream));
        }
        return Status::ok();
    }
    std::string tacticName() const override { return "cuda.concat_pieces"; }

private:
    int64_t mAxis;
    std::string mName;
    AxisPieces mPlan;
};

class SplitKernel : public Kernel {
public:
    explicit SplitKernel(const Node& node) : mAxis(node.attrs.getInt("axis", 0)), mName(node.describe()) {}

    // The split sizes are the outputs' extents along the axis (shape inference made them so), so the
    // optional `split` input is never read.
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        std::vector<Shape> shapes;
        for (const TensorView& out : outputs) shapes.push_back(out.shape);
        KILN_ASSIGN_OR_RETURN(mPlan, planPieces(mName, inputs[0].shape, shapes, mAxis, dataTypeSize(inputs[0].dtype)));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        const char* in = static_cast<const char*>(io.input(0).data);
        if (mPlan.outer == 0) return Status::ok();
        std::vector<void*> pieces;
        for (size_t i = 0; i < mPlan.pieces.size(); ++i) pieces.push_back(io.output(i).data);
        if (launchPieceCopy<true>(mPlan, const_cast<char*>(in), pieces, stream)) return launchStatus("pieceCopyKernel");
        for (size_t i = 0; i < mPlan.pieces.size(); ++i) {
            const PieceCopy& p = mPlan.pieces[i];
            if (p.pieceBytes == 0 || mPlan.outer == 0 || !io.output(i).data) continue;
            KILN_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(io.output(i).data, p.pieceBytes, in + p.columnOffset,
                                                        mPlan.wholeBytes, p.pieceBytes,
                                                        static_cast<size_t>(mPlan.outer), cudaMemcpyDeviceToDevice,
                                                        stream));
        }
        return Status::ok();
    }
    std::string tacticName() const override { return "cuda.split_pieces"; }

private:
    int64_t mAxis;
    std::string mName;
    AxisPieces mPlan;
};

bool anyTypeSupported(const Node& node, std::string* reason) {
    if (!node.input(0)) {
        if (reason) *reason = "input 0 is missing";
        return false;
    }
    return true;
}

bool gatherSupported(const Node& node, std::string* reason) {
    if (!anyTypeSupported(node, reason)) return false;
    const Value* indices = node.input(1);
    if (!indices || (indices->dtype != DataType::kINT64 && indices->dtype != DataType::kINT32)) {
        if (reason) *reason = "Gather indices must be int32 or int64";
        return false;
    }
    return true;
}

template <typename K>
CudaKernelEntry simpleEntry(const std::string& op, std::function<bool(const Node&, std::string*)> supports) {
    return {op, std::move(supports), [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                return std::unique_ptr<Kernel>(std::make_unique<K>(node));
            }};
}

}  // namespace

void registerLayoutKernels(CudaKernelRegistry& registry) {
    registry.add(simpleEntry<TransposeKernel>("Transpose", anyTypeSupported));
    registry.add(simpleEntry<SliceKernel>("Slice", anyTypeSupported));
    registry.add(simpleEntry<GatherKernel>("Gather", gatherSupported));
    registry.add(simpleEntry<ConcatKernel>("Concat", anyTypeSupported));
    registry.add(simpleEntry<SplitKernel>("Split", anyTypeSupported));
}

}  // namespace kiln::cuda
