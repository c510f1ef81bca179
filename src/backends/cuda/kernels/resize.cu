// Resize (Upsample imports as Resize): nearest, linear and cubic, N-D, every coordinate mode and
// nearest mode, antialias, exclude_outside, extrapolation_value, scales or sizes, axes and
// keep_aspect_ratio_policy. Computed as the CPU kernel computes it: the input converted to double,
// one separable pass per resized axis between two double buffers of the workspace, the result
// converted back with the CPU's rounding and saturation. Each thread of a pass computes the taps of
// its output coordinate from ir/ops/resize_taps.h, the definition the CPU kernel uses too; the file is
// compiled without fused multiply-adds, so coordinates and sums round as on the CPU.
//
// The output geometry comes from the roi, scales and sizes values (ir/ops/resize_geometry.h). They
// are usually constants of the graph, read when the kernel is created; values known before the run
// (TensorView::hostData) are read at reshape; values computed by the engine are read back on the
// run's stream, which synchronizes it and keeps the run out of CUDA graphs.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/resize_geometry.h"
#include "ir/ops/resize_taps.h"

namespace kiln::cuda {

namespace {

/// A value input of Resize (roi, scales or sizes) as doubles: the graph constant's, or read from the
/// host copy or the device at the time it is needed.
class ResizeValueInput {
public:
    ResizeValueInput() = default;
    explicit ResizeValueInput(const Value* value) : mPresent(value != nullptr) {
        if (value && value->isConstant()) mConstant = value->constant->toDoubleVector();
    }
    bool present() const { return mPresent; }
    bool knownBeforeRun(const TensorView& view) const { return !mPresent || mConstant || view.hostData; }

    /// The values; without `useDevice` only a constant or host data can give them.
    Expected<std::vector<double>> read(const TensorView& view, cudaStream_t stream, bool useDevice) const {
        if (mConstant) return *mConstant;
        if (view.elementCount() == 0) return std::vector<double>{};
        std::vector<uint8_t> bytes(view.byteSize());
        if (view.hostData) {
            std::memcpy(bytes.data(), view.hostData, bytes.size());
        } else {
            if (!useDevice || !view.data) return internalError("a Resize value input is not readable before the run");
            KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(bytes.data(), view.data, bytes.size(), cudaMemcpyDeviceToHost, stream));
            KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
        }
        return Tensor::wrap(view.dtype, view.shape, bytes.data(), nullptr).toDoubleVector();
    }

private:
    bool mPresent{false};
    std::optional<std::vector<double>> mConstant;
};

/// Input `i`'s view, or an empty one when the node has fewer inputs (an omitted trailing input).
TensorView inputOrNone(const TensorView* inputs, size_t count, size_t i) {
    return i < count ? inputs[i] : TensorView{};
}

/// One resized axis: the input viewed as [outer, inWidth, inner] becomes [outer, outWidth, inner].
struct ResizePass {
    ResizeAxisTaps taps;
    int64_t inner{1};
    int64_t count{0};  // output elements of the pass
};

template <typename T>
__global__ void resizeLoadKernel(const T* in, double* out, int64_t count) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = static_cast<double>(load(in[i]));
}

/// double -> T as the CPU kernel converts: integers round to nearest-even and saturate; float types
/// saturate at their largest finite value (NaN stays NaN), float16 and bfloat16 through float.
template <typename T>
__device__ __forceinline__ T resizeStore(double v) {
    if constexpr (std::is_integral_v<T>) {
        v = rint(v);
        const double lo = static_cast<double>(Limits<T>::kLowest), hi = static_cast<double>(Limits<T>::kMax);
        if (v != v) return T{0};
        if (v <= lo) return Limits<T>::kLowest;
        if (v >= hi) return Limits<T>::kMax;
        return static_cast<T>(v);
    } else if constexpr (std::is_same_v<T, double>) {
        return v;
    } else {
        const double limit = std::is_same_v<T, __half> ? 65504.0 : 3.4028234663852886e38;
        if (v == v) v = v < -limit ? -limit : (v > limit ? limit : v);
        return store<T>(static_cast<float>(v));
    }
}

template <typename T>
__global__ void resizeStoreKernel(const double* in, T* out, int64_t count) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = resizeStore<T>(in[i]);
}

__global__ void resizePassKernel(const double* in, double* out, ResizePass pass, double extrapolation) {
    const ResizeAxisTaps& t = pass.taps;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < pass.count; i += step) {
        const int64_t k = i % pass.inner;
        const int64_t rest = i / pass.inner;
        const int64_t y = rest % t.outWidth;
        const int64_t o = rest / t.outWidth;
        const ResizeTapSpan span = resizeTapSpan(t, y);
        if (span.extrapolated) {
            out[i] = extrapolation;
            continue;
        }
        const double* row = in + o * t.inWidth * pass.inner + k;
        double acc = 0.0;
        for (int64_t j = 0; j < t.tapCount; ++j) {
            const double w = resizeTapWeight(t, span, j);
            if (w == 0) continue;
            int64_t index = span.first + j;
            index = index < 0 ? 0 : (index >= t.inWidth ? t.inWidth - 1 : index);
            acc += w * row[index * pass.inner];
        }
        out[i] = acc;
    }
}

using ResizeTypes = NumericTypes;

class ResizeKernel : public Kernel {
public:
    ResizeKernel(const Node& node, ResizeAttributes attrs)
        : mAttrs(std::move(attrs)),
          mRoi(node.input(1)),
          mScales(node.input(2)),
          mSizes(node.input(3)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        mType = inputs[0].dtype;
        if (mInShape.size() != mOutShape.size()) return invalidArgument(mName + ": output rank differs from the input's");
        int64_t largest = 1;
        for (size_t a = 0; a < mInShape.size(); ++a) largest *= std::max(mInShape[a], mOutShape[a]);
        mHalf = largest;
        mPlanned = false;
        const TensorView roi = inputOrNone(inputs.data(), inputs.size(), 1);
        const TensorView scales = inputOrNone(inputs.data(), inputs.size(), 2);
        const TensorView sizes = inputOrNone(inputs.data(), inputs.size(), 3);
        if (!mRoi.knownBeforeRun(roi) || !mScales.knownBeforeRun(scales) || !mSizes.knownBeforeRun(sizes))
            return Status::ok();
        KILN_RETURN_IF_ERROR(plan(roi, scales, sizes, nullptr, false));
        mPlanned = true;
        return Status::ok();
    }

    size_t workspaceSize() const override { return 2 * static_cast<size_t>(mHalf) * sizeof(double); }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mPlanned) {
            KILN_RETURN_IF_ERROR(plan(inputOrNone(io.inputs, io.numInputs, 1), inputOrNone(io.inputs, io.numInputs, 2),
                                      inputOrNone(io.inputs, io.numInputs, 3), stream, true));
        }
        const int64_t inCount = shapeElementCount(mInShape);
        const int64_t outCount = shapeElementCount(mOutShape);
        if (outCount == 0) return Status::ok();
        double* current = static_cast<double*>(io.workspace);
        double* next = current + mHalf;
        return ResizeTypes::dispatchStatus(mType, unsupported(mName + ": no CUDA Resize for " + dataTypeName(mType)),
                                           [&](auto tag) -> Status {
            using T = decltype(tag);
            resizeLoadKernel<T><<<elementwiseGrid(inCount), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), current, inCount);
            KILN_RETURN_IF_ERROR(launchStatus("resizeLoadKernel"));
            for (const ResizePass& pass : mPasses) {
                resizePassKernel<<<elementwiseGrid(pass.count), kElementwiseBlock, 0, stream>>>(
                    current, next, pass, mAttrs.extrapolationValue);
                KILN_RETURN_IF_ERROR(launchStatus("resizePassKernel"));
                std::swap(current, next);
            }
            resizeStoreKernel<T><<<elementwiseGrid(outCount), kElementwiseBlock, 0, stream>>>(
                current, static_cast<T*>(io.output(0).data), outCount);
            return launchStatus("resizeStoreKernel");
        });
    }

    bool isCapturable(std::string* reason) const override {
        if (mPlanned) return true;
        if (reason) *reason = "its roi, scales or sizes are computed during the run and read back to the host";
        return false;
    }

    std::string tacticName() const override { return "cuda.resize_separable"; }

private:
    Status plan(const TensorView& roiView, const TensorView& scalesView, const TensorView& sizesView,
                cudaStream_t stream, bool useDevice) {
        std::vector<double> roi;
        if (mRoi.present()) {
            KILN_ASSIGN_OR_RETURN(roi, mRoi.read(roiView, stream, useDevice));
        }
        std::optional<std::vector<double>> scales;
        std::optional<std::vector<int64_t>> sizes;
        if (mScales.present()) {
            KILN_ASSIGN_OR_RETURN(std::vector<double> s, mScales.read(scalesView, stream, useDevice));
            if (!s.empty()) scales = std::move(s);
        }
        if (mSizes.present()) {
            KILN_ASSIGN_OR_RETURN(std::vector<double> s, mSizes.read(sizesView, stream, useDevice));
            sizes = std::vector<int64_t>(s.begin(), s.end());
        }
        auto geometry = resizeGeometry(mInShape, mAttrs, roi, scales, sizes);
        if (!geometry) return geometry.status().withContext(mName);
        if (geometry->output != mOutShape)
            return invalidArgument(mName + ": output shape " + shapeToString(mOutShape, true) +
                                   " differs from the resize's " + shapeToString(geometry->output, true));
        mPasses.clear();
        Shape shape = mInShape;
        for (size_t axis = 0; axis < shape.size(); ++axis) {
            const int64_t inWidth = shape[axis], outWidth = geometry->output[axis];
            const bool identity = std::abs(geometry->scales[axis] - 1.0) <= 1e-9 && outWidth == inWidth &&
                                  geometry->roiStart[axis] == 0.0 && geometry->roiEnd[axis] == 1.0;
            if (identity) continue;
            shape[axis] = outWidth;
            ResizePass pass;
            pass.taps = resizeAxisTaps(mAttrs, geometry->scales[axis], inWidth, outWidth, geometry->roiStart[axis],
                                       geometry->roiEnd[axis]);
            for (size_t d = axis + 1; d < shape.size(); ++d) pass.inner *= shape[d];
            pass.count = shapeElementCount(shape);
            // An empty input has no taps to read: the CPU kernel writes nothing then either.
            if (inWidth == 0 && pass.count > 0)
                return invalidArgument(mName + ": cannot resize an axis of extent 0 to " + std::to_string(outWidth));
            mPasses.push_back(pass);
        }
        return Status::ok();
    }

    ResizeAttributes mAttrs;
    ResizeValueInput mRoi, mScales, mSizes;
    std::string mName;
    Shape mInShape, mOutShape;
    DataType mType{DataType::kFLOAT};
    int64_t mHalf{0};  // doubles in each workspace buffer
    bool mPlanned{false};
    std::vector<ResizePass> mPasses;
};

bool resizeSupported(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    if (!x) {
        if (reason) *reason = "Resize needs its input X";
        return false;
    }
    if (!ResizeTypes::contains(x->dtype)) {
        if (reason) *reason = std::string("no CUDA kernel for Resize on ") + dataTypeName(x->dtype);
        return false;
    }
    auto attrs = parseResizeAttributes(node.attrs);
    if (!attrs) {
        if (reason) *reason = node.describe() + ": " + attrs.status().message();
        return false;
    }
    return true;
}

}  // namespace

void registerResizeKernels(CudaKernelRegistry& registry) {
    registry.add({"Resize", resizeSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      auto attrs = parseResizeAttributes(node.attrs);
                      if (!attrs) return attrs.status().withContext(node.describe());
                      return std::unique_ptr<Kernel>(std::make_unique<ResizeKernel>(node, std::move(*attrs)));
                  }});
}

}  // namespace kiln::cuda
