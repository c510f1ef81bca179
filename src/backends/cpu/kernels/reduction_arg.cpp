// ArgMax and ArgMin on the CPU (int64 indices along one axis), and the ReduceX names.

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/reduction_common.h"

namespace kiln::cpu {

const char* reduceOpType(ReduceOp op) {
    switch (op) {
        case ReduceOp::kSum: return "ReduceSum";
        case ReduceOp::kMean: return "ReduceMean";
        case ReduceOp::kMax: return "ReduceMax";
        case ReduceOp::kMin: return "ReduceMin";
        case ReduceOp::kProd: return "ReduceProd";
        case ReduceOp::kL1: return "ReduceL1";
        case ReduceOp::kL2: return "ReduceL2";
        case ReduceOp::kLogSum: return "ReduceLogSum";
        case ReduceOp::kLogSumExp: return "ReduceLogSumExp";
        case ReduceOp::kSumSquare: return "ReduceSumSquare";
    }
    return "ReduceSum";
}

const char* reduceOpName(ReduceOp op) {
    switch (op) {
        case ReduceOp::kSum: return "sum";
        case ReduceOp::kMean: return "mean";
        case ReduceOp::kMax: return "max";
        case ReduceOp::kMin: return "min";
        case ReduceOp::kProd: return "prod";
        case ReduceOp::kL1: return "l1";
        case ReduceOp::kL2: return "l2";
        case ReduceOp::kLogSum: return "log_sum";
        case ReduceOp::kLogSumExp: return "log_sum_exp";
        case ReduceOp::kSumSquare: return "sum_square";
    }
    return "sum";
}

namespace {

class ArgReduceKernel : public Kernel {
public:
    ArgReduceKernel(bool isMax, DataType type, int64_t axis, bool selectLast)
        : mIsMax(isMax), mType(type), mAxis(axis), mSelectLast(selectLast) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        const int64_t rank = static_cast<int64_t>(x.size());
        const int64_t axis = mAxis < 0 ? mAxis + rank : mAxis;
        if (axis < 0 || axis >= rank)
            return invalidArgument("axis " + std::to_string(mAxis) + " is out of range for " + shapeToString(x, true));
        mOuter = 1;
        mInner = 1;
        for (int64_t d = 0; d < axis; ++d) mOuter *= x[static_cast<size_t>(d)];
        for (int64_t d = axis + 1; d < rank; ++d) mInner *= x[static_cast<size_t>(d)];
        mExtent = x[static_cast<size_t>(axis)];
        if (mExtent == 0 && mOuter * mInner > 0)
            return invalidArgument("cannot take the index of an extremum over an empty axis");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool>) {
                return internalError("ArgMax/ArgMin have no bool kernel");
            } else {
                compute(io.input(0).as<const T>(), io.output(0).as<int64_t>());
                return Status::ok();
            }
        });
    }

    std::string tacticName() const override {
        return std::string("cpu.") + (mIsMax ? "argmax_" : "argmin_") + dataTypeName(mType);
    }

private:
    template <typename T>
    void compute(const T* x, int64_t* y) const {
        using V = std::conditional_t<kIsFloatStorage<T>, double, T>;
        const int64_t outputs = mOuter * mInner;
        // NaN counts as the extremum (numpy's rule); ties go to the first index unless select_last_index.
        auto better = [&](V v, V best) {
            if (v != v) return best == best || mSelectLast;
            if (best != best) return false;
            if (mIsMax) return mSelectLast ? v >= best : v > best;
            return mSelectLast ? v <= best : v < best;
        };
#pragma omp parallel for schedule(static) if (outputs * mExtent >= kReduceParallelWork && outputs > 1)
        for (int64_t o = 0; o < outputs; ++o) {
            const T* base = x + (o / mInner) * mExtent * mInner + o % mInner;
            V best = static_cast<V>(base[0]);
            int64_t bestIndex = 0;
            for (int64_t i = 1; i < mExtent; ++i) {
                const V v = static_cast<V>(base[i * mInner]);
                if (better(v, best)) {
                    best = v;
                    bestIndex = i;
                }
            }
            y[o] = bestIndex;
        }
    }

    bool mIsMax;
    DataType mType;
    int64_t mAxis;
    bool mSelectLast;
    int64_t mOuter{1}, mInner{1}, mExtent{1};
};

bool supportsArgReduce(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0,
                            {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT8,
                             DataType::kUINT8, DataType::kINT16, DataType::kUINT16, DataType::kINT32,
                             DataType::kUINT32, DataType::kINT64, DataType::kUINT64},
                            reason);
}

CpuKernelEntry argEntry(const char* opType, bool isMax) {
    return {opType, supportsArgReduce,
            [isMax](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                return std::unique_ptr<Kernel>(new ArgReduceKernel(isMax, node.input(0)->dtype,
                                                                   node.attrs.getInt("axis", 0),
                                                                   node.attrs.getInt("select_last_index", 0) != 0));
            },
            ""};
}

}  // namespace

void registerArgReduceKernels(CpuKernelRegistry& registry) {
    registry.add(argEntry("ArgMax", true));
    registry.add(argEntry("ArgMin", false));
}

}  // namespace kiln::cpu
