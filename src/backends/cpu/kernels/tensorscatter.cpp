// CPU TensorScatter (the KV-cache write; ScatterND / ScatterElements are in tensor_scatter.cpp).
// The cache is viewed as [outer, max_sequence_length, inner] around the sequence axis and the
// update as [outer, sequence_length, inner]: each update row of `inner` elements is one memcpy to
// its cache row. Elements are moved by size, so every element type is handled.

#include <cstring>
#include <optional>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/tensor_copy.h"

namespace kiln {

namespace {

class TensorScatterKernel final : public Kernel {
public:
    TensorScatterKernel(int64_t axis, bool circular, bool hasIndices) : mAxis(axis), mCircular(circular), mHasIndices(hasIndices) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& cache = inputs[0].shape;
        const Shape& update = inputs[1].shape;
        const int64_t rank = static_cast<int64_t>(cache.size());
        std::optional<int64_t> axis = normalizeAxis(mAxis, rank);
        if (!axis || *axis == 0 || rank < 2)
            return invalidArgument("cpu.tensor_scatter: axis " + std::to_string(mAxis) + " does not name a non-batch axis of rank " +
                                   std::to_string(rank));
        bool fits = update.size() == cache.size() && outputs[0].shape == cache && inputs[1].dtype == inputs[0].dtype;
        for (int64_t i = 0; fits && i < rank; ++i)
            fits = i == *axis ? update[size_t(i)] <= cache[size_t(i)] : update[size_t(i)] == cache[size_t(i)];
        if (!fits)
            return invalidArgument("cpu.tensor_scatter: update " + shapeToString(update, true) + " does not fit past_cache " +
                                   shapeToString(cache, true) + " along axis " + std::to_string(*axis));
        if (mHasIndices && inputs[2].shape != Shape{cache[0]})
            return invalidArgument("cpu.tensor_scatter: write_indices has shape " + shapeToString(inputs[2].shape, true) +
                                   " for a batch of " + std::to_string(cache[0]));
        mBatch = cache[0];
        mOuter = shapeElementCount(Shape(cache.begin(), cache.begin() + *axis));
        mMaxLength = cache[size_t(*axis)];
        mLength = update[size_t(*axis)];
        mRowBytes = static_cast<size_t>(shapeElementCount(Shape(cache.begin() + *axis + 1, cache.end()))) *
                    dataTypeSize(inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const auto* update = static_cast<const uint8_t*>(io.input(1).data);
        auto* out = static_cast<uint8_t*>(io.output(0).data);
        // Check every write index before writing anything: a bad one leaves no half-written cache.
        for (int64_t b = 0; b < mBatch && !mCircular; ++b) {
            const int64_t start = writeIndex(io, b);
            if (start < 0 || start + mLength > mMaxLength)
                return invalidArgument("cpu.tensor_scatter: write_indices[" + std::to_string(b) + "] = " + std::to_string(start) +
                                       " with " + std::to_string(mLength) + " new positions does not fit a cache of " +
                                       std::to_string(mMaxLength) + " in linear mode");
        }
        datamove::copyBytes(out, io.input(0).data, io.output(0).byteSize());
        if (mOuter == 0 || mLength == 0 || mRowBytes == 0) return Status::ok();
        const int64_t perBatch = mOuter / mBatch;  // prefix rows (batch, D1, ...) that share one write index
        for (int64_t p = 0; p < mOuter; ++p) {
            const int64_t start = writeIndex(io, p / perBatch);
            for (int64_t s = 0; s < mLength; ++s) {
                int64_t row = start + s;
                if (mCircular) row = ((row % mMaxLength) + mMaxLength) % mMaxLength;
                std::memcpy(out + static_cast<size_t>(p * mMaxLength + row) * mRowBytes,
                            update + static_cast<size_t>(p * mLength + s) * mRowBytes, mRowBytes);
            }
        }
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.tensor_scatter"; }

private:
    int64_t writeIndex(const KernelIO& io, int64_t batch) const {
        return mHasIndices ? io.input(2).as<const int64_t>()[batch] : 0;
    }

    int64_t mAxis;
    bool mCircular, mHasIndices;
    int64_t mBatch{0}, mOuter{0}, mMaxLength{0}, mLength{0};
    size_t mRowBytes{0};
};

}  // namespace

void registerTensorScatterKernels(CpuKernelRegistry& registry) {
    registry.add({"TensorScatter",
                  [](const Node& node, std::string* reason) {
                      const Value* indices = node.input(2);
                      if (!indices || indices->dtype == DataType::kINT64) return true;
                      if (reason) *reason = "write_indices must be int64";
                      return false;
                  },
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      const std::string mode = node.attrs.getString("mode", "linear");
                      if (mode != "linear" && mode != "circular")
                          return invalidModel(node.describe() + ": mode '" + mode + "' is not linear or circular");
                      return std::unique_ptr<Kernel>(
                          std::make_unique<TensorScatterKernel>(node.attrs.getInt("axis", -2), mode == "circular",
                                                                node.input(2) != nullptr));
                  },
                  ""});
}

}  // namespace kiln
