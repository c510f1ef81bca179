// Comparisons, boolean logic, bitwise ops and Where.

#include "backends/cpu/kernels/elementwise_kernels.h"

namespace kiln::cpu {

namespace {

// ---- BitShift -----------------------------------------------------------------------------------

bool supportsBitShift(const Node& node, std::string* reason) {
    if (!binaryInputsIn<IntegerTypes>(node, reason)) return false;
    std::string direction = node.attrs.getString("direction", "");
    if (direction == "LEFT" || direction == "RIGHT") return true;
    if (reason) *reason = "BitShift attribute direction must be \"LEFT\" or \"RIGHT\", got \"" + direction + "\"";
    return false;
}

Expected<std::unique_ptr<Kernel>> createBitShift(const Node& node) {
    std::string direction = node.attrs.getString("direction", "");
    if (direction != "LEFT" && direction != "RIGHT")
        return invalidModel(node.describe() + ": attribute direction must be \"LEFT\" or \"RIGHT\"");
    const bool left = direction == "LEFT";
    BinarySelectFn select =
        left ? &selectSameTypeBinary<ShiftLeftOp, IntegerTypes> : &selectSameTypeBinary<ShiftRightOp, IntegerTypes>;
    std::string name = left ? "shift_left" : "shift_right";
    return std::unique_ptr<Kernel>(std::make_unique<BinaryKernel>(name, select, initialTacticName(name, node, 0)));
}

// ---- Where --------------------------------------------------------------------------------------

using WhereRunFn = void (*)(const BroadcastPlan& plan, const void* cond, const void* x, const void* y, void* out);

// Where only moves elements, so it is instantiated per element size, not per type; the inner loop
// is specialized on the three inner strides (a select that vectorizes to a blend).
template <typename T, int SC, int SX, int SY>
void runWhere(const BroadcastPlan& plan, const void* cond, const void* x, const void* y, void* out) {
    const bool* pc = static_cast<const bool*>(cond);
    const T* px = static_cast<const T*>(x);
    const T* py = static_cast<const T*>(y);
    T* po = static_cast<T*>(out);
    parallelForEachSpan(plan, [=](int64_t o, const int64_t* in, int64_t n) {
        const bool* c = pc + in[0];
        const T* a = px + in[1];
        const T* b = py + in[2];
        T* z = po + o;
        for (int64_t i = 0; i < n; ++i) z[i] = c[SC * i] ? a[SX * i] : b[SY * i];
    });
}

template <typename T>
WhereRunFn selectWhereStrides(const BroadcastPlan& plan) {
    static constexpr WhereRunFn kTable[8] = {
        &runWhere<T, 0, 0, 0>, &runWhere<T, 0, 0, 1>, &runWhere<T, 0, 1, 0>, &runWhere<T, 0, 1, 1>,
        &runWhere<T, 1, 0, 0>, &runWhere<T, 1, 0, 1>, &runWhere<T, 1, 1, 0>, &runWhere<T, 1, 1, 1>,
    };
    const size_t index =
        (plan.innerStride(0) != 0 ? 4 : 0) + (plan.innerStride(1) != 0 ? 2 : 0) + (plan.innerStride(2) != 0 ? 1 : 0);
    return kTable[index];
}

WhereRunFn selectWhere(size_t elementSize, const BroadcastPlan& plan) {
    switch (elementSize) {
        case 1:
            return selectWhereStrides<uint8_t>(plan);
        case 2:
            return selectWhereStrides<uint16_t>(plan);
        case 4:
            return selectWhereStrides<uint32_t>(plan);
        case 8:
            return selectWhereStrides<uint64_t>(plan);
        default:
            return nullptr;  // a size, not an enum: no element type has another size
    }
}

class WhereKernel final : public Kernel {
public:
    explicit WhereKernel(std::string tactic) : mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mRun = nullptr;
        if (inputs[0].dtype != DataType::kBOOL) return invalidArgument("cpu.where: the condition must be bool");
        if (inputs[1].dtype != inputs[2].dtype || inputs[1].dtype != outputs[0].dtype)
            return invalidArgument("cpu.where: X, Y and the output must have one type");
        auto plan = makeBroadcastPlan({&inputs[0].shape, &inputs[1].shape, &inputs[2].shape}, outputs[0].shape);
        if (!plan) return plan.status().withContext("cpu.where");
        mPlan = *plan;
        mRun = selectWhere(dataTypeSize(outputs[0].dtype), mPlan);
        if (!mRun) return unsupportedType("where", outputs[0].dtype);
        mTactic = typedTacticName("where", outputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mRun) return internalError("cpu.where: run before reshape");
        mRun(mPlan, io.input(0).data, io.input(1).data, io.input(2).data, io.output(0).data);
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    BroadcastPlan mPlan;
    WhereRunFn mRun{nullptr};
};

bool supportsWhere(const Node& node, std::string* reason) {
    if (!inputTypeIn<BoolType>(node, 0, reason) || !inputTypeIn<AllTypes>(node, 1, reason) ||
        !inputTypeIn<AllTypes>(node, 2, reason))
        return false;
    if (node.input(1)->dtype == node.input(2)->dtype) return true;
    if (reason) *reason = "inputs X and Y of Where have different types";
    return false;
}

}  // namespace

void registerElementwiseLogicKernels(CpuKernelRegistry& registry) {
    addBinaryKernel<EqualOp, AllTypes>(registry, "Equal", "equal");
    addBinaryKernel<LessOp, NumericTypes>(registry, "Less", "less");
    addBinaryKernel<GreaterOp, NumericTypes>(registry, "Greater", "greater");
    addBinaryKernel<LessOrEqualOp, NumericTypes>(registry, "LessOrEqual", "less_equal");
    addBinaryKernel<GreaterOrEqualOp, NumericTypes>(registry, "GreaterOrEqual", "greater_equal");

    addBinaryKernel<AndOp, BoolType>(registry, "And", "and");
    addBinaryKernel<OrOp, BoolType>(registry, "Or", "or");
    addBinaryKernel<XorOp, BoolType>(registry, "Xor", "xor");
    addUnaryKernel<NotOp, BoolType>(registry, "Not", "not");

    addBinaryKernel<BitwiseAndOp, IntegerTypes>(registry, "BitwiseAnd", "bitwise_and");
    addBinaryKernel<BitwiseOrOp, IntegerTypes>(registry, "BitwiseOr", "bitwise_or");
    addBinaryKernel<BitwiseXorOp, IntegerTypes>(registry, "BitwiseXor", "bitwise_xor");
    addUnaryKernel<BitwiseNotOp, IntegerTypes>(registry, "BitwiseNot", "bitwise_not");
    registry.add({"BitShift", supportsBitShift, createBitShift, ""});

    registry.add({"Where", supportsWhere,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<WhereKernel>(initialTacticName("where", node, 1)));
                  },
                  ""});
}

}  // namespace kiln::cpu
