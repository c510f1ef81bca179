// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp and ReduceSumSquare on the CPU. The axes fold into the block form
// (outer, reduced, inner) where possible: contiguous rows when inner is 1, row-wise accumulation
// over inner blocks otherwise; other axis sets walk strided odometers.

#include <algorithm>
#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/reduction_common.h"
#include "backends/cpu/kernels/reduction_layout.h"
#include "backends/cpu/kernels/reduction_ops.h"
#include "ir/ops/reduction_axes.h"

namespace kiln {

namespace {

using cpu::ReduceOp;
using cpu::ReductionLayout;

/// Inner positions accumulated together when rows are strided (the accumulators live on the stack).
constexpr int64_t kInnerBlock = 64;

template <ReduceOp Op, typename T>
void reduceBlock(const ReductionLayout& l, const T* x, T* y) {
    using R = cpu::Reducer<Op, T>;
    const int64_t count = l.reduced;
    if (l.inner == 1) {
#pragma omp parallel for schedule(static) if (l.outer * count >= cpu::kReduceParallelWork && l.outer > 1)
        for (int64_t o = 0; o < l.outer; ++o) {
            const T* row = x + o * count;
            typename R::Acc acc = R::init();
            for (int64_t r = 0; r < count; ++r) R::add(acc, row[r]);
            y[o] = R::finish(acc, count);
        }
        return;
    }
    const int64_t blocks = (l.inner + kInnerBlock - 1) / kInnerBlock;
#pragma omp parallel for schedule(static) if (l.outer * count * l.inner >= cpu::kReduceParallelWork && l.outer * blocks > 1)
    for (int64_t item = 0; item < l.outer * blocks; ++item) {
        const int64_t o = item / blocks;
        const int64_t begin = (item % blocks) * kInnerBlock;
        const int64_t width = std::min(kInnerBlock, l.inner - begin);
        typename R::Acc acc[kInnerBlock];
        for (int64_t i = 0; i < width; ++i) acc[i] = R::init();
        const T* base = x + o * count * l.inner + begin;
        for (int64_t r = 0; r < count; ++r) {
            const T* row = base + r * l.inner;
            for (int64_t i = 0; i < width; ++i) R::add(acc[i], row[i]);
        }
        T* out = y + o * l.inner + begin;
        for (int64_t i = 0; i < width; ++i) out[i] = R::finish(acc[i], count);
    }
}

template <ReduceOp Op, typename T>
void reduceGeneral(const ReductionLayout& l, const T* x, T* y) {
    using R = cpu::Reducer<Op, T>;
#pragma omp parallel for schedule(static) if (l.outputCount * l.reduceCount >= cpu::kReduceParallelWork && l.outputCount > 1)
    for (int64_t o = 0; o < l.outputCount; ++o) {
        typename R::Acc acc = R::init();
        cpu::forEachOffset(l.reducedDims, l.kept.offsetOf(o), [&](int64_t offset) { R::add(acc, x[offset]); });
        y[o] = R::finish(acc, l.reduceCount);
    }
}

template <ReduceOp Op, typename T>
void reduce(const ReductionLayout& l, const T* x, T* y) {
    if (l.outputCount == 0) return;
    if (l.isBlock) reduceBlock<Op, T>(l, x, y);
    else reduceGeneral<Op, T>(l, x, y);
}

class ReduceKernel : public Kernel {
public:
    ReduceKernel(ReduceOp op, DataType type, bool hasAxes, bool noopWithEmptyAxes)
        : mOp(op), mType(type), mHasAxes(hasAxes), mNoop(noopWithEmptyAxes) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        if (x.size() > cpu::kMaxReduceRank) return unsupported("reductions handle rank <= 16");
        std::optional<Tensor> axesTensor;
        if (mHasAxes) {
            // Axes are a constant or a folded shape computation, so their values exist before run.
            if (!inputs[1].data) return unsupported("the reduction axes (input 1) are not known before execution");
            axesTensor = Tensor::wrap(inputs[1].dtype, inputs[1].shape, inputs[1].data, nullptr);
        }
        auto axes = reductionAxes(axesTensor ? &*axesTensor : nullptr, mHasAxes, static_cast<int64_t>(x.size()), mNoop);
        if (!axes) return axes.status();
        std::vector<bool> reduced(x.size(), false);
        for (int64_t axis : **axes) reduced[static_cast<size_t>(axis)] = true;
        // A rank-0 input has no axes to list yet is reduced (to itself, through the operation).
        mIdentity = mNoop && (*axes)->empty();
        mLayout = cpu::planReduction(x, reduced);
        if (mLayout.outputCount != outputs[0].elementCount())
            return internalError("reduction output " + shapeToString(outputs[0].shape, true) + " does not match input " +
                                 shapeToString(x, true));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mIdentity) {
            // noop_with_empty_axes: the output is the input.
            if (io.output(0).data != io.input(0).data)
                std::memcpy(io.output(0).data, io.input(0).data, io.input(0).byteSize());
            return Status::ok();
        }
        return cpu::dispatchReduceOp(mOp, [&](auto opTag) {
            constexpr ReduceOp Op = decltype(opTag)::value;
            return dispatchDataType(mType, [&](auto tag) -> Status {
                using T = decltype(tag);
                if constexpr (cpu::reduceOpAcceptsType<Op, T>()) {
                    reduce<Op, T>(mLayout, io.input(0).as<const T>(), io.output(0).as<T>());
                    return Status::ok();
                } else {
                    return internalError(std::string("no reduction kernel for ") + dataTypeName(mType));
                }
            });
        });
    }

    std::string tacticName() const override {
        std::string form = mIdentity ? "identity" : (mLayout.isBlock ? (mLayout.inner == 1 ? "rows" : "strided_rows") : "general");
        return "cpu.reduce_" + std::string(cpu::reduceOpName(mOp)) + "_" + form + "_" + dataTypeName(mType);
    }

private:
    ReduceOp mOp;
    DataType mType;
    bool mHasAxes;
    bool mNoop;
    bool mIdentity{false};
    ReductionLayout mLayout;
};

bool supportsReduce(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    if (!x) {
        if (reason) *reason = "input 0 is missing";
        return false;
    }
    if (!reductionAcceptsType(node.opType, x->dtype) || x->dtype == DataType::kINT16 || x->dtype == DataType::kUINT16) {
        if (reason) *reason = std::string("no CPU kernel for input type ") + dataTypeName(x->dtype);
        return false;
    }
    if (x->shape.size() > cpu::kMaxReduceRank) {
        if (reason) *reason = "reductions handle rank <= 16";
        return false;
    }
    return true;
}

}  // namespace

void registerReductionKernels(CpuKernelRegistry& registry) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kProd, ReduceOp::kL1,
                        ReduceOp::kL2, ReduceOp::kLogSum, ReduceOp::kLogSumExp, ReduceOp::kSumSquare}) {
        registry.add({cpu::reduceOpType(op), supportsReduce,
                      [op](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                          return std::unique_ptr<Kernel>(new ReduceKernel(
                              op, node.input(0)->dtype, node.hasInput(1),
                              node.attrs.getInt("noop_with_empty_axes", 0) != 0));
                      },
                      ""});
    }
    cpu::registerArgReduceKernels(registry);
}

}  // namespace kiln
