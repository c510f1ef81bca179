// The normalizations over channels and spatial planes, on float, float16, bfloat16 and double, with the
// CPU backend's formulas (backends/cpu/kernels/normalization.cpp, normalization_layer.cpp, image.cpp):
// - BatchNormalization (inference form): y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + B[c], one
//   thread per element; the four parameters may each be of any floating type (opset 15 lets them differ
//   from X);
// - InstanceNormalization and GroupNormalization: one block per (image, group) of contiguous values, its
//   mean and variance in double (two passes), then one scale and shift per channel;
// - MeanVarianceNormalization: one block per kept index over any set of axes, (x - mean) / (std + 1e-9);
// - LpNormalization (p 1 or 2): one thread per line along the axis;
// - LRN: one thread per element, summing the squares across its channel window.
// Statistics are accumulated in double (as the CPU does); results are rounded once to the storage type.

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/strided_index.cuh"
#include "ir/ops/normalization_attrs.h"

namespace kiln::cuda {

namespace {

using NormTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;

constexpr int kStatsBlock = 256;

/// A parameter tensor of any floating type, read as double on the device.
struct AnyFloat {
    const void* data{nullptr};
    DataType type{DataType::kFLOAT};
};

__device__ __forceinline__ double loadAny(const AnyFloat& p, int64_t i) {
    switch (p.type) {
        case DataType::kHALF: return __half2float(static_cast<const __half*>(p.data)[i]);
        case DataType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p.data)[i]);
        case DataType::kDOUBLE: return static_cast<const double*>(p.data)[i];
        default: return static_cast<const float*>(p.data)[i];
    }
}

template <typename T>
__device__ __forceinline__ double loadDouble(T v) {
    return static_cast<double>(load(v));
}

bool floatingInput(const Node& node, size_t index, std::string* reason) {
    const Value* v = node.input(index);
    if (!v) {
        if (reason) *reason = node.opType + " input " + std::to_string(index) + " is missing";
        return false;
    }
    if (!NormTypes::contains(v->dtype)) {
        if (reason)
            *reason = node.opType + " input " + std::to_string(index) + " is " + dataTypeName(v->dtype) +
                      "; the CUDA kernel takes float, float16, bfloat16 or double";
        return false;
    }
    return true;
}

// ------------------------------------------------------------------------------- BatchNormalization

template <typename T>
__global__ void batchNormKernel(const T* x, T* y, int64_t count, int64_t channels, int64_t inner, AnyFloat scale,
                                AnyFloat bias, AnyFloat mean, AnyFloat var, double epsilon) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const int64_t c = (i / inner) % channels;
        const double a = loadAny(scale, c) / sqrt(loadAny(var, c) + epsilon);
        y[i] = store<T>((loadDouble(x[i]) - loadAny(mean, c)) * a + loadAny(bias, c));
    }
}

class BatchNormKernel : public Kernel {
public:
    explicit BatchNormKernel(const Node& node)
        : mType(node.input(0)->dtype), mEpsilon(node.attrs.getFloat("epsilon", 1e-5f)), mName(node.describe()) {
        for (size_t i = 0; i < 4; ++i) mParamTypes[i] = node.input(i + 1) ? node.input(i + 1)->dtype : mType;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        mCount = inputs[0].elementCount();
        mChannels = x.size() >= 2 ? x[1] : 1;
        mInner = shapeElementCount(Shape(x.begin() + std::min<std::ptrdiff_t>(2, static_cast<std::ptrdiff_t>(x.size())), x.end()));
        for (size_t i = 1; i < 5; ++i)
            if (inputs[i].elementCount() != mChannels)
                return invalidArgument(mName + ": parameter " + std::to_string(i) + " has " +
                                       std::to_string(inputs[i].elementCount()) + " entries for " +
                                       std::to_string(mChannels) + " channels");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        AnyFloat p[4];
        for (size_t i = 0; i < 4; ++i) p[i] = {io.input(i + 1).data, mParamTypes[i]};
        auto stream = static_cast<cudaStream_t>(io.stream);
        NormTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            batchNormKernel<T><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mCount, mChannels, mInner,
                p[0], p[1], p[2], p[3], mEpsilon);
        });
        return launchStatus("batchNormKernel");
    }

    std::string tacticName() const override { return std::string("cuda.batchnorm_inference_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    DataType mParamTypes[4];
    double mEpsilon;
    std::string mName;
    int64_t mCount{0}, mChannels{1}, mInner{1};
};

bool batchNormSupported(const Node& node, std::string* reason) {
    for (size_t i = 0; i < 5; ++i)
        if (!floatingInput(node, i, reason)) return false;
    if (node.attrs.getInt("training_mode", 0) != 0) {
        if (reason) *reason = "training_mode=1 is not supported: Kiln runs BatchNormalization in inference form only";
        return false;
    }
    for (size_t i = 1; i < node.outputs.size(); ++i) {
        if (node.outputs[i]) {
            if (reason) *reason = "BatchNormalization's running mean and variance outputs belong to training mode";
            return false;
        }
    }
    return true;
}

// ------------------------------------------------------------------ Instance- and GroupNormalization

/// One block per (image, group): `blockSize` contiguous values, `perGroup` channel planes of `plane`.
template <typename T>
__global__ void groupNormKernel(const T* x, T* y, int64_t groups, int64_t perGroup, int64_t plane, AnyFloat scale,
                                AnyFloat bias, double epsilon) {
    __shared__ double scratch[kStatsBlock / 32 + 1];
    const int64_t block = blockIdx.x;
    const int64_t size = perGroup * plane;
    const T* src = x + block * size;
    T* dst = y + block * size;
    double sum = 0;
    for (int64_t i = threadIdx.x; i < size; i += kStatsBlock) sum += loadDouble(src[i]);
    const double mean = blockSum<kStatsBlock>(sum, scratch) / static_cast<double>(size);
    double squares = 0;
    for (int64_t i = threadIdx.x; i < size; i += kStatsBlock) {
        const double d = loadDouble(src[i]) - mean;
        squares += d * d;
    }
    const double invStd = 1.0 / sqrt(blockSum<kStatsBlock>(squares, scratch) / static_cast<double>(size) + epsilon);
    const int64_t firstChannel = (block % groups) * perGroup;
    for (int64_t i = threadIdx.x; i < size; i += kStatsBlock) {
        const int64_t c = firstChannel + i / plane;
        const double a = loadAny(scale, c) * invStd;
        dst[i] = store<T>((loadDouble(src[i]) - mean) * a + loadAny(bias, c));
    }
}

class GroupNormKernel : public Kernel {
public:
    GroupNormKernel(const Node& node, bool perChannel)
        : mType(node.input(0)->dtype),
          mScaleType(node.input(1)->dtype),
          mBiasType(node.input(2)->dtype),
          mEpsilon(node.attrs.getFloat("epsilon", 1e-5f)),
          mGroups(perChannel ? 0 : node.attrs.getInt("num_groups", 0)),
          mPerChannel(perChannel),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        if (x.size() < 2) return invalidArgument(mName + ": X needs a batch and a channel axis");
        const int64_t channels = x[1];
        const int64_t groups = mPerChannel ? channels : mGroups;
        if (groups <= 0 || channels % groups != 0)
            return invalidArgument(mName + ": " + std::to_string(channels) + " channels are not divisible into " +
                                   std::to_string(groups) + " groups");
        for (size_t i = 1; i < 3; ++i)
            if (inputs[i].elementCount() != channels)
                return invalidArgument(mName + ": parameter " + std::to_string(i) + " has " +
                                       std::to_string(inputs[i].elementCount()) + " entries for " +
                                       std::to_string(channels) + " channels");
        mGroupsNow = groups;
        mPerGroup = channels / groups;
        mPlane = shapeElementCount(Shape(x.begin() + 2, x.end()));
        mBlocks = x[0] * groups;
        if (mPerGroup * mPlane == 0) mBlocks = 0;
        if (mBlocks > INT_MAX) return unsupported(mName + ": too many (image, group) blocks for one launch");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mBlocks == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const AnyFloat scale{io.input(1).data, mScaleType}, bias{io.input(2).data, mBiasType};
        NormTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            groupNormKernel<T><<<static_cast<unsigned>(mBlocks), kStatsBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mGroupsNow, mPerGroup,
                mPlane, scale, bias, mEpsilon);
        });
        return launchStatus("groupNormKernel");
    }

    std::string tacticName() const override {
        return std::string(mPerChannel ? "cuda.instancenorm_" : "cuda.groupnorm_") + tacticTypeSuffix(mType);
    }

private:
    DataType mType, mScaleType, mBiasType;
    double mEpsilon;
    int64_t mGroups;
    bool mPerChannel;
    std::string mName;
    int64_t mGroupsNow{1}, mPerGroup{1}, mPlane{1}, mBlocks{0};
};

bool groupNormSupported(const Node& node, std::string* reason) {
    for (size_t i = 0; i < 3; ++i)
        if (!floatingInput(node, i, reason)) return false;
    if (node.opType == "GroupNormalization" && node.attrs.getInt("num_groups", 0) < 1) {
        if (reason) *reason = "attribute num_groups must be >= 1";
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------- MeanVarianceNormalization

/// One block per kept index: `kept` maps it to its first element, `reduced` walks the reduced ones.
template <typename T>
__global__ void meanVarianceKernel(const T* x, T* y, StridedView kept, StridedView reduced) {
    __shared__ double scratch[kStatsBlock / 32 + 1];
    const int64_t base = stridedInputOffset(kept, blockIdx.x);
    const double count = static_cast<double>(reduced.count);
    double sum = 0;
    for (int64_t r = threadIdx.x; r < reduced.count; r += kStatsBlock)
        sum += loadDouble(x[base + stridedInputOffset(reduced, r)]);
    const double mean = blockSum<kStatsBlock>(sum, scratch) / count;
    double squares = 0;
    for (int64_t r = threadIdx.x; r < reduced.count; r += kStatsBlock) {
        const double d = loadDouble(x[base + stridedInputOffset(reduced, r)]) - mean;
        squares += d * d;
    }
    const double inverse = 1.0 / (sqrt(blockSum<kStatsBlock>(squares, scratch) / count) + 1e-9);
    for (int64_t r = threadIdx.x; r < reduced.count; r += kStatsBlock) {
        const int64_t i = base + stridedInputOffset(reduced, r);
        y[i] = store<T>((loadDouble(x[i]) - mean) * inverse);
    }
}

class MeanVarianceKernel : public Kernel {
public:
    MeanVarianceKernel(const Node& node, std::vector<int64_t> axes)
        : mType(node.input(0)->dtype), mAxes(std::move(axes)), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        std::vector<bool> reduced(x.size(), false);
        for (int64_t axis : mAxes) {
            if (axis < 0 || axis >= static_cast<int64_t>(x.size()))
                return invalidArgument(mName + ": axis " + std::to_string(axis) + " is out of range for " +
                                       shapeToString(x, true));
            reduced[static_cast<size_t>(axis)] = true;
        }
        mKept = StridedView{};
        mReduced = StridedView{};
        mKept.count = 1;
        mReduced.count = 1;
        int64_t stride = 1;
        // Dims of extent 1 are left out: they add no offset, and so more ranks fit the views.
        for (size_t d = x.size(); d-- > 0;) {
            StridedView& view = reduced[d] ? mReduced : mKept;
            if (x[d] != 1) {
                if (view.rank == kMaxStridedRank)
                    return unsupported(mName + ": more than " + std::to_string(kMaxStridedRank) +
                                       " kept or reduced axes of extent > 1");
                view.dims[view.rank] = x[d];
                view.inputStrides[view.rank++] = stride;
            }
            view.count *= x[d];
            stride *= x[d];
        }
        // The views were filled innermost first; stridedInputOffset wants them outermost first.
        for (StridedView* view : {&mKept, &mReduced}) {
            std::reverse(view->dims, view->dims + view->rank);
            std::reverse(view->inputStrides, view->inputStrides + view->rank);
        }
        if (mReduced.count == 0) mKept.count = 0;
        if (mKept.count > INT_MAX) return unsupported(mName + ": too many normalized groups for one launch");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mKept.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        NormTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            meanVarianceKernel<T><<<static_cast<unsigned>(mKept.count), kStatsBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mKept, mReduced);
        });
        return launchStatus("meanVarianceKernel");
    }

    std::string tacticName() const override { return std::string("cuda.mean_variance_norm_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    std::vector<int64_t> mAxes;
    std::string mName;
    StridedView mKept, mReduced;
};

// --------------------------------------------------------------------------------- LpNormalization

template <typename T, int kP>
__global__ void lpNormKernel(const T* x, T* y, int64_t lines, int64_t extent, int64_t inner) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; line < lines; line += step) {
        const int64_t base = (line / inner) * extent * inner + line % inner;
        double norm = 0;
        for (int64_t i = 0; i < extent; ++i) {
            const double v = loadDouble(x[base + i * inner]);
            norm += kP == 1 ? fabs(v) : v * v;
        }
        if (kP == 2) norm = sqrt(norm);
        // A zero norm means an all-zero line, which stays zero.
        const double inverse = norm == 0 ? 0.0 : 1.0 / norm;
        for (int64_t i = 0; i < extent; ++i) y[base + i * inner] = store<T>(loadDouble(x[base + i * inner]) * inverse);
    }
}

class LpNormKernel : public Kernel {
public:
    explicit LpNormKernel(const Node& node)
        : mType(node.input(0)->dtype),
          mAxisAttr(node.attrs.getInt("axis", -1)),
          mP(node.attrs.getInt("p", 2)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(x.size()));
        if (!axis) return invalidArgument(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range for " +
                                          shapeToString(x, true));
        const size_t a = static_cast<size_t>(*axis);
        mExtent = x[a];
        mInner = shapeElementCount(Shape(x.begin() + static_cast<std::ptrdiff_t>(a) + 1, x.end()));
        mLines = mExtent == 0 ? 0 : inputs[0].elementCount() / mExtent;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mLines == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        NormTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            const T* x = static_cast<const T*>(io.input(0).data);
            T* y = static_cast<T*>(io.output(0).data);
            if (mP == 1)
                lpNormKernel<T, 1><<<elementwiseGrid(mLines), kElementwiseBlock, 0, stream>>>(x, y, mLines, mExtent, mInner);
            else
                lpNormKernel<T, 2><<<elementwiseGrid(mLines), kElementwiseBlock, 0, stream>>>(x, y, mLines, mExtent, mInner);
        });
        return launchStatus("lpNormKernel");
    }

    std::string tacticName() const override {
        return "cuda.lpnorm_p" + std::to_string(mP) + "_" + tacticTypeSuffix(mType);
    }

private:
    DataType mType;
    int64_t mAxisAttr;
    int64_t mP;
    std::string mName;
    int64_t mLines{0}, mExtent{1}, mInner{1};
};

bool lpNormSupported(const Node& node, std::string* reason) {
    if (!floatingInput(node, 0, reason)) return false;
    const int64_t p = node.attrs.getInt("p", 2);
    if (p != 1 && p != 2) {
        if (reason) *reason = "LpNormalization's p must be 1 or 2, not " + std::to_string(p);
        return false;
    }
    return true;
}

// --------------------------------------------------------------------------------------------- LRN

template <typename T>
__global__ void lrnKernel(const T* x, T* y, int64_t count, int64_t channels, int64_t plane, int64_t before,
                          int64_t after, double alphaOverSize, double beta, double bias) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const int64_t c = (i / plane) % channels;
        const int64_t first = i - c * plane;  // the element at channel 0 of this (image, position)
        double squares = 0;
        const int64_t hi = min(channels - 1, c + after);
        for (int64_t k = max(int64_t{0}, c - before); k <= hi; ++k) {
            const double v = loadDouble(x[first + k * plane]);
            squares += v * v;
        }
        y[i] = store<T>(loadDouble(x[i]) / pow(bias + alphaOverSize * squares, beta));
    }
}

class LrnKernel : public Kernel {
public:
    explicit LrnKernel(const Node& node)
        : mType(node.input(0)->dtype),
          mAlpha(node.attrs.getFloat("alpha", 1e-4f)),
          mBeta(node.attrs.getFloat("beta", 0.75f)),
          mBias(node.attrs.getFloat("bias", 1.0f)),
          mSize(node.attrs.getInt("size", 1)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        if (x.size() < 2) return invalidArgument(mName + ": X needs a batch and a channel axis");
        mCount = inputs[0].elementCount();
        mChannels = x[1];
        mPlane = shapeElementCount(Shape(x.begin() + 2, x.end()));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const int64_t before = (mSize - 1) / 2, after = mSize - 1 - before;
        NormTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            lrnKernel<T><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mCount, mChannels, mPlane,
                before, after, mAlpha / static_cast<double>(mSize), mBeta, mBias);
        });
        return launchStatus("lrnKernel");
    }

    std::string tacticName() const override { return std::string("cuda.lrn_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    double mAlpha, mBeta, mBias;
    int64_t mSize;
    std::string mName;
    int64_t mCount{0}, mChannels{1}, mPlane{1};
};

bool lrnSupported(const Node& node, std::string* reason) {
    if (!floatingInput(node, 0, reason)) return false;
    if (node.attrs.getInt("size", 0) < 1) {
        if (reason) *reason = "LRN's size must be >= 1";
        return false;
    }
    return true;
}

}  // namespace

void registerChannelNormalizationKernels(CudaKernelRegistry& registry) {
    registry.add({"BatchNormalization", batchNormSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<BatchNormKernel>(node));
                  }});
    registry.add({"InstanceNormalization", groupNormSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GroupNormKernel>(node, true));
                  }});
    registry.add({"GroupNormalization", groupNormSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GroupNormKernel>(node, false));
                  }});
    registry.add({"MeanVarianceNormalization",
                  [](const Node& node, std::string* reason) { return floatingInput(node, 0, reason); },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      auto axes = mvnAxes(node.attrs, static_cast<int64_t>(node.input(0)->shape.size()));
                      if (!axes) return invalidModel(node.describe() + ": " + axes.status().message());
                      return std::unique_ptr<Kernel>(std::make_unique<MeanVarianceKernel>(node, std::move(*axes)));
                  }});
    registry.add({"LpNormalization", lpNormSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<LpNormKernel>(node));
                  }});
    registry.add({"LRN", lrnSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<LrnKernel>(node));
                  }});
}

}  // namespace kiln::cuda
