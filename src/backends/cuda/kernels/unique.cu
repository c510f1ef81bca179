// Unique on the device over all elements (no `axis`, or the one axis of a rank-1 input), sorted or in
// order of first occurrence, for float, double and 8-, 32- and 64-bit integers: the same outputs as
// the CPU kernel (selection_unique.cpp). CUB's radix sort orders (value, index) pairs; it is stable
// and takes -0 and +0 as equal, so each run of equal values lists its indices ascending and its head
// is the first occurrence. A scan of the run heads numbers the groups; computeOutputShapes() reads
// back the last number, the group count (the only device-to-host copy, and a wait). run() then writes
// each group's value, first index and count at its output position (its rank in sorted order, or
// among the first occurrences: a scan of first-occurrence flags in input order) and every element's
// inverse index. NaN has no place in the CPU kernel's order either: inputs are expected without it.

#include "backends/cuda/kernels/unique.h"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_owned_memory.h"

namespace kiln::cuda {

namespace {

/// 1 where a run of equal values starts in the sorted keys (== takes -0 and +0 as equal).
template <typename T>
struct RunHead {
    const T* sorted;
    __host__ __device__ int64_t operator()(int64_t k) const { return k == 0 || !(sorted[k - 1] == sorted[k]) ? 1 : 0; }
};

template <typename T>
using RunHeadIterator = thrust::transform_iterator<RunHead<T>, thrust::counting_iterator<int64_t>>;

template <typename T>
RunHeadIterator<T> runHeads(const T* sorted) {
    return RunHeadIterator<T>(thrust::counting_iterator<int64_t>(0), RunHead<T>{sorted});
}

__global__ void iotaKernel(int64_t* values, int64_t count) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) values[i] = i;
}

/// Per sorted position k: the group of input element sortedIndex[k] and, at a run head, the group's
/// start and first occurrence (flagged in input order when the output follows first occurrences).
__global__ void groupsKernel(const int64_t* sortedIndex, const int64_t* groupNumbers, int64_t count, int64_t* groupOf,
                             int64_t* runStart, int64_t* firstOf, int64_t* isFirst) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < count; k += stride) {
        const int64_t group = groupNumbers[k] - 1;
        const int64_t index = sortedIndex[k];
        groupOf[index] = group;
        if (k == 0 || groupNumbers[k - 1] != groupNumbers[k]) {
            runStart[group] = k;
            firstOf[group] = index;
            if (isFirst) isFirst[index] = 1;
        }
    }
}

/// Per group: its output position, and there its value, first index and count (omitted outputs are null).
template <typename T>
__global__ void groupOutputsKernel(const T* x, const int64_t* runStart, const int64_t* firstOf,
                                   const int64_t* firstRank, int64_t groups, int64_t count, int64_t* positionOf, T* y,
                                   int64_t* indices, int64_t* counts) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
        const int64_t first = firstOf[g];
        const int64_t p = firstRank ? firstRank[first] : g;
        positionOf[g] = p;
        if (y) y[p] = x[first];
        if (indices) indices[p] = first;
        if (counts) counts[p] = (g + 1 < groups ? runStart[g + 1] : count) - runStart[g];
    }
}

__global__ void inverseKernel(const int64_t* groupOf, const int64_t* positionOf, int64_t count, int64_t* inverse) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        inverse[i] = positionOf[groupOf[i]];
}

class UniqueKernel : public Kernel {
public:
    UniqueKernel(const Node& node, bool sorted)
        : mName(node.describe()), mType(node.input(0)->dtype), mSorted(sorted), mNumOutputs(node.outputs.size()) {}

    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        KILN_ASSIGN_OR_RETURN(int64_t groups, group(io));
        mGrouped = true;
        const int64_t n = io.input(0).elementCount();
        std::vector<Shape> shapes = {Shape{groups}, Shape{groups}, Shape{n}, Shape{groups}};
        shapes.resize(mNumOutputs);
        return shapes;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const int64_t n = inputs[0].elementCount();
        mGroups = -1;
        for (size_t i = 0; i < outputs.size(); ++i) {
            const Shape& shape = outputs[i].shape;
            if (shape.empty()) continue;  // an omitted output (each present one has rank 1)
            const DataType want = i == 0 ? mType : DataType::kINT64;
            if (shape.size() != 1 || outputs[i].dtype != want || (i == 2 && shape[0] != n))
                return invalidArgument(mName + ": output " + std::to_string(i) + " " + shapeToString(shape, true) +
                                       " must be " + dataTypeName(want) + (i == 2 ? " [" + std::to_string(n) + "]" : " [groups]"));
            if (i != 2) {
                if (mGroups >= 0 && shape[0] != mGroups)
                    return invalidArgument(mName + ": outputs disagree on the number of distinct values");
                mGroups = shape[0];
            }
        }
        // Sized here too, so that a run() without computeOutputShapes() first allocates nothing.
        return reserve(n);
    }

    Status run(const KernelIO& io) override {
        // After computeOutputShapes() the sorted pairs and group numbers are this run's; else group now.
        int64_t groups = mLastGroups;
        if (!mGrouped) {
            KILN_ASSIGN_OR_RETURN(groups, group(io));
            if (mGroups >= 0 && groups != mGroups)
                return invalidArgument(mName + ": " + std::to_string(groups) + " distinct values for outputs of " +
                                       std::to_string(mGroups));
        }
        mGrouped = false;
        const int64_t n = io.input(0).elementCount();
        if (n == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        unsigned char* base = mMemory.get();
        auto at = [&](size_t offset) { return reinterpret_cast<int64_t*>(base + offset); };
        auto output = [&](size_t i) { return i < io.numOutputs ? io.output(i).data : nullptr; };
        int64_t* isFirst = mSorted ? nullptr : at(mIsFirstAt);
        if (isFirst) KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(isFirst, 0, static_cast<size_t>(n) * sizeof(int64_t), stream));
        groupsKernel<<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(at(mSortedIndexAt), at(mGroupNumbersAt), n,
                                                                            at(mGroupOfAt), at(mRunStartAt),
                                                                            at(mFirstOfAt), isFirst);
        KILN_RETURN_IF_ERROR(launchStatus("groupsKernel"));
        int64_t* firstRank = nullptr;
        if (!mSorted) {
            firstRank = at(mFirstRankAt);
            size_t scratch = mScratchBytes;
            KILN_CUDA_RETURN_IF_ERROR(cub::DeviceScan::ExclusiveSum(base + mScratchAt, scratch, isFirst, firstRank, n, stream));
        }
        KILN_RETURN_IF_ERROR(dispatch([&](auto tag) {
            using T = decltype(tag);
            groupOutputsKernel<T><<<elementwiseGrid(groups), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), at(mRunStartAt), at(mFirstOfAt), firstRank, groups, n,
                at(mPositionOfAt), static_cast<T*>(output(0)), static_cast<int64_t*>(output(1)),
                static_cast<int64_t*>(output(3)));
        }));
        KILN_RETURN_IF_ERROR(launchStatus("groupOutputsKernel"));
        if (int64_t* inverse = static_cast<int64_t*>(output(2))) {
            inverseKernel<<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(at(mGroupOfAt), at(mPositionOfAt), n, inverse);
            KILN_RETURN_IF_ERROR(launchStatus("inverseKernel"));
        }
        return Status::ok();
    }

    std::string tacticName() const override {
        return std::string("cuda.unique_radix_sort_") + (mSorted ? "" : "first_occurrence_") + tacticTypeSuffix(mType);
    }

    bool isCapturable(std::string* reason) const override {
        if (reason) *reason = "Unique's output shapes depend on its input values: the count is read back to the host";
        return false;
    }

private:
    template <typename F>
    Status dispatch(const F& f) const {
        switch (mType) {
            case DataType::kFLOAT: f(float{}); break;
            case DataType::kDOUBLE: f(double{}); break;
            case DataType::kINT8: f(int8_t{}); break;
            case DataType::kUINT8: f(uint8_t{}); break;
            case DataType::kINT32: f(int32_t{}); break;
            case DataType::kINT64: f(int64_t{}); break;
            default: return unsupported(mName + ": no CUDA Unique for " + dataTypeName(mType));
        }
        return Status::ok();
    }

    /// Lays out the buffers for `n` elements in the kernel's memory and grows it when needed.
    Status reserve(int64_t n) {
        BufferLayout layout;
        KILN_RETURN_IF_ERROR(dispatch([&](auto tag) { mSortedKeysAt = layout.add<decltype(tag)>(n); }));
        mIndexAt = layout.add<int64_t>(n);
        mSortedIndexAt = layout.add<int64_t>(n);
        mGroupNumbersAt = layout.add<int64_t>(n);
        mGroupOfAt = layout.add<int64_t>(n);
        mRunStartAt = layout.add<int64_t>(n);
        mFirstOfAt = layout.add<int64_t>(n);
        mPositionOfAt = layout.add<int64_t>(n);
        mIsFirstAt = layout.add<int64_t>(mSorted ? 0 : n);
        mFirstRankAt = layout.add<int64_t>(mSorted ? 0 : n);
        // One scratch for the sort and the scans, which run one after the other on the stream.
        mScratchBytes = 0;
        if (n > 0) {
            size_t sortBytes = 0, headScanBytes = 0, firstScanBytes = 0;
            cudaError_t error = cudaSuccess;
            KILN_RETURN_IF_ERROR(dispatch([&](auto tag) {
                using T = decltype(tag);
                error = cub::DeviceRadixSort::SortPairs(nullptr, sortBytes, static_cast<const T*>(nullptr),
                                                        static_cast<T*>(nullptr), static_cast<const int64_t*>(nullptr),
                                                        static_cast<int64_t*>(nullptr), n, 0, int(sizeof(T) * 8),
                                                        cudaStream_t{});
                if (error == cudaSuccess)
                    error = cub::DeviceScan::InclusiveSum(nullptr, headScanBytes, runHeads<T>(nullptr),
                                                          static_cast<int64_t*>(nullptr), n, cudaStream_t{});
            }));
            KILN_CUDA_RETURN_IF_ERROR(error);
            KILN_CUDA_RETURN_IF_ERROR(cub::DeviceScan::ExclusiveSum(nullptr, firstScanBytes,
                                                                    static_cast<const int64_t*>(nullptr),
                                                                    static_cast<int64_t*>(nullptr), n, cudaStream_t{}));
            mScratchBytes = std::max({sortBytes, headScanBytes, firstScanBytes});
        }
        mScratchAt = layout.addBytes(mScratchBytes);
        KILN_RETURN_IF_ERROR(mGroupCount.reserve());
        return mMemory.reserve(layout.bytes());
    }

    /// Sorts the (value, index) pairs and numbers the runs; returns the number of groups.
    Expected<int64_t> group(const KernelIO& io) {
        const TensorView& x = io.input(0);
        const int64_t n = x.elementCount();
        mLastGroups = 0;
        if (n == 0) return int64_t{0};
        KILN_RETURN_IF_ERROR(reserve(n));
        auto stream = static_cast<cudaStream_t>(io.stream);
        unsigned char* base = mMemory.get();
        auto* index = reinterpret_cast<int64_t*>(base + mIndexAt);
        auto* sortedIndex = reinterpret_cast<int64_t*>(base + mSortedIndexAt);
        auto* groupNumbers = reinterpret_cast<int64_t*>(base + mGroupNumbersAt);
        iotaKernel<<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(index, n);
        KILN_RETURN_IF_ERROR(launchStatus("iotaKernel"));
        cudaError_t error = cudaSuccess;
        KILN_RETURN_IF_ERROR(dispatch([&](auto tag) {
            using T = decltype(tag);
            auto* sortedKeys = reinterpret_cast<T*>(base + mSortedKeysAt);
            size_t scratch = mScratchBytes;
            error = cub::DeviceRadixSort::SortPairs(base + mScratchAt, scratch, static_cast<const T*>(x.data), sortedKeys,
                                                    index, sortedIndex, n, 0, int(sizeof(T) * 8), stream);
            if (error != cudaSuccess) return;
            scratch = mScratchBytes;
            error = cub::DeviceScan::InclusiveSum(base + mScratchAt, scratch, runHeads<T>(sortedKeys), groupNumbers, n,
                                                  stream);
        }));
        KILN_CUDA_RETURN_IF_ERROR(error);
        KILN_RETURN_IF_ERROR(mGroupCount.read(groupNumbers + (n - 1), stream));
        mLastGroups = mGroupCount.value();
        return mLastGroups;
    }

    std::string mName;
    DataType mType;
    bool mSorted;
    size_t mNumOutputs;
    OwnedDeviceMemory mMemory;
    PinnedReadback<int64_t> mGroupCount;
    bool mGrouped{false};
    int64_t mGroups{-1};     // from the output shapes of the last reshape(), -1 when none tells
    int64_t mLastGroups{0};  // from the last grouping
    size_t mSortedKeysAt{0}, mIndexAt{0}, mSortedIndexAt{0}, mGroupNumbersAt{0}, mGroupOfAt{0}, mRunStartAt{0};
    size_t mFirstOfAt{0}, mPositionOfAt{0}, mIsFirstAt{0}, mFirstRankAt{0}, mScratchAt{0};
    size_t mScratchBytes{0};
};

}  // namespace

std::unique_ptr<Kernel> makeDeviceUnique(const Node& node) {
    const Value* x = node.input(0);
    if (!x) return nullptr;
    // An axis selects slices; only the one axis of a rank-1 input makes them single elements.
    if (std::optional<int64_t> axis = node.attrs.getInt("axis"))
        if (x->shape.size() != 1 || (*axis != 0 && *axis != -1)) return nullptr;
    const bool sorted = node.attrs.getInt("sorted", 1) != 0;
    switch (x->dtype) {
        case DataType::kFLOAT:
        case DataType::kDOUBLE:
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT32:
        case DataType::kINT64: return std::make_unique<UniqueKernel>(node, sorted);
        default: return nullptr;
    }
}

}  // namespace kiln::cuda
