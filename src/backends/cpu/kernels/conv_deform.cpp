// DeformConv on the CPU, for any number of spatial axes: a deformable im2col followed by one
// product per group. Each kernel tap of each output position samples its input channel at the
// tap's regular position plus a learned fractional offset (shared by the channels of one offset
// group), by multilinear interpolation in which every corner outside the input reads zero, and is
// scaled by the mask when there is one. That is ONNX's reference (GridSample, linear,
// align_corners = 1, zeros padding, at the offset position) and torchvision's deform_conv2d.
// float16 and bfloat16 are computed in float through copies in the workspace.

#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/conv_common.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "ir/ops/conv_window.h"

namespace kiln {

namespace {

using cpu::kMaxConvSpatialRank;

/// The sizes of one run, fixed at reshape.
struct DeformGeometry {
    int64_t batch{0}, channels{0}, outChannels{0};
    int64_t taps{1};       // kernel elements per channel
    int64_t positions{1};  // output elements per channel
    int64_t inputPlane{1};
    Shape input, output;  // spatial extents
    Shape padBegin;
};

class DeformConvKernel : public Kernel {
public:
    DeformConvKernel(DataType type, WindowSpec spec, int64_t group, int64_t offsetGroup, bool hasBias, bool hasMask)
        : mType(type),
          mSpec(std::move(spec)),
          mGroup(group),
          mOffsetGroup(offsetGroup),
          mHasBias(hasBias),
          mHasMask(hasMask) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        const Shape& x = in[0].shape;
        const size_t n = x.size() - 2;
        DeformGeometry g;
        g.batch = x[0];
        g.channels = x[1];
        g.outChannels = in[1].shape[0];
        g.taps = shapeElementCount(mSpec.kernel);
        g.input.assign(x.begin() + 2, x.end());
        g.inputPlane = shapeElementCount(g.input);
        for (size_t d = 0; d < n; ++d) {
            AxisWindow window = forwardWindow(mSpec, d, x[2 + d]);
            g.output.push_back(window.output);
            g.padBegin.push_back(window.padBegin);
        }
        g.positions = shapeElementCount(g.output);
        if (g.channels % mGroup != 0 || g.channels % mOffsetGroup != 0 || g.outChannels % mGroup != 0 ||
            in[1].shape[1] * mGroup != g.channels)
            return invalidArgument("the channels of X " + shapeToString(x, true) + " and W " +
                                   shapeToString(in[1].shape, true) + " do not fit group " + std::to_string(mGroup) +
                                   " and offset_group " + std::to_string(mOffsetGroup));
        Shape offset{g.batch, mOffsetGroup * g.taps * static_cast<int64_t>(n)};
        offset.insert(offset.end(), g.output.begin(), g.output.end());
        if (in[2].shape != offset)
            return invalidArgument("offset is " + shapeToString(in[2].shape, true) + "; expected " +
                                   shapeToString(offset, true));
        if (mHasMask) {
            Shape mask = offset;
            mask[1] = mOffsetGroup * g.taps;
            if (in[4].shape != mask)
                return invalidArgument("mask is " + shapeToString(in[4].shape, true) + "; expected " +
                                       shapeToString(mask, true));
        }
        Shape y{g.batch, g.outChannels};
        y.insert(y.end(), g.output.begin(), g.output.end());
        if (out[0].shape != y)
            return invalidArgument("the output is " + shapeToString(out[0].shape, true) + "; expected " +
                                   shapeToString(y, true));
        mWorkspaceCounts = {in[1].elementCount(), in[2].elementCount(), mHasMask ? in[4].elementCount() : 0};
        mGeometry = std::move(g);
        mWorkspace = carve(nullptr).used();
        return Status::ok();
    }

    size_t workspaceSize() const override { return mWorkspace; }

    Status run(const KernelIO& io) override {
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
                compute<T>(io, io.input(0).as<const T>(), io.input(1).as<const T>(), io.input(2).as<const T>(),
                           mHasBias ? io.input(3).as<const T>() : nullptr,
                           mHasMask ? io.input(4).as<const T>() : nullptr, io.output(0).as<T>());
                return Status::ok();
            } else if constexpr (cpu::kComputesThroughFloat<T>) {
                Staged s = carve(io.workspace);
                float* const copies[] = {s.x, s.w, s.offset, s.bias, s.mask};
                for (size_t i = 0; i < 5; ++i)
                    if (copies[i]) cpu::toFloat(io.input(i).as<const T>(), copies[i], io.input(i).elementCount());
                compute<float>(io, s.x, s.w, s.offset, s.bias, s.mask, s.y);
                cpu::fromFloat(s.y, io.output(0).as<T>(), io.output(0).elementCount());
                return Status::ok();
            } else {
                return internalError(std::string("no DeformConv kernel for ") + dataTypeName(mType));
            }
        });
    }

    std::string tacticName() const override { return "cpu.deform_conv_im2col"; }

private:
    /// Workspace buffers: float copies of the I/O (float16 / bfloat16 only), then the columns.
    struct Staged {
        float *x{nullptr}, *w{nullptr}, *offset{nullptr}, *bias{nullptr}, *mask{nullptr}, *y{nullptr};
        void* col{nullptr};
        size_t usedBytes{0};
        size_t used() const { return usedBytes; }
    };

    /// Element counts of W, offset and mask (0 without one), for the staged copies.
    struct WorkspaceCounts {
        int64_t w{0}, offset{0}, mask{0};
    };

    Staged carve(void* base) const {
        cpu::WorkspaceCarver carver(base);
        Staged s;
        const bool staged = mType == DataType::kHALF || mType == DataType::kBF16;
        const DeformGeometry& g = mGeometry;
        if (staged) {
            s.x = carver.take<float>(g.batch * g.channels * g.inputPlane);
            s.w = carver.take<float>(mWorkspaceCounts.w);
            s.offset = carver.take<float>(mWorkspaceCounts.offset);
            if (mHasBias) s.bias = carver.take<float>(g.outChannels);
            if (mHasMask) s.mask = carver.take<float>(mWorkspaceCounts.mask);
            s.y = carver.take<float>(g.batch * g.outChannels * g.positions);
        }
        const int64_t colCount = g.channels * g.taps * g.positions;
        s.col = mType == DataType::kDOUBLE ? static_cast<void*>(carver.take<double>(colCount))
                                           : static_cast<void*>(carver.take<float>(colCount));
        s.usedBytes = carver.used();
        return s;
    }

    /// The multilinear sample of `plane` (the input's spatial extents) at `coord`; corners outside
    /// the plane read zero.
    template <typename F>
    F sample(const F* plane, const double* coord) const {
        const size_t n = mGeometry.input.size();
        int64_t low[kMaxConvSpatialRank];
        double frac[kMaxConvSpatialRank];
        for (size_t d = 0; d < n; ++d) {
            const double floor = std::floor(coord[d]);
            low[d] = static_cast<int64_t>(floor);
            frac[d] = coord[d] - floor;
        }
        double value = 0;
        for (uint32_t corner = 0; corner < (1u << n); ++corner) {
            double weight = 1;
            int64_t offset = 0;
            bool inside = true;
            for (size_t d = 0; d < n && inside; ++d) {
                const bool high = (corner >> d) & 1u;
                const int64_t index = low[d] + (high ? 1 : 0);
                inside = index >= 0 && index < mGeometry.input[d];
                weight *= high ? frac[d] : 1 - frac[d];
                offset = offset * mGeometry.input[d] + index;
            }
            if (inside && weight != 0) value += weight * static_cast<double>(plane[offset]);
        }
        return static_cast<F>(value);
    }

    /// Fills the column matrix of image `b`: row (c, tap), column position.
    template <typename F>
    void fillColumns(int64_t b, const F* x, const F* offset, const F* mask, F* col) const {
        const DeformGeometry& g = mGeometry;
        const size_t n = g.input.size();
        const int64_t channelsPerOffsetGroup = g.channels / mOffsetGroup;
#pragma omp parallel for schedule(static) if (g.channels * g.taps * g.positions >= cpu::kParallelWork)
        for (int64_t row = 0; row < g.channels * g.taps; ++row) {
            const int64_t c = row / g.taps, tap = row % g.taps;
            const int64_t og = c / channelsPerOffsetGroup;
            int64_t tapIndex[kMaxConvSpatialRank];
            for (size_t d = n, rest = static_cast<size_t>(tap); d-- > 0;) {
                tapIndex[d] = static_cast<int64_t>(rest) % mSpec.kernel[d];
                rest /= static_cast<size_t>(mSpec.kernel[d]);
            }
            const F* plane = x + (b * g.channels + c) * g.inputPlane;
            // offset viewed as (N, offset_group, taps, n, positions); mask as (N, offset_group, taps, positions).
            const F* tapOffsets =
                offset + ((b * mOffsetGroup + og) * g.taps + tap) * static_cast<int64_t>(n) * g.positions;
            const F* tapMask = mask ? mask + ((b * mOffsetGroup + og) * g.taps + tap) * g.positions : nullptr;
            F* out = col + row * g.positions;
            for (int64_t p = 0; p < g.positions; ++p) {
                double coord[kMaxConvSpatialRank];
                for (size_t d = n, rest = static_cast<size_t>(p); d-- > 0;) {
                    const int64_t o = static_cast<int64_t>(rest) % g.output[d];
                    rest /= static_cast<size_t>(g.output[d]);
                    coord[d] =
                        static_cast<double>(o * mSpec.strides[d] - g.padBegin[d] + tapIndex[d] * mSpec.dilations[d]) +
                        static_cast<double>(tapOffsets[static_cast<int64_t>(d) * g.positions + p]);
                }
                const F value = sample(plane, coord);
                out[p] = tapMask ? value * tapMask[p] : value;
            }
        }
    }

    template <typename F>
    void compute(const KernelIO& io, const F* x, const F* w, const F* offset, const F* bias, const F* mask,
                 F* y) const {
        const DeformGeometry& g = mGeometry;
        F* col = static_cast<F*>(carve(io.workspace).col);
        const int64_t inPerGroup = g.channels / mGroup, outPerGroup = g.outChannels / mGroup;
        const int64_t depth = inPerGroup * g.taps;  // W's row length: (C / group) x taps
        for (int64_t b = 0; b < g.batch; ++b) {
            fillColumns(b, x, offset, mask, col);
#pragma omp parallel for schedule(static) if (g.outChannels * depth * g.positions >= cpu::kParallelWork)
            for (int64_t oc = 0; oc < g.outChannels; ++oc) {
                const int64_t group = oc / outPerGroup;
                F* out = y + (b * g.outChannels + oc) * g.positions;
                const F start = bias ? bias[oc] : F(0);
                for (int64_t p = 0; p < g.positions; ++p) out[p] = start;
                const F* weights = w + oc * depth;
                const F* rows = col + group * depth * g.positions;
                for (int64_t k = 0; k < depth; ++k) {
                    const F weight = weights[k];
                    const F* row = rows + k * g.positions;
                    for (int64_t p = 0; p < g.positions; ++p) out[p] += weight * row[p];
                }
            }
        }
    }

    DataType mType;
    WindowSpec mSpec;
    int64_t mGroup;
    int64_t mOffsetGroup;
    bool mHasBias;
    bool mHasMask;
    DeformGeometry mGeometry;
    WorkspaceCounts mWorkspaceCounts;
    size_t mWorkspace{0};
};

bool supportsDeformConv(const Node& node, std::string* reason) {
    if (!inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}, reason))
        return false;
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank - 2 > kMaxConvSpatialRank) {
        if (reason) *reason = "DeformConv handles 1 to " + std::to_string(kMaxConvSpatialRank) + " spatial axes";
        return false;
    }
    return true;
}

Expected<std::unique_ptr<Kernel>> createDeformConv(const Node& node) {
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank - 2 > kMaxConvSpatialRank)
        return unsupported(node.describe() + ": DeformConv handles 1 to " + std::to_string(kMaxConvSpatialRank) +
                           " spatial axes");
    auto spec = parseWindowSpec(node.attrs, rank - 2, cpu::declaredKernel(node), WindowKind::kConvolution);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    if (spec->kernel.empty())
        return unsupported(node.describe() + ": the kernel shape must be known when the engine is built");
    const bool hasBias = node.inputs.size() > 3 && node.inputs[3];
    const bool hasMask = node.inputs.size() > 4 && node.inputs[4];
    return std::unique_ptr<Kernel>(new DeformConvKernel(node.input(0)->dtype, std::move(spec).value(),
                                                        node.attrs.getInt("group", 1),
                                                        node.attrs.getInt("offset_group", 1), hasBias, hasMask));
}

}  // namespace

namespace cpu {

void registerDeformConvKernels(CpuKernelRegistry& registry) {
    registry.add({"DeformConv", supportsDeformConv, createDeformConv, ""});
}

}  // namespace cpu

}  // namespace kiln
