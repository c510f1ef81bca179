// Pad in every mode (constant, reflect, edge, wrap), with the opset-18 axes input and negative pads
// (crops), on any element type (moved as 1, 2, 4 or 8-byte words). One thread per output element maps
// each of its coordinates back to the input, with the CPU kernel's rules (reflect is numpy's: periodic
// with period 2(n-1), the edge not repeated). The constant is read on the device from input 2, so the
// run never waits for it; pads and axes are planned once when they are graph constants.

#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/index_values.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

enum class PadMode : int { kConstant, kReflect, kEdge, kWrap };

constexpr int kMaxPadRank = 8;

struct PadPlan {
    int rank{0};
    int64_t outDims[kMaxPadRank]{};
    int64_t inDims[kMaxPadRank]{};
    int64_t inStrides[kMaxPadRank]{};
    int64_t begin[kMaxPadRank]{};  // output coordinate of input coordinate 0, per dim
    int64_t count{0};
};

/// Input coordinate of output coordinate `s` - begin (may be outside [0, n)) along an axis of extent
/// n > 0, or -1 for "the constant".
template <PadMode kMode>
__device__ __forceinline__ int64_t padSource(int64_t s, int64_t n) {
    if constexpr (kMode == PadMode::kConstant) {
        return s >= 0 && s < n ? s : -1;
    } else if constexpr (kMode == PadMode::kEdge) {
        return s < 0 ? 0 : s >= n ? n - 1 : s;
    } else if constexpr (kMode == PadMode::kWrap) {
        return ((s % n) + n) % n;
    } else {
        if (n == 1) return 0;
        const int64_t period = 2 * (n - 1);
        const int64_t m = ((s % period) + period) % period;
        return m < n ? m : period - m;
    }
}

template <typename Word, PadMode kMode>
__global__ void padKernel(const Word* in, Word* out, const Word* constant, PadPlan plan) {
    const Word fill = constant ? *constant : Word{0};
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        int64_t rest = i;
        int64_t offset = 0;
        bool inside = true;
        for (int d = plan.rank - 1; d >= 0; --d) {
            const int64_t coord = rest % plan.outDims[d];
            rest /= plan.outDims[d];
            const int64_t source = padSource<kMode>(coord - plan.begin[d], plan.inDims[d]);
            if (source < 0) inside = false;
            offset += source * plan.inStrides[d];
        }
        out[i] = inside ? in[offset] : fill;
    }
}

template <typename Word>
void launchPad(PadMode mode, const void* in, void* out, const void* constant, const PadPlan& plan,
               cudaStream_t stream) {
    const Word* src = static_cast<const Word*>(in);
    Word* dst = static_cast<Word*>(out);
    const Word* fill = static_cast<const Word*>(constant);
    const unsigned grid = elementwiseGrid(plan.count);
    switch (mode) {
        case PadMode::kConstant:
            padKernel<Word, PadMode::kConstant><<<grid, kElementwiseBlock, 0, stream>>>(src, dst, fill, plan);
            break;
        case PadMode::kReflect:
            padKernel<Word, PadMode::kReflect><<<grid, kElementwiseBlock, 0, stream>>>(src, dst, fill, plan);
            break;
        case PadMode::kEdge:
            padKernel<Word, PadMode::kEdge><<<grid, kElementwiseBlock, 0, stream>>>(src, dst, fill, plan);
            break;
        case PadMode::kWrap:
            padKernel<Word, PadMode::kWrap><<<grid, kElementwiseBlock, 0, stream>>>(src, dst, fill, plan);
            break;
    }
}

class PadKernel : public Kernel {
public:
    PadKernel(const Node& node, PadMode mode)
        : mMode(mode), mPads(node.input(1)), mAxes(node.input(3)), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        mElementSize = dataTypeSize(inputs[0].dtype);
        if (mInShape.size() != mOutShape.size()) return invalidArgument(mName + ": output rank differs from the input's");
        if (mInShape.size() > kMaxPadRank) return unsupported(mName + ": the CUDA Pad handles rank <= 8");
        mResolved = false;
        // Constant pads and axes (the usual case) are planned once here; computed ones at each run.
        if ((mPads.present() && !mPads.isConstant()) || (mAxes.present() && !mAxes.isConstant())) return Status::ok();
        return resolve(TensorView{}, TensorView{}, nullptr);
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mResolved) {
            KILN_RETURN_IF_ERROR(resolve(io.input(1), io.hasInput(3) ? io.input(3) : TensorView{}, stream));
            mResolved = false;  // computed values may differ on the next run
        }
        if (mPlan.count == 0) return Status::ok();
        // An empty constant_value means the default, 0.
        const void* constant = io.hasInput(2) && io.input(2).elementCount() == 1 ? io.input(2).data : nullptr;
        const void* in = io.input(0).data;
        void* out = io.output(0).data;
        switch (mElementSize) {
            case 1: launchPad<uint8_t>(mMode, in, out, constant, mPlan, stream); break;
            case 2: launchPad<uint16_t>(mMode, in, out, constant, mPlan, stream); break;
            case 4: launchPad<uint32_t>(mMode, in, out, constant, mPlan, stream); break;
            case 8: launchPad<uint64_t>(mMode, in, out, constant, mPlan, stream); break;
            default: return unsupported(mName + ": no CUDA Pad for " + std::to_string(mElementSize) + "-byte elements");
        }
        return launchStatus("padKernel");
    }

    std::string tacticName() const override { return "cuda.pad"; }
    bool isCapturable(std::string* reason) const override {
        if (mResolved) return true;
        if (reason) *reason = "its pads or axes are computed during the run and read back to the host";
        return false;
    }

private:
    Status resolve(const TensorView& padsView, const TensorView& axesView, cudaStream_t stream) {
        const int64_t rank = static_cast<int64_t>(mInShape.size());
        KILN_ASSIGN_OR_RETURN(std::vector<int64_t> pads, mPads.read(padsView, stream, mName + " pads"));
        std::vector<int64_t> axes;
        if (mAxes.present()) {
            KILN_ASSIGN_OR_RETURN(axes, mAxes.read(axesView, stream, mName + " axes"));
        } else {
            for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
        }
        const size_t axisCount = axes.size();
        if (pads.size() != 2 * axisCount)
            return invalidArgument(mName + ": pads must have two entries per padded axis (" +
                                   std::to_string(2 * axisCount) + "), not " + std::to_string(pads.size()));
        mPlan = PadPlan{};
        mPlan.rank = static_cast<int>(rank);
        int64_t stride = 1;
        for (int64_t d = rank - 1; d >= 0; --d) {
            mPlan.outDims[d] = mOutShape[static_cast<size_t>(d)];
            mPlan.inDims[d] = mInShape[static_cast<size_t>(d)];
            mPlan.inStrides[d] = stride;
            stride *= mInShape[static_cast<size_t>(d)];
        }
        for (size_t i = 0; i < axisCount; ++i) {
            auto axis = normalizeAxis(axes[i], rank);
            if (!axis) return invalidArgument(mName + ": axis " + std::to_string(axes[i]) + " is out of range");
            const size_t a = static_cast<size_t>(*axis);
            if (mInShape[a] + pads[i] + pads[i + axisCount] != mOutShape[a])
                return invalidArgument(mName + ": pads of axis " + std::to_string(a) + " do not give the output extent");
            mPlan.begin[a] = pads[i];
        }
        mPlan.count = shapeElementCount(mOutShape);
        for (size_t d = 0; d < mInShape.size(); ++d)
            if (mPlan.count > 0 && mInShape[d] == 0 && mMode != PadMode::kConstant)
                return invalidArgument(mName + ": cannot pad an empty axis except in constant mode");
        mResolved = true;
        return Status::ok();
    }

    PadMode mMode;
    IndexInput mPads;
    IndexInput mAxes;
    std::string mName;
    Shape mInShape, mOutShape;
    size_t mElementSize{4};
    PadPlan mPlan;
    bool mResolved{false};
};

std::optional<PadMode> padMode(const std::string& mode) {
    if (mode == "constant") return PadMode::kConstant;
    if (mode == "reflect") return PadMode::kReflect;
    if (mode == "edge") return PadMode::kEdge;
    if (mode == "wrap") return PadMode::kWrap;
    return std::nullopt;
}

bool padSupported(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    const Value* pads = node.input(1);
    if (!x || !pads) {
        if (reason) *reason = "Pad needs its data and pads inputs";
        return false;
    }
    const size_t size = dataTypeSize(x->dtype);
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        if (reason) *reason = std::string("no CUDA Pad for ") + dataTypeName(x->dtype);
        return false;
    }
    if (const Value* constant = node.input(2); constant && constant->dtype != x->dtype) {
        if (reason) *reason = "Pad's constant_value is not of the data's type";
        return false;
    }
    if (!ranksAtMost(node, kMaxPadRank, reason)) return false;
    const std::string mode = node.attrs.getString("mode", "constant");
    if (!padMode(mode)) {
        if (reason) *reason = "Pad mode '" + mode + "' is not one of constant, reflect, edge, wrap";
        return false;
    }
    return true;
}

}  // namespace

void registerPadKernels(CudaKernelRegistry& registry) {
    registry.add({"Pad", padSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<PadKernel>(node, *padMode(node.attrs.getString("mode", "constant"))));
                  }});
}

}  // namespace kiln::cuda
