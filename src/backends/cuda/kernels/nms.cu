// NonMaxSuppression on the device for float boxes and scores, the same selection as the CPU kernel
// (selection_nms.cpp) bit for bit: coordinates, areas and overlaps in double with the same operations
// (this file is compiled without fused multiply-adds, as the CPU build has none), a score passes when
// it is above score_threshold, a box is dropped when it overlaps a taken one by more than
// iou_threshold, equal scores are taken lower index first.
//
// Per (batch, class) segment: CUB's stable segmented sort orders the box indices by descending score;
// one block then walks its sorted list in tiles of 64 candidates. All threads test the tile's
// candidates against the boxes taken so far and each candidate against the earlier ones of its tile
// (a 64-bit overlap mask); one thread then takes the tile's survivors in order, which is the CPU
// kernel's greedy loop. The taken indices go into the segment's slot and their count into a total.
// computeOutputShapes() does all that and reads back the total with iou_threshold (the only
// device-to-host copy, 16 bytes, and a wait; the threshold is checked there as the CPU kernel does);
// run() scans the per-segment counts and writes each slot's rows at its offset.

#include "backends/cuda/kernels/nms.h"

#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include <climits>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_owned_memory.h"

namespace kiln::cuda {

namespace {

constexpr int kTile = 64;  // candidates per step: one bit each in an overlap mask
constexpr int kGreedyThreads = 256;
constexpr int kLanesPerCandidate = kGreedyThreads / kTile;

/// What the host reads back: the number of selected boxes, and iou_threshold to validate.
struct NmsSummary {
    unsigned long long total;
    double iouThreshold;
};

// std::min and std::max exactly (the first argument when equal), which fmin and fmax do not promise.
__device__ __forceinline__ double minOf(double a, double b) { return b < a ? b : a; }
__device__ __forceinline__ double maxOf(double a, double b) { return a < b ? b : a; }

/// (ymin, xmin, ymax, xmax) of a box, as cornersOf in the CPU kernel.
__device__ void cornersOf(const float* box, bool centerPointBox, double* out) {
    const double b0 = box[0], b1 = box[1], b2 = box[2], b3 = box[3];
    if (centerPointBox) {  // [x_center, y_center, width, height]
        out[0] = b1 - b3 / 2;
        out[1] = b0 - b2 / 2;
        out[2] = b1 + b3 / 2;
        out[3] = b0 + b2 / 2;
    } else {  // [y1, x1, y2, x2] with either diagonal
        out[0] = minOf(b0, b2);
        out[1] = minOf(b1, b3);
        out[2] = maxOf(b0, b2);
        out[3] = maxOf(b1, b3);
    }
}

/// overlapsMoreThan of the CPU kernel: intersection over union of `a` and `b` above `threshold`.
__device__ bool overlapsMoreThan(const double* a, const double* b, double threshold) {
    const double areaA = (a[2] - a[0]) * (a[3] - a[1]);
    const double areaB = (b[2] - b[0]) * (b[3] - b[1]);
    if (areaA <= 0 || areaB <= 0) return false;
    const double h = minOf(a[2], b[2]) - maxOf(a[0], b[0]);
    const double w = minOf(a[3], b[3]) - maxOf(a[1], b[1]);
    if (h <= 0 || w <= 0) return false;
    const double intersection = h * w;
    return intersection / (areaA + areaB - intersection) > threshold;
}

/// The corners of every box, the sort's keys (scores, -0 as +0) and values (box indices), and the
/// segment offsets.
__global__ void prepareKernel(const float* boxes, const float* scores, int64_t batches, int64_t segments,
                              int64_t count, bool centerPointBox, double* corners, float* keys, int* values,
                              int64_t* offsets) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    for (int64_t i = first; i < batches * count; i += stride) cornersOf(boxes + i * 4, centerPointBox, corners + i * 4);
    for (int64_t i = first; i < segments * count; i += stride) {
        keys[i] = scores[i] + 0.0f;
        values[i] = static_cast<int>(i % count);
    }
    for (int64_t i = first; i <= segments; i += stride) offsets[i] = i * count;
}

/// One block per (batch, class) segment: the greedy selection over its boxes sorted by score.
__global__ void __launch_bounds__(kGreedyThreads)
    greedyKernel(const double* corners, const float* sortedScores, const int* sortedBoxes, int64_t classes,
                 int64_t count, const int64_t* maxPerClassInput, const float* iouInput, const float* scoreInput,
                 int* taken, int64_t* counts, NmsSummary* summary) {
    const int64_t segment = blockIdx.x;
    const double* boxCorners = corners + (segment / classes) * count * 4;
    const float* scores = sortedScores + segment * count;
    const int* boxes = sortedBoxes + segment * count;
    int* takenHere = taken + segment * count;
    const int64_t maxPerClass = maxPerClassInput ? maxPerClassInput[0] : 0;
    const int64_t limit = maxPerClass < count ? maxPerClass : count;
    const double iouThreshold = iouInput ? static_cast<double>(iouInput[0]) : 0.0;
    const double scoreThreshold = scoreInput ? static_cast<double>(scoreInput[0]) : 0.0;
    if (segment == 0 && threadIdx.x == 0) summary->iouThreshold = iouThreshold;

    __shared__ double tile[kTile][4];
    __shared__ int tileBox[kTile];
    __shared__ bool isCandidate[kTile];
    __shared__ bool suppressed[kTile];
    __shared__ unsigned long long earlierOverlaps[kTile];
    __shared__ int64_t takenCount;
    const int t = threadIdx.x;
    if (t == 0) takenCount = 0;
    __syncthreads();
    for (int64_t start = 0; start < count && takenCount < limit; start += kTile) {
        if (t < kTile) {
            const int64_t position = start + t;
            const bool candidate = position < count && (!scoreInput || static_cast<double>(scores[position]) > scoreThreshold);
            isCandidate[t] = candidate;
            suppressed[t] = false;
            tileBox[t] = candidate ? boxes[position] : -1;
            if (candidate)
                for (int k = 0; k < 4; ++k) tile[t][k] = boxCorners[static_cast<int64_t>(boxes[position]) * 4 + k];
        }
        __syncthreads();
        const int64_t takenBefore = takenCount;
        // Against the boxes taken in earlier tiles, each candidate's lanes splitting them.
        const int c = t % kTile;
        if (isCandidate[c]) {
            for (int64_t k = t / kTile; k < takenBefore; k += kLanesPerCandidate) {
                if (overlapsMoreThan(boxCorners + static_cast<int64_t>(takenHere[k]) * 4, tile[c], iouThreshold)) {
                    suppressed[c] = true;
                    break;
                }
            }
        }
        // Against the earlier candidates of this tile: bit j when candidate j would suppress this one.
        if (t < kTile) {
            unsigned long long mask = 0;
            if (isCandidate[t])
                for (int j = 0; j < t; ++j)
                    if (isCandidate[j] && overlapsMoreThan(tile[j], tile[t], iouThreshold)) mask |= 1ull << j;
            earlierOverlaps[t] = mask;
        }
        __syncthreads();
        if (t == 0) {
            unsigned long long takenInTile = 0;
            int64_t n = takenCount;
            for (int j = 0; j < kTile && n < limit; ++j) {
                if (!isCandidate[j] || suppressed[j] || (earlierOverlaps[j] & takenInTile)) continue;
                takenInTile |= 1ull << j;
                takenHere[n++] = tileBox[j];
            }
            takenCount = n;
        }
        __syncthreads();
    }
    if (t == 0) {
        counts[segment] = takenCount;
        if (takenCount) atomicAdd(&summary->total, static_cast<unsigned long long>(takenCount));
    }
}

/// Segment s's taken boxes as rows (batch, class, box) from its offset on; rows past `rows` (the
/// output's extent) are not written.
__global__ void writeRowsKernel(const int* taken, const int64_t* counts, const int64_t* rowOffsets, int64_t classes,
                                int64_t count, int64_t rows, int64_t* out) {
    const int64_t segment = blockIdx.x;
    const int64_t n = counts[segment];
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
        const int64_t row = rowOffsets[segment] + k;
        if (row >= rows) return;
        out[row * 3 + 0] = segment / classes;
        out[row * 3 + 1] = segment % classes;
        out[row * 3 + 2] = taken[segment * count + k];
    }
}

struct NmsDims {
    int64_t batches, classes, count;
    int64_t segments() const { return batches * classes; }
    int64_t items() const { return batches * classes * count; }
};

class NmsKernel : public Kernel {
public:
    explicit NmsKernel(const Node& node)
        : mName(node.describe()), mCenterPointBox(node.attrs.getInt("center_point_box", 0) == 1) {}

    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        KILN_ASSIGN_OR_RETURN(int64_t total, select(io));
        mSelected = true;
        return std::vector<Shape>{Shape{total, 3}};
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_ASSIGN_OR_RETURN(NmsDims dims, dimsOf(inputs[0].shape, inputs[1].shape));
        const Shape& y = outputs[0].shape;
        if (y.size() != 2 || y[1] != 3 || outputs[0].dtype != DataType::kINT64)
            return invalidArgument(mName + ": the output " + shapeToString(y, true) + " must be int64 [count, 3]");
        mRows = y[0];
        // Sized here too, so that a run() without computeOutputShapes() first allocates nothing.
        return reserve(dims);
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        // After computeOutputShapes() the slots hold this run's selection; otherwise select now.
        if (!mSelected) {
            KILN_ASSIGN_OR_RETURN(int64_t total, select(io));
            if (total != mRows)
                return invalidArgument(mName + ": " + std::to_string(total) + " boxes selected for an output of " +
                                       std::to_string(mRows) + " rows");
        }
        mSelected = false;
        if (mRows == 0 || mDims.segments() == 0) return Status::ok();
        unsigned char* base = mMemory.get();
        auto* counts = reinterpret_cast<int64_t*>(base + mCountsAt);
        auto* rowOffsets = reinterpret_cast<int64_t*>(base + mRowOffsetsAt);
        size_t scratch = mScanScratchBytes;
        KILN_CUDA_RETURN_IF_ERROR(
            cub::DeviceScan::ExclusiveSum(base + mScanScratchAt, scratch, counts, rowOffsets, mDims.segments(), stream));
        writeRowsKernel<<<static_cast<unsigned>(mDims.segments()), kElementwiseBlock, 0, stream>>>(
            reinterpret_cast<const int*>(base + mTakenAt), counts, rowOffsets, mDims.classes, mDims.count, mRows,
            static_cast<int64_t*>(io.output(0).data));
        return launchStatus("writeRowsKernel");
    }

    std::string tacticName() const override { return "cuda.nms_sorted_greedy_float"; }

    bool isCapturable(std::string* reason) const override {
        if (reason)
            *reason = "NonMaxSuppression's output shape depends on its input values: the count is read back to the host";
        return false;
    }

private:
    Expected<NmsDims> dimsOf(const Shape& boxes, const Shape& scores) const {
        if (boxes.size() != 3 || boxes[2] != 4)
            return invalidArgument(mName + ": boxes " + shapeToString(boxes, true) + " must be [batches, boxes, 4]");
        if (scores.size() != 3 || scores[0] != boxes[0] || scores[2] != boxes[1])
            return invalidArgument(mName + ": scores " + shapeToString(scores, true) + " do not match boxes " +
                                   shapeToString(boxes, true));
        if (boxes[1] > INT_MAX)
            return invalidArgument(mName + ": " + std::to_string(boxes[1]) + " boxes per batch, more than the kernel indexes");
        return NmsDims{boxes[0], scores[1], boxes[1]};
    }

    /// Lays out the buffers for `dims` in the kernel's memory and grows it when needed.
    Status reserve(const NmsDims& dims) {
        mDims = dims;
        BufferLayout layout;
        mCornersAt = layout.add<double>(dims.batches * dims.count * 4);
        mKeysAt = layout.add<float>(dims.items());
        mSortedKeysAt = layout.add<float>(dims.items());
        mValuesAt = layout.add<int>(dims.items());
        mSortedValuesAt = layout.add<int>(dims.items());
        mOffsetsAt = layout.add<int64_t>(dims.segments() + 1);
        mTakenAt = layout.add<int>(dims.items());
        mCountsAt = layout.add<int64_t>(dims.segments());
        mRowOffsetsAt = layout.add<int64_t>(dims.segments());
        mSummaryAt = layout.add<NmsSummary>(1);
        mSortScratchBytes = 0;
        mScanScratchBytes = 0;
        if (dims.items() > 0) {
            KILN_CUDA_RETURN_IF_ERROR(cub::DeviceSegmentedSort::StableSortPairsDescending(
                nullptr, mSortScratchBytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
                static_cast<const int*>(nullptr), static_cast<int*>(nullptr), dims.items(), dims.segments(),
                static_cast<const int64_t*>(nullptr), static_cast<const int64_t*>(nullptr), cudaStream_t{}));
            KILN_CUDA_RETURN_IF_ERROR(cub::DeviceScan::ExclusiveSum(nullptr, mScanScratchBytes,
                                                                    static_cast<const int64_t*>(nullptr),
                                                                    static_cast<int64_t*>(nullptr), dims.segments(),
                                                                    cudaStream_t{}));
        }
        mSortScratchAt = layout.addBytes(mSortScratchBytes);
        mScanScratchAt = layout.addBytes(mScanScratchBytes);
        KILN_RETURN_IF_ERROR(mSummary.reserve());
        return mMemory.reserve(layout.bytes());
    }

    /// The whole selection into the slots and counts; returns the number of boxes selected.
    Expected<int64_t> select(const KernelIO& io) {
        auto stream = static_cast<cudaStream_t>(io.stream);
        KILN_ASSIGN_OR_RETURN(NmsDims dims, dimsOf(io.input(0).shape, io.input(1).shape));
        for (size_t i = 2; i < 5; ++i)
            if (io.hasInput(i) && io.input(i).elementCount() < 1)
                return invalidArgument(mName + ": input " + std::to_string(i) + " is empty, it must hold one value");
        KILN_RETURN_IF_ERROR(reserve(dims));
        unsigned char* base = mMemory.get();
        auto* summary = reinterpret_cast<NmsSummary*>(base + mSummaryAt);
        KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(summary, 0, sizeof(NmsSummary), stream));
        if (dims.items() > 0) {
            auto* keys = reinterpret_cast<float*>(base + mKeysAt);
            auto* sortedKeys = reinterpret_cast<float*>(base + mSortedKeysAt);
            auto* values = reinterpret_cast<int*>(base + mValuesAt);
            auto* sortedValues = reinterpret_cast<int*>(base + mSortedValuesAt);
            auto* offsets = reinterpret_cast<int64_t*>(base + mOffsetsAt);
            auto* corners = reinterpret_cast<double*>(base + mCornersAt);
            prepareKernel<<<elementwiseGrid(dims.items()), kElementwiseBlock, 0, stream>>>(
                static_cast<const float*>(io.input(0).data), static_cast<const float*>(io.input(1).data), dims.batches,
                dims.segments(), dims.count, mCenterPointBox, corners, keys, values, offsets);
            KILN_RETURN_IF_ERROR(launchStatus("prepareKernel"));
            size_t scratch = mSortScratchBytes;
            KILN_CUDA_RETURN_IF_ERROR(cub::DeviceSegmentedSort::StableSortPairsDescending(
                base + mSortScratchAt, scratch, keys, sortedKeys, values, sortedValues, dims.items(), dims.segments(),
                offsets, offsets + 1, stream));
            auto input = [&](size_t i) { return io.hasInput(i) ? io.input(i).data : nullptr; };
            greedyKernel<<<static_cast<unsigned>(dims.segments()), kGreedyThreads, 0, stream>>>(
                corners, sortedKeys, sortedValues, dims.classes, dims.count, static_cast<const int64_t*>(input(2)),
                static_cast<const float*>(input(3)), static_cast<const float*>(input(4)),
                reinterpret_cast<int*>(base + mTakenAt), reinterpret_cast<int64_t*>(base + mCountsAt), summary);
            KILN_RETURN_IF_ERROR(launchStatus("greedyKernel"));
        }
        KILN_RETURN_IF_ERROR(mSummary.read(summary, stream));
        // Without boxes no kernel wrote the threshold: read it as the CPU kernel does in any case.
        double iou = mSummary.value().iouThreshold;
        if (dims.items() == 0 && io.hasInput(3)) {
            float host = 0.0f;
            KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(&host, io.input(3).data, sizeof(float), cudaMemcpyDeviceToHost, stream));
            KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
            iou = host;
        }
        if (iou < 0 || iou > 1)
            return invalidArgument(mName + ": iou_threshold must be in [0, 1], got " + std::to_string(iou));
        return static_cast<int64_t>(mSummary.value().total);
    }

    std::string mName;
    bool mCenterPointBox;
    OwnedDeviceMemory mMemory;
    PinnedReadback<NmsSummary> mSummary;
    NmsDims mDims{};
    int64_t mRows{0};
    bool mSelected{false};
    size_t mCornersAt{0}, mKeysAt{0}, mSortedKeysAt{0}, mValuesAt{0}, mSortedValuesAt{0}, mOffsetsAt{0};
    size_t mTakenAt{0}, mCountsAt{0}, mRowOffsetsAt{0}, mSummaryAt{0}, mSortScratchAt{0}, mScanScratchAt{0};
    size_t mSortScratchBytes{0}, mScanScratchBytes{0};
};

bool isInputOf(const Node& node, size_t i, DataType type) {
    const Value* v = node.input(i);
    return !v || v->dtype == type;
}

}  // namespace

std::unique_ptr<Kernel> makeDeviceNms(const Node& node) {
    const Value* boxes = node.input(0);
    const Value* scores = node.input(1);
    if (!boxes || !scores || boxes->dtype != DataType::kFLOAT || scores->dtype != DataType::kFLOAT) return nullptr;
    if (!isInputOf(node, 2, DataType::kINT64) || !isInputOf(node, 3, DataType::kFLOAT) ||
        !isInputOf(node, 4, DataType::kFLOAT))
        return nullptr;
    return std::make_unique<NmsKernel>(node);
}

}  // namespace kiln::cuda
