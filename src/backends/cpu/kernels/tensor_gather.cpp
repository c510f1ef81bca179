// CPU kernels that read elements by index: Gather GatherElements GatherND OneHot. Indices are
// validated before any copy, so a bad index is an error Status, never an out-of-bounds read.

#include <algorithm>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "backends/cpu/kernels/tensor_kernel_parts.h"

namespace kiln::tensorkernels {

using datamove::dispatchElementBytes;
using datamove::kParallelBytes;
using datamove::readIndex;

namespace {

// Normalizes a possibly negative index into [0, extent), or returns -1 when out of range.
inline int64_t normalizeIndex(int64_t index, int64_t extent) {
    if (index < 0) index += extent;
    return index >= 0 && index < extent ? index : -1;
}

Status indexError(const std::string& name, int64_t index, int64_t extent) {
    return invalidArgument(name + ": index " + std::to_string(index) + " is out of range for extent " +
                           std::to_string(extent));
}

bool supportsIndices(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 1, {DataType::kINT32, DataType::kINT64}, reason);
}

class GatherKernel : public Kernel {
public:
    GatherKernel(std::string name, int64_t axis) : mName(std::move(name)), mAxisAttr(axis) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& data = inputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(data.size()));
        if (!axis) return invalidModel(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        mOuter = shapeElementCount(Shape(data.begin(), data.begin() + *axis));
        mExtent = data[static_cast<size_t>(*axis)];
        mInner = shapeElementCount(Shape(data.begin() + *axis + 1, data.end()));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const TensorView& indices = io.input(1);
        const int64_t count = indices.elementCount();
        for (int64_t n = 0; n < count; ++n)
            if (normalizeIndex(readIndex(indices, n), mExtent) < 0)
                return indexError(mName, readIndex(indices, n), mExtent);
        const int64_t work = mOuter * count;
        const size_t elementSize = dataTypeSize(io.output(0).dtype);
        const bool parallel = work > 1 && static_cast<size_t>(work * mInner) * elementSize >= kParallelBytes;
        dispatchElementBytes(elementSize, [&](auto tag) {
            using U = decltype(tag);
            const U* data = static_cast<const U*>(io.input(0).data);
            U* out = static_cast<U*>(io.output(0).data);
            const int64_t inner = mInner;
#pragma omp parallel for if (parallel) schedule(static)
            for (int64_t w = 0; w < work; ++w) {
                const int64_t o = w / count;
                const int64_t index = normalizeIndex(readIndex(indices, w % count), mExtent);
                const U* s = data + (o * mExtent + index) * inner;
                U* d = out + w * inner;
                if (inner == 1)
                    *d = *s;
                else
                    std::memcpy(d, s, static_cast<size_t>(inner) * sizeof(U));
            }
        });
        return Status::ok();
    }

    std::string tacticName() const override {
        return "cpu.gather_rows";
    }

private:
    std::string mName;
    int64_t mAxisAttr;
    int64_t mOuter{0};
    int64_t mExtent{0};
    int64_t mInner{0};
};

class GatherElementsKernel : public Kernel {
public:
    GatherElementsKernel(std::string name, int64_t axis) : mName(std::move(name)), mAxisAttr(axis) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        mDataShape = inputs[0].shape;
        mIndexShape = inputs[1].shape;
        if (mDataShape.size() != mIndexShape.size()) return invalidArgument(mName + ": data and indices ranks differ");
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(mDataShape.size()));
        if (!axis) return invalidModel(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        mAxis = static_cast<size_t>(*axis);
        mDataStrides = datamove::contiguousStrides(mDataShape);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const TensorView& indices = io.input(1);
        const int64_t total = indices.elementCount();
        if (total == 0) return Status::ok();
        const int64_t extent = mDataShape[mAxis];
        for (int64_t e = 0; e < total; ++e)
            if (normalizeIndex(readIndex(indices, e), extent) < 0)
                return indexError(mName, readIndex(indices, e), extent);
        const size_t rank = mIndexShape.size();
        const size_t elementSize = dataTypeSize(io.output(0).dtype);
        const bool parallel = static_cast<size_t>(total) * elementSize >= kParallelBytes;
        dispatchElementBytes(elementSize, [&](auto tag) {
            using U = decltype(tag);
            const U* data = static_cast<const U*>(io.input(0).data);
            U* out = static_cast<U*>(io.output(0).data);
#pragma omp parallel for if (parallel) schedule(static)
            for (int64_t e = 0; e < total; ++e) {
                int64_t rest = e;
                int64_t offset = 0;
                for (size_t d = rank; d-- > 0;) {
                    const int64_t i = rest % mIndexShape[d];
                    rest /= mIndexShape[d];
                    offset += (d == mAxis ? normalizeIndex(readIndex(indices, e), extent) : i) * mDataStrides[d];
                }
                out[e] = data[offset];
            }
        });
        return Status::ok();
    }

    std::string tacticName() const override {
        return "cpu.gather_elements";
    }

private:
    std::string mName;
    int64_t mAxisAttr;
    size_t mAxis{0};
    Shape mDataShape;
    Shape mIndexShape;
    std::vector<int64_t> mDataStrides;
};

class GatherNDKernel : public Kernel {
public:
    GatherNDKernel(std::string name, int64_t batchDims) : mName(std::move(name)), mBatchDims(batchDims) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        mDataShape = inputs[0].shape;
        const Shape& indices = inputs[1].shape;
        const int64_t r = static_cast<int64_t>(mDataShape.size());
        const int64_t q = static_cast<int64_t>(indices.size());
        if (q < 1 || mBatchDims < 0 || mBatchDims >= std::min(q, r))
            return invalidModel(mName + ": bad batch_dims or ranks");
        mTupleSize = indices.back();
        if (mTupleSize < 1 || mTupleSize > r - mBatchDims) return invalidModel(mName + ": bad indices.shape[-1]");
        const size_t b = static_cast<size_t>(mBatchDims);
        mBatches = shapeElementCount(Shape(mDataShape.begin(), mDataShape.begin() + mBatchDims));
        if (shapeElementCount(Shape(indices.begin(), indices.begin() + mBatchDims)) != mBatches)
            return invalidArgument(mName + ": batch dims of data and indices differ");
        mTuplesPerBatch = shapeElementCount(Shape(indices.begin() + mBatchDims, indices.end() - 1));
        mSlice = shapeElementCount(Shape(mDataShape.begin() + mBatchDims + mTupleSize, mDataShape.end()));
        mBatchStride = shapeElementCount(Shape(mDataShape.begin() + mBatchDims, mDataShape.end()));
        std::vector<int64_t> strides = datamove::contiguousStrides(mDataShape);
        mTupleStrides.assign(strides.begin() + mBatchDims, strides.begin() + mBatchDims + mTupleSize);
        mTupleExtents.assign(mDataShape.begin() + static_cast<int64_t>(b),
                             mDataShape.begin() + mBatchDims + mTupleSize);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const TensorView& indices = io.input(1);
        const int64_t tuples = mBatches * mTuplesPerBatch;
        for (int64_t t = 0; t < tuples * mTupleSize; ++t) {
            const int64_t extent = mTupleExtents[static_cast<size_t>(t % mTupleSize)];
            if (normalizeIndex(readIndex(indices, t), extent) < 0)
                return indexError(mName, readIndex(indices, t), extent);
        }
        const size_t elementSize = dataTypeSize(io.output(0).dtype);
        const uint8_t* data = static_cast<const uint8_t*>(io.input(0).data);
        uint8_t* out = static_cast<uint8_t*>(io.output(0).data);
        const size_t sliceBytes = static_cast<size_t>(mSlice) * elementSize;
        const bool parallel = tuples > 1 && static_cast<size_t>(tuples) * sliceBytes >= kParallelBytes;
#pragma omp parallel for if (parallel) schedule(static)
        for (int64_t t = 0; t < tuples; ++t) {
            int64_t offset = (t / mTuplesPerBatch) * mBatchStride;
            for (int64_t j = 0; j < mTupleSize; ++j)
                offset +=
                    normalizeIndex(readIndex(indices, t * mTupleSize + j), mTupleExtents[static_cast<size_t>(j)]) *
                    mTupleStrides[static_cast<size_t>(j)];
            std::memcpy(out + static_cast<size_t>(t) * sliceBytes, data + static_cast<size_t>(offset) * elementSize,
                        sliceBytes);
        }
        return Status::ok();
    }

    std::string tacticName() const override {
        return "cpu.gather_nd";
    }

private:
    std::string mName;
    int64_t mBatchDims;
    Shape mDataShape;
    int64_t mTupleSize{0};
    int64_t mBatches{0};
    int64_t mTuplesPerBatch{0};
    int64_t mSlice{0};
    int64_t mBatchStride{0};
    std::vector<int64_t> mTupleStrides;
    std::vector<int64_t> mTupleExtents;
};

class OneHotKernel : public Kernel {
public:
    OneHotKernel(std::string name, int64_t axis) : mName(std::move(name)), mAxisAttr(axis) {}

    Status reshape(const std::vector<TensorView>&, const std::vector<TensorView>& outputs) override {
        const Shape& out = outputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(out.size()));
        if (!axis) return invalidModel(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        mOuter = shapeElementCount(Shape(out.begin(), out.begin() + *axis));
        mDepth = out[static_cast<size_t>(*axis)];
        mInner = shapeElementCount(Shape(out.begin() + *axis + 1, out.end()));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const TensorView& indices = io.input(0);
        const TensorView& values = io.input(2);
        const TensorView& out = io.output(0);
        if (values.elementCount() != 2) return invalidArgument(mName + ": values must hold [off_value, on_value]");
        const size_t elementSize = dataTypeSize(out.dtype);
        dispatchElementBytes(elementSize, [&](auto tag) {
            using U = decltype(tag);
            const U off = values.as<const U>()[0];
            const U on = values.as<const U>()[1];
            U* o = out.as<U>();
            std::fill(o, o + out.elementCount(), off);
            dispatchDataType(indices.dtype, [&](auto indexTag) {
                using I = decltype(indexTag);
                const I* idx = indices.as<const I>();
                for (int64_t a = 0; a < mOuter; ++a) {
                    for (int64_t i = 0; i < mInner; ++i) {
                        int64_t index;
                        if constexpr (std::is_same_v<I, Half> || std::is_same_v<I, BFloat16>)
                            index = static_cast<int64_t>(static_cast<float>(idx[a * mInner + i]));
                        else
                            index = static_cast<int64_t>(idx[a * mInner + i]);
                        // Out-of-range indices leave the all-off row, as the spec says.
                        index = normalizeIndex(index, mDepth);
                        if (index >= 0) o[(a * mDepth + index) * mInner + i] = on;
                    }
                }
            });
        });
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.one_hot"; }

private:
    std::string mName;
    int64_t mAxisAttr;
    int64_t mOuter{0};
    int64_t mDepth{0};
    int64_t mInner{0};
};

template <typename K>
decltype(CpuKernelEntry::create) indexKernel(const char* axisName, int64_t axisDefault) {
    return [axisName, axisDefault](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(std::make_unique<K>(node.describe(), node.attrs.getInt(axisName, axisDefault)));
    };
}

}  // namespace

void registerGatherKernels(CpuKernelRegistry& registry) {
    registry.add({"Gather", supportsIndices, indexKernel<GatherKernel>("axis", 0), ""});
    registry.add({"GatherElements", supportsIndices, indexKernel<GatherElementsKernel>("axis", 0), ""});
    registry.add(
        {"GatherND",
         [](const Node& node, std::string* reason) { return inputTypeIsOneOf(node, 1, {DataType::kINT64}, reason); },
         indexKernel<GatherNDKernel>("batch_dims", 0), ""});
    registry.add({"OneHot",
                  [](const Node& node, std::string* reason) {
                      if (node.input(0) &&
                          (node.input(0)->dtype == DataType::kBOOL || node.input(0)->dtype == DataType::kBF16)) {
                          if (reason) *reason = "OneHot indices must be numeric";
                          return false;
                      }
                      return true;
                  },
                  indexKernel<OneHotKernel>("axis", -1), ""});
}

}  // namespace kiln::tensorkernels
