// CPU kernels of Slice and Pad. Both read their index arguments (starts/ends/axes/steps, pads/axes)
// at run time: those inputs may be computed tensors whose values change while the output shape
// stays the same.

#include <algorithm>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "backends/cpu/kernels/tensor_kernel_parts.h"
#include "ir/ops/tensor_slice_math.h"

namespace kiln::tensorkernels {

using datamove::dispatchElementBytes;
using datamove::readIndex;

namespace {

bool supportsIndexInputs(const Node& node, size_t first, std::string* reason) {
    for (size_t i = first; i < node.inputs.size(); ++i) {
        if (!node.inputs[i]) continue;
        if (!inputTypeIsOneOf(node, i, {DataType::kINT32, DataType::kINT64}, reason)) return false;
    }
    return true;
}

class SliceKernel : public Kernel {
public:
    explicit SliceKernel(std::string name) : mName(std::move(name)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        if (mInShape.size() != mOutShape.size())
            return invalidArgument(mName + ": output rank differs from the input's");
        mInStrides = datamove::contiguousStrides(mInShape);
        mStarts.assign(mInShape.size(), 0);
        mSteps.assign(mInShape.size(), 1);
        mSliced.assign(mInShape.size(), false);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const int64_t rank = static_cast<int64_t>(mInShape.size());
        const int64_t count = io.input(1).elementCount();
        if (io.input(2).elementCount() != count || (io.hasInput(3) && io.input(3).elementCount() != count) ||
            (io.hasInput(4) && io.input(4).elementCount() != count))
            return invalidArgument(mName + ": starts, ends, axes and steps must have the same length");
        std::fill(mStarts.begin(), mStarts.end(), 0);
        std::fill(mSteps.begin(), mSteps.end(), 1);
        std::fill(mSliced.begin(), mSliced.end(), false);
        for (int64_t i = 0; i < count; ++i) {
            int64_t axisValue = io.hasInput(3) ? readIndex(io.input(3), i) : i;
            auto axis = normalizeAxis(axisValue, rank);
            if (!axis || mSliced[static_cast<size_t>(*axis)])
                return invalidArgument(mName + ": axis " + std::to_string(axisValue) + " is invalid or repeated");
            const size_t a = static_cast<size_t>(*axis);
            int64_t step = io.hasInput(4) ? readIndex(io.input(4), i) : 1;
            if (step == 0) return invalidArgument(mName + ": steps must not be 0");
            tensorops::SliceRange range =
                tensorops::resolveSlice(mInShape[a], readIndex(io.input(1), i), readIndex(io.input(2), i), step);
            if (range.count != mOutShape[a])
                return invalidArgument(mName + ": slice of axis " + std::to_string(a) + " has " +
                                       std::to_string(range.count) + " elements, the output " +
                                       std::to_string(mOutShape[a]));
            mStarts[a] = range.start;
            mSteps[a] = step;
            mSliced[a] = true;
        }
        for (size_t a = 0; a < mInShape.size(); ++a)
            if (!mSliced[a] && mInShape[a] != mOutShape[a])
                return invalidArgument(mName + ": unsliced axis " + std::to_string(a) + " changed extent");
        mCopy.extents = mOutShape;
        mCopy.srcStrides.resize(mInShape.size());
        mCopy.srcOffset = 0;
        for (size_t a = 0; a < mInShape.size(); ++a) {
            mCopy.srcStrides[a] = mInStrides[a] * mSteps[a];
            mCopy.srcOffset += mStarts[a] * mInStrides[a];
        }
        mCopy.simplify();
        mCopy.run(io.input(0).data, io.output(0).data, dataTypeSize(io.output(0).dtype));
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.slice_strided"; }

private:
    std::string mName;
    Shape mInShape;
    Shape mOutShape;
    std::vector<int64_t> mInStrides;
    std::vector<int64_t> mStarts;
    std::vector<int64_t> mSteps;
    std::vector<bool> mSliced;
    datamove::StridedCopy mCopy;
};

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// Source index of padded position `s` (may be outside [0, n)) along an axis of extent n > 0, or -1
// for "the constant".
int64_t padSource(PadMode mode, int64_t s, int64_t n) {
    switch (mode) {
        case PadMode::kConstant:
            return s >= 0 && s < n ? s : -1;
        case PadMode::kEdge:
            return std::clamp<int64_t>(s, 0, n - 1);
        case PadMode::kWrap:
            return ((s % n) + n) % n;
        case PadMode::kReflect: {
            if (n == 1) return 0;
            // Reflection about both edges is periodic with period 2(n-1) (numpy's 'reflect').
            int64_t period = 2 * (n - 1);
            int64_t m = ((s % period) + period) % period;
            return m < n ? m : period - m;
        }
    }
    return -1;
}

class PadKernel : public Kernel {
public:
    PadKernel(std::string name, PadMode mode) : mName(std::move(name)), mMode(mode) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        if (mInShape.size() != mOutShape.size())
            return invalidArgument(mName + ": output rank differs from the input's");
        mInStrides = datamove::contiguousStrides(mInShape);
        mMapOffsets.assign(mOutShape.size() + 1, 0);
        for (size_t d = 0; d < mOutShape.size(); ++d) mMapOffsets[d + 1] = mMapOffsets[d] + mOutShape[d];
        mMaps.assign(static_cast<size_t>(mMapOffsets.back()), 0);
        mBegin.assign(mInShape.size(), 0);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        KILN_RETURN_IF_ERROR(readPads(io));
        const TensorView& out = io.output(0);
        if (out.elementCount() == 0) return Status::ok();
        for (size_t d = 0; d < mOutShape.size(); ++d) {
            if (mInShape[d] == 0 && mMode != PadMode::kConstant)
                return invalidArgument(mName + ": cannot pad an empty axis except in constant mode");
            for (int64_t j = 0; j < mOutShape[d]; ++j)
                mMaps[static_cast<size_t>(mMapOffsets[d] + j)] = padSource(mMode, j - mBegin[d], mInShape[d]);
        }
        uint64_t constant = 0;
        const size_t elementSize = dataTypeSize(out.dtype);
        if (io.hasInput(2) && io.input(2).elementCount() == 1) std::memcpy(&constant, io.input(2).data, elementSize);
        dispatchElementBytes(elementSize, [&](auto tag) {
            using U = decltype(tag);
            U fill;
            std::memcpy(&fill, &constant, sizeof(U));
            padRows(static_cast<const U*>(io.input(0).data), static_cast<U*>(out.data), fill);
        });
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.pad_rows"; }

private:
    Status readPads(const KernelIO& io) {
        const int64_t rank = static_cast<int64_t>(mInShape.size());
        const int64_t padCount = io.input(1).elementCount();
        const int64_t axisCount = io.hasInput(3) ? io.input(3).elementCount() : rank;
        if (padCount != 2 * axisCount) return invalidArgument(mName + ": pads must have two entries per padded axis");
        std::fill(mBegin.begin(), mBegin.end(), 0);
        for (int64_t i = 0; i < axisCount; ++i) {
            int64_t axisValue = io.hasInput(3) ? readIndex(io.input(3), i) : i;
            auto axis = normalizeAxis(axisValue, rank);
            if (!axis) return invalidArgument(mName + ": axis " + std::to_string(axisValue) + " is out of range");
            const size_t a = static_cast<size_t>(*axis);
            int64_t begin = readIndex(io.input(1), i);
            int64_t end = readIndex(io.input(1), i + axisCount);
            if (mInShape[a] + begin + end != mOutShape[a])
                return invalidArgument(mName + ": pads of axis " + std::to_string(a) +
                                       " do not give the output extent");
            mBegin[a] = begin;
        }
        return Status::ok();
    }

    // Each output row (all dims but the last) is either all constant (an outer index maps outside
    // the input) or the padded image of one input row: per-element ends around one memcpy.
    template <typename U>
    void padRows(const U* src, U* dst, U fill) const {
        const size_t rank = mOutShape.size();
        if (rank == 0) {
            *dst = *src;
            return;
        }
        const int64_t width = mOutShape[rank - 1];
        const int64_t rows = shapeElementCount(mOutShape) / width;
        const int64_t* lastMap = mMaps.data() + mMapOffsets[rank - 1];
        const int64_t begin = mBegin[rank - 1];
        const int64_t midBegin = std::clamp<int64_t>(begin, 0, width);
        const int64_t midEnd = std::clamp<int64_t>(begin + mInShape[rank - 1], midBegin, width);
        const bool parallel = rows > 1 && static_cast<size_t>(rows * width) * sizeof(U) >= datamove::kParallelBytes;
#pragma omp parallel for if (parallel) schedule(static)
        for (int64_t row = 0; row < rows; ++row) {
            U* d = dst + row * width;
            int64_t srcOffset = 0;
            bool inside = true;
            int64_t rest = row;
            for (size_t k = rank - 1; k-- > 0;) {
                int64_t source = mMaps[static_cast<size_t>(mMapOffsets[k] + rest % mOutShape[k])];
                rest /= mOutShape[k];
                if (source < 0) inside = false;
                srcOffset += source * mInStrides[k];
            }
            if (!inside) {
                std::fill(d, d + width, fill);
                continue;
            }
            const U* s = src + srcOffset;
            for (int64_t j = 0; j < midBegin; ++j) d[j] = lastMap[j] < 0 ? fill : s[lastMap[j]];
            if (midEnd > midBegin)
                std::memcpy(d + midBegin, s + (midBegin - begin), static_cast<size_t>(midEnd - midBegin) * sizeof(U));
            for (int64_t j = midEnd; j < width; ++j) d[j] = lastMap[j] < 0 ? fill : s[lastMap[j]];
        }
    }

    std::string mName;
    PadMode mMode;
    Shape mInShape;
    Shape mOutShape;
    std::vector<int64_t> mInStrides;
    std::vector<int64_t> mBegin;
    std::vector<int64_t> mMapOffsets;  // per axis, where its map starts in mMaps
    std::vector<int64_t> mMaps;        // per axis and output index: the source index, -1 for the constant
};

Expected<std::unique_ptr<Kernel>> createPad(const Node& node) {
    std::string mode = node.attrs.getString("mode", "constant");
    PadMode padMode;
    if (mode == "constant")
        padMode = PadMode::kConstant;
    else if (mode == "reflect")
        padMode = PadMode::kReflect;
    else if (mode == "edge")
        padMode = PadMode::kEdge;
    else if (mode == "wrap")
        padMode = PadMode::kWrap;
    else
        return invalidModel(node.describe() + ": mode '" + mode + "' is not one of constant, reflect, edge, wrap");
    return std::unique_ptr<Kernel>(std::make_unique<PadKernel>(node.describe(), padMode));
}

bool supportsPad(const Node& node, std::string* reason) {
    if (!inputTypeIsOneOf(node, 1, {DataType::kINT64}, reason)) return false;
    return !node.input(3) || inputTypeIsOneOf(node, 3, {DataType::kINT32, DataType::kINT64}, reason);
}

}  // namespace

void registerSlicePadKernels(CpuKernelRegistry& registry) {
    registry.add({"Slice", [](const Node& node, std::string* reason) { return supportsIndexInputs(node, 1, reason); },
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<SliceKernel>(node.describe()));
                  },
                  ""});
    registry.add({"Pad", supportsPad, createPad, ""});
}

}  // namespace kiln::tensorkernels
