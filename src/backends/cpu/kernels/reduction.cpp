// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp and ReduceSumSquare on the CPU. The axes fold into the block form
// (outer, reduced, inner) where possible: contiguous rows when inner is 1, row-wise accumulation
// over inner blocks otherwise; other axis sets walk strided odometers.

#include <algorithm>
#include <cstring>
#include <optional>

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
    /// `constantAxes`: the axes input's values when it is a constant (the usual case).
    ReduceKernel(ReduceOp op, DataType type, bool hasAxes, std::optional<std::vector<int64_t>> constantAxes,
                 bool noopWithEmptyAxes)
        : mOp(op), mType(type), mHasAxes(hasAxes), mConstantAxes(std::move(constantAxes)), mNoop(noopWithEmptyAxes) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInputShape = inputs[0].shape;
        if (mInputShape.size() > cpu::kMaxReduceRank) return unsupported("reductions handle rank <= 16");
        mOutputCount = outputs[0].elementCount();
        // Computed axes (a folded shape computation) may arrive only with the run's data.
        mPending = mHasAxes && !mConstantAxes && !inputs[1].data;
        if (mPending) return Status::ok();
        if (!mHasAxes) return plan(nullptr, 0);
        if (mConstantAxes) return plan(mConstantAxes->data(), static_cast<int64_t>(mConstantAxes->size()));
        return plan(inputs[1].as<const int64_t>(), inputs[1].elementCount());
    }

    Status run(const KernelIO& io) override {
        if (mPending) KILN_RETURN_IF_ERROR(plan(io.input(1).as<const int64_t>(), io.input(1).elementCount()));
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
    /// Folds the input shape for these axes; allocates nothing (it may run inside run()).
    Status plan(const int64_t* axes, int64_t count) {
        cpu::ReducedAxes reduced{};
        KILN_RETURN_IF_ERROR(
            markReducedAxes(axes, count, static_cast<int64_t>(mInputShape.size()), mNoop, reduced.data()));
        // A rank-0 input has no axes to list yet is reduced (to itself, through the operation).
        mIdentity = mNoop && count == 0;
        mLayout = cpu::planReduction(mInputShape, reduced);
        if (mLayout.outputCount != mOutputCount)
            return invalidArgument("reduction output has " + std::to_string(mOutputCount) +
                                   " elements, the axes give " + std::to_string(mLayout.outputCount));
        return Status::ok();
    }

    ReduceOp mOp;
    DataType mType;
    bool mHasAxes;
    std::optional<std::vector<int64_t>> mConstantAxes;
    bool mNoop;
    Shape mInputShape;
    int64_t mOutputCount{0};
    bool mPending{false};
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
                          const Value* axes = node.input(1);
                          std::optional<std::vector<int64_t>> constantAxes;
                          if (axes && axes->isConstant()) constantAxes = axes->constant->toInt64Vector();
                          return std::unique_ptr<Kernel>(new ReduceKernel(
                              op, node.input(0)->dtype, axes != nullptr, std::move(constantAxes),
                              node.attrs.getInt("noop_with_empty_axes", 0) != 0));
                      },
                      ""});
    }
    cpu::registerArgReduceKernels(registry);
}

}  // namespace kiln
