// CPU kernels that write elements by index: ScatterND ScatterElements, with the reductions
// none/add/mul/max/min. Updates are applied in index order on one thread, so duplicate indices
// with a reduction give a defined result.

#include <algorithm>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "backends/cpu/kernels/tensor_kernel_parts.h"

namespace kiln::tensorkernels {

using datamove::copyBytes;
using datamove::readIndex;

namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

std::optional<Reduction> parseReduction(const std::string& name) {
    if (name == "none") return Reduction::kNone;
    if (name == "add") return Reduction::kAdd;
    if (name == "mul") return Reduction::kMul;
    if (name == "max") return Reduction::kMax;
    if (name == "min") return Reduction::kMin;
    return std::nullopt;
}

template <typename T>
T combine(Reduction reduction, T current, T update) {
    if constexpr (std::is_same_v<T, bool>) {
        // bool arithmetic saturates: add/max are "or", mul/min are "and".
        switch (reduction) {
            case Reduction::kNone:
                return update;
            case Reduction::kAdd:
            case Reduction::kMax:
                return current || update;
            case Reduction::kMul:
            case Reduction::kMin:
                return current && update;
        }
        return update;
    } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        return T(combine<float>(reduction, static_cast<float>(current), static_cast<float>(update)));
    } else {
        switch (reduction) {
            case Reduction::kNone:
                return update;
            case Reduction::kAdd:
                return static_cast<T>(current + update);
            case Reduction::kMul:
                return static_cast<T>(current * update);
            case Reduction::kMax:
                return std::max(current, update);
            case Reduction::kMin:
                return std::min(current, update);
        }
        return update;
    }
}

inline int64_t normalizeIndex(int64_t index, int64_t extent) {
    if (index < 0) index += extent;
    return index >= 0 && index < extent ? index : -1;
}

Expected<Reduction> reductionAttribute(const Node& node) {
    std::string name = node.attrs.getString("reduction", "none");
    auto reduction = parseReduction(name);
    if (!reduction)
        return invalidModel(node.describe() + ": reduction '" + name + "' is not one of none, add, mul, max, min");
    return *reduction;
}

class ScatterNDKernel : public Kernel {
public:
    ScatterNDKernel(std::string name, Reduction reduction) : mName(std::move(name)), mReduction(reduction) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& data = inputs[0].shape;
        const Shape& indices = inputs[1].shape;
        if (indices.empty()) return invalidModel(mName + ": indices must have rank >= 1");
        mTupleSize = indices.back();
        if (mTupleSize < 1 || mTupleSize > static_cast<int64_t>(data.size()))
            return invalidModel(mName + ": bad indices.shape[-1]");
        mTuples = shapeElementCount(Shape(indices.begin(), indices.end() - 1));
        mSlice = shapeElementCount(Shape(data.begin() + mTupleSize, data.end()));
        if (inputs[2].elementCount() != mTuples * mSlice)
            return invalidArgument(mName + ": updates have " + std::to_string(inputs[2].elementCount()) +
                                   " elements, expected " + std::to_string(mTuples * mSlice));
        std::vector<int64_t> strides = datamove::contiguousStrides(data);
        mTupleStrides.assign(strides.begin(), strides.begin() + mTupleSize);
        mTupleExtents.assign(data.begin(), data.begin() + mTupleSize);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const TensorView& indices = io.input(1);
        for (int64_t t = 0; t < mTuples * mTupleSize; ++t) {
            const int64_t extent = mTupleExtents[static_cast<size_t>(t % mTupleSize)];
            if (normalizeIndex(readIndex(indices, t), extent) < 0)
                return invalidArgument(mName + ": index " + std::to_string(readIndex(indices, t)) +
                                       " is out of range for extent " + std::to_string(extent));
        }
        const TensorView& out = io.output(0);
        copyBytes(out.data, io.input(0).data, out.byteSize());
        dispatchDataType(out.dtype, [&](auto tag) {
            using T = decltype(tag);
            const T* updates = io.input(2).as<const T>();
            T* o = out.as<T>();
            for (int64_t t = 0; t < mTuples; ++t) {
                int64_t offset = 0;
                for (int64_t j = 0; j < mTupleSize; ++j)
                    offset +=
                        normalizeIndex(readIndex(indices, t * mTupleSize + j), mTupleExtents[static_cast<size_t>(j)]) *
                        mTupleStrides[static_cast<size_t>(j)];
                const T* u = updates + t * mSlice;
                if (mReduction == Reduction::kNone) {
                    std::memcpy(o + offset, u, static_cast<size_t>(mSlice) * sizeof(T));
                    continue;
                }
                for (int64_t j = 0; j < mSlice; ++j) o[offset + j] = combine(mReduction, o[offset + j], u[j]);
            }
        });
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.scatter_nd"; }

private:
    std::string mName;
    Reduction mReduction;
    int64_t mTupleSize{0};
    int64_t mTuples{0};
    int64_t mSlice{0};
    std::vector<int64_t> mTupleStrides;
    std::vector<int64_t> mTupleExtents;
};

class ScatterElementsKernel : public Kernel {
public:
    ScatterElementsKernel(std::string name, int64_t axis, Reduction reduction)
        : mName(std::move(name)), mAxisAttr(axis), mReduction(reduction) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        mDataShape = inputs[0].shape;
        mIndexShape = inputs[1].shape;
        if (mIndexShape != inputs[2].shape) return invalidArgument(mName + ": indices and updates shapes differ");
        if (mIndexShape.size() != mDataShape.size()) return invalidArgument(mName + ": data and indices ranks differ");
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(mDataShape.size()));
        if (!axis) return invalidModel(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        mAxis = static_cast<size_t>(*axis);
        for (size_t d = 0; d < mDataShape.size(); ++d)
            if (d != mAxis && mIndexShape[d] > mDataShape[d])
                return invalidArgument(mName + ": indices extent exceeds data off the scatter axis");
        mDataStrides = datamove::contiguousStrides(mDataShape);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const TensorView& indices = io.input(1);
        const int64_t total = indices.elementCount();
        const int64_t extent = mDataShape[mAxis];
        for (int64_t e = 0; e < total; ++e)
            if (normalizeIndex(readIndex(indices, e), extent) < 0)
                return invalidArgument(mName + ": index " + std::to_string(readIndex(indices, e)) +
                                       " is out of range for extent " + std::to_string(extent));
        const TensorView& out = io.output(0);
        copyBytes(out.data, io.input(0).data, out.byteSize());
        const size_t rank = mIndexShape.size();
        dispatchDataType(out.dtype, [&](auto tag) {
            using T = decltype(tag);
            const T* updates = io.input(2).as<const T>();
            T* o = out.as<T>();
            for (int64_t e = 0; e < total; ++e) {
                int64_t rest = e;
                int64_t offset = 0;
                for (size_t d = rank; d-- > 0;) {
                    const int64_t i = rest % mIndexShape[d];
                    rest /= mIndexShape[d];
                    offset += (d == mAxis ? normalizeIndex(readIndex(indices, e), extent) : i) * mDataStrides[d];
                }
                o[offset] = combine(mReduction, o[offset], updates[e]);
            }
        });
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.scatter_elements"; }

private:
    std::string mName;
    int64_t mAxisAttr;
    Reduction mReduction;
    size_t mAxis{0};
    Shape mDataShape;
    Shape mIndexShape;
    std::vector<int64_t> mDataStrides;
};

}  // namespace

void registerScatterKernels(CpuKernelRegistry& registry) {
    registry.add(
        {"ScatterND",
         [](const Node& node, std::string* reason) { return inputTypeIsOneOf(node, 1, {DataType::kINT64}, reason); },
         [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
             KILN_ASSIGN_OR_RETURN(Reduction reduction, reductionAttribute(node));
             return std::unique_ptr<Kernel>(std::make_unique<ScatterNDKernel>(node.describe(), reduction));
         },
         ""});
    registry.add({"ScatterElements",
                  [](const Node& node, std::string* reason) {
                      return inputTypeIsOneOf(node, 1, {DataType::kINT32, DataType::kINT64}, reason);
                  },
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      KILN_ASSIGN_OR_RETURN(Reduction reduction, reductionAttribute(node));
                      return std::unique_ptr<Kernel>(std::make_unique<ScatterElementsKernel>(
                          node.describe(), node.attrs.getInt("axis", 0), reduction));
                  },
                  ""});
}

}  // namespace kiln::tensorkernels
