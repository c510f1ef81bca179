// RoiAlign (average or max of bilinear samples per bin, half_pixel or output_half_pixel coordinates)
// and Col2Im (sliding blocks summed back into an N-D image), as the CPU kernels compute them
// (backends/cpu/kernels/image_geometry.cpp, after ONNX's reference), in double.
// - RoiAlign: one thread per output element (roi, channel, bin row, bin column) walks the bin's
//   sampling grid. The batch index of each roi is read on the device; one outside [0, N) gives zeros
//   (the CPU kernel reports it as an error, which a kernel cannot without waiting for the device).
// - Col2Im: one thread per image element gathers, in block-offset order (the CPU's summation order),
//   the one column entry of each block offset that lands on it. block_shape is usually a graph
//   constant; when computed, it is read back on the run's stream (a synchronization).

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/index_values.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

/// A double result to T as the CPU's storeAt converts it: float types through float, integers truncated.
template <typename T>
__device__ __forceinline__ T storeDouble(double v) {
    if constexpr (std::is_same_v<T, double>)
        return v;
    else
        return store<T>(static_cast<float>(v));
}

// -------------------------------------------------------------------------------------------- RoiAlign

struct RoiAlignPlan {
    bool maxMode{false};
    bool halfPixel{true};
    int64_t outHeight{1};
    int64_t outWidth{1};
    int64_t samplingRatio{0};
    double scale{1.0};
    int64_t batch{0};
    int64_t channels{0};
    int64_t height{0};
    int64_t width{0};
    int64_t count{0};
};

template <typename T, typename B>
__global__ void roiAlignKernel(const T* x, const T* rois, const B* batchIndices, T* out, RoiAlignPlan plan) {
    const int64_t H = plan.height, W = plan.width;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        const int64_t pw = i % plan.outWidth;
        const int64_t ph = (i / plan.outWidth) % plan.outHeight;
        const int64_t c = (i / (plan.outWidth * plan.outHeight)) % plan.channels;
        const int64_t r = i / (plan.outWidth * plan.outHeight * plan.channels);
        const int64_t b = static_cast<int64_t>(batchIndices[r]);
        if (b < 0 || b >= plan.batch) {
            out[i] = storeDouble<T>(0.0);
            continue;
        }
        const double offset = plan.halfPixel ? 0.5 : 0.0;
        const T* roi = rois + r * 4;
        const double x1 = static_cast<double>(load(roi[0])) * plan.scale - offset;
        const double y1 = static_cast<double>(load(roi[1])) * plan.scale - offset;
        const double x2 = static_cast<double>(load(roi[2])) * plan.scale - offset;
        const double y2 = static_cast<double>(load(roi[3])) * plan.scale - offset;
        double roiW = x2 - x1, roiH = y2 - y1;
        if (!plan.halfPixel) {
            roiW = roiW > 1.0 ? roiW : 1.0;
            roiH = roiH > 1.0 ? roiH : 1.0;
        }
        const double binH = roiH / static_cast<double>(plan.outHeight), binW = roiW / static_cast<double>(plan.outWidth);
        const int64_t gridH = plan.samplingRatio > 0 ? plan.samplingRatio
                                                     : static_cast<int64_t>(ceil(roiH / static_cast<double>(plan.outHeight)));
        const int64_t gridW = plan.samplingRatio > 0 ? plan.samplingRatio
                                                     : static_cast<int64_t>(ceil(roiW / static_cast<double>(plan.outWidth)));
        const double samples = static_cast<double>(gridH * gridW > 1 ? gridH * gridW : 1);
        const T* image = x + (b * plan.channels + c) * H * W;
        double acc = 0;
        bool first = true;
        for (int64_t iy = 0; iy < gridH; ++iy) {
            const double y = y1 + static_cast<double>(ph) * binH +
                             (static_cast<double>(iy) + 0.5) * binH / static_cast<double>(gridH);
            for (int64_t ix = 0; ix < gridW; ++ix) {
                const double xx = x1 + static_cast<double>(pw) * binW +
                                  (static_cast<double>(ix) + 0.5) * binW / static_cast<double>(gridW);
                double w[4] = {0, 0, 0, 0};
                int64_t pos[4] = {0, 0, 0, 0};
                if (!(y < -1.0 || y > static_cast<double>(H) || xx < -1.0 || xx > static_cast<double>(W))) {
                    double yy = y > 0.0 ? y : 0.0, xc = xx > 0.0 ? xx : 0.0;
                    int64_t yLow = static_cast<int64_t>(yy), xLow = static_cast<int64_t>(xc), yHigh, xHigh;
                    if (yLow >= H - 1) {
                        yHigh = yLow = H - 1;
                        yy = static_cast<double>(yLow);
                    } else {
                        yHigh = yLow + 1;
                    }
                    if (xLow >= W - 1) {
                        xHigh = xLow = W - 1;
                        xc = static_cast<double>(xLow);
                    } else {
                        xHigh = xLow + 1;
                    }
                    const double ly = yy - static_cast<double>(yLow), lx = xc - static_cast<double>(xLow);
                    const double hy = 1 - ly, hx = 1 - lx;
                    w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
                    pos[0] = yLow * W + xLow, pos[1] = yLow * W + xHigh, pos[2] = yHigh * W + xLow,
                    pos[3] = yHigh * W + xHigh;
                }
                if (plan.maxMode) {
                    double v = w[0] * static_cast<double>(load(image[pos[0]]));
                    for (int k = 1; k < 4; ++k) v = fmax(v, w[k] * static_cast<double>(load(image[pos[k]])));
                    acc = first ? v : fmax(acc, v);
                    first = false;
                } else {
                    for (int k = 0; k < 4; ++k) acc += w[k] * static_cast<double>(load(image[pos[k]]));
                }
            }
        }
        out[i] = storeDouble<T>(plan.maxMode ? acc : acc / samples);
    }
}

using RoiTypes = DeviceTypes<float, double, __half, __nv_bfloat16>;

class RoiAlignKernel : public Kernel {
public:
    explicit RoiAlignKernel(const Node& node) : mName(node.describe()) {
        mPlan.maxMode = node.attrs.getString("mode", "avg") == "max";
        mPlan.halfPixel = node.attrs.getString("coordinate_transformation_mode", "half_pixel") == "half_pixel";
        mPlan.outHeight = node.attrs.getInt("output_height", 1);
        mPlan.outWidth = node.attrs.getInt("output_width", 1);
        mPlan.samplingRatio = node.attrs.getInt("sampling_ratio", 0);
        mPlan.scale = node.attrs.getFloat("spatial_scale", 1.0f);
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& rois = inputs[1].shape;
        if (x.size() != 4) return invalidArgument(mName + ": X must be N x C x H x W");
        if (rois.size() != 2 || rois[1] != 4)
            return invalidArgument(mName + ": rois must be num_rois x 4, got " + shapeToString(rois, true));
        if (inputs[2].elementCount() != rois[0])
            return invalidArgument(mName + ": batch_indices must have one entry per roi");
        if (mPlan.outHeight < 1 || mPlan.outWidth < 1)
            return invalidArgument(mName + ": output_height and output_width must be positive");
        mPlan.batch = x[0];
        mPlan.channels = x[1];
        mPlan.height = x[2];
        mPlan.width = x[3];
        mPlan.count = outputs[0].elementCount();
        if (mPlan.count != rois[0] * x[1] * mPlan.outHeight * mPlan.outWidth)
            return invalidArgument(mName + ": the output " + shapeToString(outputs[0].shape, true) + " does not fit");
        mType = inputs[0].dtype;
        mIndexType = inputs[2].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        return RoiTypes::dispatchStatus(mType, unsupported(mName + ": no CUDA RoiAlign for " + dataTypeName(mType)),
                                        [&](auto tag) -> Status {
            using T = decltype(tag);
            const T* x = static_cast<const T*>(io.input(0).data);
            const T* rois = static_cast<const T*>(io.input(1).data);
            T* out = static_cast<T*>(io.output(0).data);
            const unsigned grid = elementwiseGrid(mPlan.count);
            if (mIndexType == DataType::kINT32)
                roiAlignKernel<T, int32_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    x, rois, static_cast<const int32_t*>(io.input(2).data), out, mPlan);
            else
                roiAlignKernel<T, int64_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    x, rois, static_cast<const int64_t*>(io.input(2).data), out, mPlan);
            return launchStatus("roiAlignKernel");
        });
    }

    std::string tacticName() const override { return "cuda.roi_align"; }

private:
    std::string mName;
    RoiAlignPlan mPlan;
    DataType mType{DataType::kFLOAT};
    DataType mIndexType{DataType::kINT64};
};

bool roiAlignSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 2, RoiTypes::types(), reason)) return false;
    const Value* indices = node.input(2);
    if (!indices || (indices->dtype != DataType::kINT32 && indices->dtype != DataType::kINT64)) {
        if (reason) *reason = "RoiAlign's batch_indices must be int32 or int64";
        return false;
    }
    const std::string mode = node.attrs.getString("mode", "avg");
    if (mode != "avg" && mode != "max") {
        if (reason) *reason = "RoiAlign mode '" + mode + "' is not avg or max";
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------- Col2Im

constexpr int kMaxCol2ImDims = 4;

struct Col2ImPlan {
    int dims{0};
    int64_t image[kMaxCol2ImDims]{};
    int64_t block[kMaxCol2ImDims]{};
    int64_t positions[kMaxCol2ImDims]{};
    int64_t strides[kMaxCol2ImDims]{};
    int64_t dilations[kMaxCol2ImDims]{};
    int64_t padsBegin[kMaxCol2ImDims]{};
    int64_t blockCount{1};
    int64_t windows{1};
    int64_t imagePlane{1};
    int64_t count{0};  // output elements
};

template <typename T>
__global__ void col2ImKernel(const T* in, T* out, Col2ImPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        const int64_t bc = i / plan.imagePlane;  // batch * channels + channel
        int64_t at[kMaxCol2ImDims];
        int64_t rest = i % plan.imagePlane;
        for (int d = plan.dims - 1; d >= 0; --d) {
            at[d] = rest % plan.image[d];
            rest /= plan.image[d];
        }
        // Column row (batch, channel, k) starts at bc * blockCount + k, since rows are channel-major.
        const T* rows = in + bc * plan.blockCount * plan.windows;
        double acc = 0;
        for (int64_t k = 0; k < plan.blockCount; ++k) {
            int64_t kr = k, window = 0;
            int64_t offsets[kMaxCol2ImDims];
            for (int d = plan.dims - 1; d >= 0; --d) {
                offsets[d] = kr % plan.block[d];
                kr /= plan.block[d];
            }
            bool hit = true;
            for (int d = 0; d < plan.dims && hit; ++d) {
                // at = w * stride - pad + offset * dilation, for a window position w in [0, positions).
                const int64_t shifted = at[d] + plan.padsBegin[d] - offsets[d] * plan.dilations[d];
                const int64_t w = shifted / plan.strides[d];
                hit = shifted >= 0 && shifted % plan.strides[d] == 0 && w < plan.positions[d];
                window = window * plan.positions[d] + w;
            }
            if (hit) acc += static_cast<double>(load(rows[k * plan.windows + window]));
        }
        out[i] = storeDouble<T>(acc);
    }
}

class Col2ImKernel : public Kernel {
public:
    explicit Col2ImKernel(const Node& node) : mName(node.describe()), mAttrs(node.attrs), mBlockShape(node.input(2)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        mType = inputs[0].dtype;
        if (mOutShape.size() < 3 || mOutShape.size() > 2 + kMaxCol2ImDims)
            return unsupported(mName + ": the CUDA Col2Im handles 1 to 4 image axes");
        if (mInShape.size() != 3) return invalidArgument(mName + ": the input must be N x (C * prod(block)) x L");
        mPlanned = false;
        if (!mBlockShape.knownBeforeRun(inputs[2])) return Status::ok();
        KILN_ASSIGN_OR_RETURN(std::vector<int64_t> block, mBlockShape.read(inputs[2], nullptr, mName + ": block_shape"));
        KILN_RETURN_IF_ERROR(plan(block));
        mPlanned = true;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mPlanned) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> block, mBlockShape.read(io.input(2), stream, mName + ": block_shape"));
            KILN_RETURN_IF_ERROR(plan(block));
        }
        if (mPlan.count == 0) return Status::ok();
        return RoiTypes::dispatchStatus(mType, unsupported(mName + ": no CUDA Col2Im for " + dataTypeName(mType)),
                                        [&](auto tag) -> Status {
            using T = decltype(tag);
            col2ImKernel<T><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mPlan);
            return launchStatus("col2ImKernel");
        });
    }

    bool isCapturable(std::string* reason) const override {
        if (mPlanned) return true;
        if (reason) *reason = "its block_shape is computed during the run and read back to the host";
        return false;
    }

    std::string tacticName() const override { return "cuda.col2im"; }

private:
    Status plan(const std::vector<int64_t>& block) {
        const size_t n = mOutShape.size() - 2;
        if (block.size() != n)
            return invalidArgument(mName + ": block_shape has " + std::to_string(block.size()) + " entries for " +
                                   std::to_string(n) + " image axes");
        const std::vector<int64_t> strides = mAttrs.getInts("strides", std::vector<int64_t>(n, 1));
        const std::vector<int64_t> dilations = mAttrs.getInts("dilations", std::vector<int64_t>(n, 1));
        const std::vector<int64_t> pads = mAttrs.getInts("pads", std::vector<int64_t>(2 * n, 0));
        if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n)
            return invalidArgument(mName + ": strides, dilations and pads must have one (pads: two) entries per image axis");
        mPlan = Col2ImPlan{};
        mPlan.dims = static_cast<int>(n);
        for (size_t d = 0; d < n; ++d) {
            if (strides[d] < 1 || dilations[d] < 1 || block[d] < 1)
                return invalidArgument(mName + ": strides, dilations and block_shape must be positive");
            mPlan.image[d] = mOutShape[2 + d];
            mPlan.block[d] = block[d];
            mPlan.strides[d] = strides[d];
            mPlan.dilations[d] = dilations[d];
            mPlan.padsBegin[d] = pads[d];
            mPlan.positions[d] =
                (mPlan.image[d] + pads[d] + pads[n + d] - (dilations[d] * (block[d] - 1) + 1)) / strides[d] + 1;
            mPlan.blockCount *= block[d];
            mPlan.windows *= mPlan.positions[d];
            mPlan.imagePlane *= mPlan.image[d];
        }
        const int64_t channels = mOutShape[1];
        if (mInShape[0] != mOutShape[0] || mInShape[1] != channels * mPlan.blockCount || mInShape[2] != mPlan.windows)
            return invalidArgument(mName + ": input " + shapeToString(mInShape, true) + " does not hold " +
                                   std::to_string(mPlan.windows) + " blocks of " + std::to_string(mPlan.blockCount) +
                                   " for " + std::to_string(channels) + " channels");
        mPlan.count = shapeElementCount(mOutShape);
        return Status::ok();
    }

    std::string mName;
    AttributeMap mAttrs;
    IndexInput mBlockShape;
    Shape mInShape, mOutShape;
    DataType mType{DataType::kFLOAT};
    bool mPlanned{false};
    Col2ImPlan mPlan;
};

bool col2ImSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1, RoiTypes::types(), reason)) return false;
    const Value* block = node.input(2);
    if (!block || block->dtype != DataType::kINT64) {
        if (reason) *reason = "Col2Im's block_shape must be int64";
        return false;
    }
    return true;
}

}  // namespace

void registerImageGeometryKernels(CudaKernelRegistry& registry) {
    registry.add({"RoiAlign", roiAlignSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<RoiAlignKernel>(node));
                  }});
    registry.add({"Col2Im", col2ImSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<Col2ImKernel>(node));
                  }});
}

}  // namespace kiln::cuda
