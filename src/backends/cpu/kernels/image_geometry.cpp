// CPU kernels of the image ops that move pixels by geometry: AffineGrid, RoiAlign (average or max
// of bilinear samples per bin), Col2Im (sums sliding blocks back into an image) and CenterCropPad.
// Each follows ONNX's reference implementation; arithmetic is in double.

#include <cmath>
#include <cstring>

#include "backends/cpu/kernels/element_access.h"
#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/image_parts.h"

namespace kiln::imagekernels {

namespace {

using cpu::storeAt;
using cpu::valueAt;

class AffineGridKernel : public Kernel {
public:
    explicit AffineGridKernel(bool alignCorners) : mAlignCorners(alignCorners) {}
    std::string tacticName() const override { return "cpu.affine_grid"; }
    Status run(const KernelIO& io) override {
        const TensorView& theta = io.input(0);
        const TensorView& out = io.output(0);
        const size_t spatial = out.shape.size() - 2;  // 2 (H, W) or 3 (D, H, W)
        if (theta.shape[1] != static_cast<int64_t>(spatial) || theta.shape[2] != static_cast<int64_t>(spatial) + 1)
            return invalidArgument("theta " + shapeToString(theta.shape, true) + " does not fit a " + std::to_string(spatial) + "-D grid");
        const Shape extents(out.shape.begin() + 1, out.shape.end() - 1);
        const int64_t points = shapeElementCount(extents);
        auto base = [&](int64_t i, int64_t length) {
            if (mAlignCorners) return length == 1 ? -1.0 : -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(length - 1);
            return -1.0 + (2.0 * static_cast<double>(i) + 1.0) / static_cast<double>(length);
        };
        for (int64_t n = 0; n < out.shape[0]; ++n)
            for (int64_t p = 0; p < points; ++p) {
                // Homogeneous coordinate (x, y[, z], 1): x runs along the last axis.
                std::vector<double> h(spatial + 1, 1.0);
                int64_t rest = p;
                for (size_t a = spatial; a-- > 0;) {
                    int64_t i = rest % extents[a];
                    rest /= extents[a];
                    h[spatial - 1 - a] = base(i, extents[a]);
                }
                for (size_t r = 0; r < spatial; ++r) {
                    double v = 0;
                    for (size_t c = 0; c <= spatial; ++c)
                        v += valueAt(theta, (n * static_cast<int64_t>(spatial) + static_cast<int64_t>(r)) * static_cast<int64_t>(spatial + 1) + static_cast<int64_t>(c)) * h[c];
                    storeAt(out, (n * points + p) * static_cast<int64_t>(spatial) + static_cast<int64_t>(r), v);
                }
            }
        return Status::ok();
    }

private:
    bool mAlignCorners;
};

class RoiAlignKernel : public Kernel {
public:
    RoiAlignKernel(bool maxMode, bool halfPixel, int64_t height, int64_t width, int64_t samplingRatio, double spatialScale)
        : mMax(maxMode), mHalfPixel(halfPixel), mHeight(height), mWidth(width), mSamplingRatio(samplingRatio), mScale(spatialScale) {}
    std::string tacticName() const override { return "cpu.roi_align"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& rois = io.input(1);
        const TensorView& batchIndices = io.input(2);
        const TensorView& out = io.output(0);
        const int64_t batch = x.shape[0], channels = x.shape[1], H = x.shape[2], W = x.shape[3];
        const int64_t count = rois.shape[0];
        if (rois.shape[1] != 4) return invalidArgument("rois must have 4 columns, got " + std::to_string(rois.shape[1]));
        for (int64_t r = 0; r < count; ++r) {
            const int64_t b = batchIndices.dtype == DataType::kINT32 ? batchIndices.as<const int32_t>()[r] : batchIndices.as<const int64_t>()[r];
            if (b < 0 || b >= batch) return invalidArgument("batch index " + std::to_string(b) + " of roi " + std::to_string(r) + " is outside [0, " + std::to_string(batch) + ")");
            const double offset = mHalfPixel ? 0.5 : 0.0;
            const double x1 = valueAt(rois, r * 4) * mScale - offset, y1 = valueAt(rois, r * 4 + 1) * mScale - offset;
            const double x2 = valueAt(rois, r * 4 + 2) * mScale - offset, y2 = valueAt(rois, r * 4 + 3) * mScale - offset;
            double roiW = x2 - x1, roiH = y2 - y1;
            if (!mHalfPixel) {
                roiW = std::max(roiW, 1.0);
                roiH = std::max(roiH, 1.0);
            }
            const double binH = roiH / static_cast<double>(mHeight), binW = roiW / static_cast<double>(mWidth);
            const int64_t gridH = mSamplingRatio > 0 ? mSamplingRatio : static_cast<int64_t>(std::ceil(roiH / static_cast<double>(mHeight)));
            const int64_t gridW = mSamplingRatio > 0 ? mSamplingRatio : static_cast<int64_t>(std::ceil(roiW / static_cast<double>(mWidth)));
            const double samples = static_cast<double>(std::max<int64_t>(gridH * gridW, 1));
            for (int64_t c = 0; c < channels; ++c) {
                const int64_t plane = (b * channels + c) * H * W;
                for (int64_t ph = 0; ph < mHeight; ++ph)
                    for (int64_t pw = 0; pw < mWidth; ++pw) {
                        double acc = 0;
                        bool first = true;
                        for (int64_t iy = 0; iy < gridH; ++iy) {
                            double y = y1 + static_cast<double>(ph) * binH + (static_cast<double>(iy) + 0.5) * binH / static_cast<double>(gridH);
                            for (int64_t ix = 0; ix < gridW; ++ix) {
                                double xx = x1 + static_cast<double>(pw) * binW + (static_cast<double>(ix) + 0.5) * binW / static_cast<double>(gridW);
                                double w[4] = {0, 0, 0, 0};
                                int64_t pos[4] = {0, 0, 0, 0};
                                if (!(y < -1.0 || y > static_cast<double>(H) || xx < -1.0 || xx > static_cast<double>(W))) {
                                    double yy = std::max(y, 0.0), xc = std::max(xx, 0.0);
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
                                    double ly = yy - static_cast<double>(yLow), lx = xc - static_cast<double>(xLow);
                                    double hy = 1 - ly, hx = 1 - lx;
                                    w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
                                    pos[0] = yLow * W + xLow, pos[1] = yLow * W + xHigh, pos[2] = yHigh * W + xLow, pos[3] = yHigh * W + xHigh;
                                }
                                if (mMax) {
                                    double v = w[0] * valueAt(x, plane + pos[0]);
                                    for (int k = 1; k < 4; ++k) v = std::max(v, w[k] * valueAt(x, plane + pos[k]));
                                    acc = first ? v : std::max(acc, v);
                                    first = false;
                                } else {
                                    for (int k = 0; k < 4; ++k) acc += w[k] * valueAt(x, plane + pos[k]);
                                }
                            }
                        }
                        storeAt(out, ((r * channels + c) * mHeight + ph) * mWidth + pw, mMax ? acc : acc / samples);
                    }
            }
        }
        return Status::ok();
    }

private:
    bool mMax, mHalfPixel;
    int64_t mHeight, mWidth, mSamplingRatio;
    double mScale;
};

class Col2ImKernel : public Kernel {
public:
    explicit Col2ImKernel(AttributeMap attrs) : mAttrs(std::move(attrs)) {}
    std::string tacticName() const override { return "cpu.col2im"; }
    Status run(const KernelIO& io) override {
        const TensorView& in = io.input(0);
        const TensorView& out = io.output(0);
        const TensorView& blockView = io.input(2);
        const size_t n = out.shape.size() - 2;
        std::vector<int64_t> image(out.shape.begin() + 2, out.shape.end());
        std::vector<int64_t> block(blockView.as<const int64_t>(), blockView.as<const int64_t>() + blockView.elementCount());
        if (block.size() != n) return invalidArgument("block_shape has " + std::to_string(block.size()) + " entries for " + std::to_string(n) + " image axes");
        std::vector<int64_t> strides = mAttrs.getInts("strides", std::vector<int64_t>(n, 1));
        std::vector<int64_t> dilations = mAttrs.getInts("dilations", std::vector<int64_t>(n, 1));
        std::vector<int64_t> pads = mAttrs.getInts("pads", std::vector<int64_t>(2 * n, 0));
        if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n)
            return invalidArgument("strides, dilations and pads must have one (pads: two) entries per image axis");
        std::vector<int64_t> positions(n);
        int64_t blockCount = 1, windows = 1;
        for (size_t d = 0; d < n; ++d) {
            positions[d] = (image[d] + pads[d] + pads[n + d] - (dilations[d] * (block[d] - 1) + 1)) / strides[d] + 1;
            blockCount *= block[d];
            windows *= positions[d];
        }
        const int64_t channels = out.shape[1];
        if (in.shape[1] != channels * blockCount || in.shape[2] != windows)
            return invalidArgument("input " + shapeToString(in.shape, true) + " does not hold " + std::to_string(windows) + " blocks of " +
                                   std::to_string(blockCount) + " for " + std::to_string(channels) + " channels");
        const int64_t imagePlane = shapeElementCount(Shape(image.begin(), image.end()));
        std::vector<double> acc(static_cast<size_t>(out.elementCount()), 0.0);
        std::vector<int64_t> b(n), w(n);
        for (int64_t batch = 0; batch < out.shape[0]; ++batch)
            for (int64_t c = 0; c < channels; ++c)
                for (int64_t k = 0; k < blockCount; ++k) {
                    for (size_t d = n, rest = static_cast<size_t>(k); d-- > 0;) {
                        b[d] = static_cast<int64_t>(rest) % block[d];
                        rest /= static_cast<size_t>(block[d]);
                    }
                    for (int64_t l = 0; l < windows; ++l) {
                        int64_t rest = l, offset = 0;
                        bool inside = true;
                        for (size_t d = n; d-- > 0;) {
                            w[d] = rest % positions[d];
                            rest /= positions[d];
                        }
                        for (size_t d = 0; d < n && inside; ++d) {
                            int64_t at = w[d] * strides[d] - pads[d] + b[d] * dilations[d];
                            inside = at >= 0 && at < image[d];
                            offset = offset * image[d] + at;
                        }
                        if (!inside) continue;
                        acc[static_cast<size_t>((batch * channels + c) * imagePlane + offset)] +=
                            valueAt(in, ((batch * channels * blockCount) + c * blockCount + k) * windows + l);
                    }
                }
        for (size_t i = 0; i < acc.size(); ++i) storeAt(out, static_cast<int64_t>(i), acc[i]);
        return Status::ok();
    }

private:
    AttributeMap mAttrs;
};

/// CenterCropPad: a centered window of the input (crop) inside a centered window of the zeroed
/// output (pad), per axis.
class CenterCropPadKernel : public Kernel {
public:
    std::string tacticName() const override { return "cpu.center_crop_pad"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        const size_t rank = x.shape.size();
        std::vector<int64_t> srcStart(rank, 0), dstStart(rank, 0), extent(rank);
        for (size_t a = 0; a < rank; ++a) {
            const int64_t in = x.shape[a], out = y.shape[a];
            extent[a] = std::min(in, out);
            if (in > out) srcStart[a] = (in - out) / 2;
            if (out > in) dstStart[a] = (out - in) / 2;
        }
        const size_t element = dataTypeSize(x.dtype);
        if (y.byteSize() != 0) std::memset(y.data, 0, y.byteSize());
        const int64_t total = shapeElementCount(Shape(extent.begin(), extent.end()));
        const auto* src = static_cast<const uint8_t*>(x.data);
        auto* dst = static_cast<uint8_t*>(y.data);
        for (int64_t e = 0; e < total; ++e) {
            int64_t rest = e, from = 0, to = 0;
            std::vector<int64_t> index(rank);
            for (size_t a = rank; a-- > 0;) {
                index[a] = rest % extent[a];
                rest /= extent[a];
            }
            for (size_t a = 0; a < rank; ++a) {
                from = from * x.shape[a] + srcStart[a] + index[a];
                to = to * y.shape[a] + dstStart[a] + index[a];
            }
            std::memcpy(dst + static_cast<size_t>(to) * element, src + static_cast<size_t>(from) * element, element);
        }
        return Status::ok();
    }
};

}  // namespace

void registerGeometryKernels(CpuKernelRegistry& registry) {
    registry.add({"AffineGrid", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<AffineGridKernel>(node.attrs.getInt("align_corners", 0) != 0));
                  },
                  ""});
    registry.add({"RoiAlign", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<RoiAlignKernel>(
                          node.attrs.getString("mode", "avg") == "max", node.attrs.getString("coordinate_transformation_mode", "half_pixel") == "half_pixel",
                          node.attrs.getInt("output_height", 1), node.attrs.getInt("output_width", 1), node.attrs.getInt("sampling_ratio", 0),
                          node.attrs.getFloat("spatial_scale", 1.0f)));
                  },
                  ""});
    registry.add({"Col2Im", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<Col2ImKernel>(node.attrs)); },
                  ""});
    registry.add({"CenterCropPad", nullptr,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<CenterCropPadKernel>()); },
                  ""});
}

}  // namespace kiln::imagekernels
