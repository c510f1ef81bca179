#pragma once
// Kernel templates of the elementwise and activation families: a unary kernel (one functor of
// elementwise_math.h over a flat array) and a broadcasting binary kernel (one functor over a
// BroadcastPlan), plus the element-type lists they are instantiated for. Element types are
// dispatched in reshape(), from the views, so a kernel never depends on the node's annotations.

#include <array>
#include <memory>
#include <string>
#include <type_traits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/broadcast.h"
#include "backends/cpu/kernels/elementwise_math.h"
#include "ir/dtype.h"

namespace kiln::cpu {

// ---- element-type lists ----------------------------------------------------------------------------

template <typename... Ts>
struct TypeList {
    static bool contains(DataType type) { return ((type == DataTypeOf<Ts>::value) || ...); }
    /// Calls fn(T{}) for the listed T whose DataType is `type`; false when none is.
    template <typename Fn>
    static bool dispatch(DataType type, Fn&& fn) {
        return ((type == DataTypeOf<Ts>::value ? (fn(Ts{}), true) : false) || ...);
    }
    static std::string names() {
        std::string out;
        ((out += (out.empty() ? "" : ", ") + std::string(dataTypeName(DataTypeOf<Ts>::value))), ...);
        return out;
    }
};

using FloatTypes = TypeList<float, double, Half, BFloat16>;
using SignedIntTypes = TypeList<int8_t, int16_t, int32_t, int64_t>;
using IntegerTypes = TypeList<int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using SignedNumericTypes = TypeList<float, double, Half, BFloat16, int8_t, int16_t, int32_t, int64_t>;
using NumericTypes =
    TypeList<float, double, Half, BFloat16, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using AllTypes = TypeList<float, double, Half, BFloat16, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t,
                          uint64_t, bool>;
using BoolType = TypeList<bool>;

/// "f32", "f16", "bf16", "i64", "bool", ... for tactic names.
const char* shortTypeName(DataType type);

/// "cpu.<name>_<type>", the tactic name of a kernel instantiated for `type`.
std::string typedTacticName(const std::string& name, DataType type);
/// The tactic name before reshape(): typed by the node's input `index` when the graph annotates it.
std::string initialTacticName(const std::string& name, const Node& node, size_t index);

/// supports() helper: input `index` is present and its type is in List.
template <typename List>
bool inputTypeIn(const Node& node, size_t index, std::string* reason) {
    const Value* v = node.input(index);
    if (!v) {
        if (reason) *reason = "input " + std::to_string(index) + " is missing";
        return false;
    }
    if (List::contains(v->dtype)) return true;
    if (reason)
        *reason = "no CPU kernel for " + node.opType + " on " + dataTypeName(v->dtype) + " (input " +
                  std::to_string(index) + "; supported: " + List::names() + ")";
    return false;
}

/// Error of a reshape() that got an element type the kernel has no instantiation for.
Status unsupportedType(const std::string& op, DataType type);
/// Error of a reshape() whose output shape is not the input shape.
Status checkSameShape(const std::string& op, const TensorView& in, const TensorView& out);

// ---- unary ---------------------------------------------------------------------------------------

template <typename Op, typename TI, typename TO>
void runUnary(const Op& op, const void* in, void* out, int64_t n) {
    const TI* x = static_cast<const TI*>(in);
    TO* y = static_cast<TO*>(out);
    parallelForRanges(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) y[i] = store<TO>(op(load(x[i])));
    });
}

/// y = op(x) elementwise, for the input types in List; the output type is the input's, or bool
/// for predicates.
template <typename Op, typename List>
class UnaryKernel final : public Kernel {
public:
    UnaryKernel(std::string name, Op op, std::string tactic)
        : mName(std::move(name)), mOp(op), mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_RETURN_IF_ERROR(checkSameShape(mName, inputs[0], outputs[0]));
        mRun = nullptr;
        List::dispatch(inputs[0].dtype, [&](auto tag) {
            using T = decltype(tag);
            mRun = &runUnary<Op, T, OutputOf<Op, T>>;
        });
        if (!mRun) return unsupportedType(mName, inputs[0].dtype);
        mTactic = typedTacticName(mName, inputs[0].dtype);
        return Status::ok();
    }
    Status run(const KernelIO& io) override {
        if (!mRun) return internalError("cpu." + mName + ": run before reshape");
        mRun(mOp, io.input(0).data, io.output(0).data, io.output(0).elementCount());
        return Status::ok();
    }
    std::string tacticName() const override { return mTactic; }

private:
    using RunFn = void (*)(const Op&, const void*, void*, int64_t);
    std::string mName;
    Op mOp;
    std::string mTactic;
    RunFn mRun{nullptr};
};

/// Registers `opType` with UnaryKernel<Op, List>; `makeOp(node)` returns the functor (reading
/// attributes) as Expected<Op>.
template <typename Op, typename List, typename MakeOp>
void addUnaryKernel(CpuKernelRegistry& registry, const std::string& opType, const std::string& name, MakeOp makeOp) {
    registry.add({opType, [](const Node& node, std::string* reason) { return inputTypeIn<List>(node, 0, reason); },
                  [name, makeOp](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      KILN_ASSIGN_OR_RETURN(Op op, makeOp(node));
                      return std::unique_ptr<Kernel>(
                          std::make_unique<UnaryKernel<Op, List>>(name, op, initialTacticName(name, node, 0)));
                  },
                  "", true});
}

/// Registers an op whose functor has no attributes.
template <typename Op, typename List>
void addUnaryKernel(CpuKernelRegistry& registry, const std::string& opType, const std::string& name) {
    addUnaryKernel<Op, List>(registry, opType, name, [](const Node&) -> Expected<Op> { return Op{}; });
}

// ---- binary --------------------------------------------------------------------------------------

using BinaryRunFn = void (*)(const BroadcastPlan& plan, const void* a, const void* b, void* out);
/// Picks the loop for the inputs' types and the plan's innermost stride pattern; nullptr when the
/// types are not handled.
using BinarySelectFn = BinaryRunFn (*)(DataType a, DataType b, const BroadcastPlan& plan);

/// The innermost loop is specialized on each input's stride (SA, SB in {0, 1}) so that it
/// vectorizes: contiguous-contiguous, tensor-scalar and scalar-tensor rows.
template <typename Op, typename TA, typename TB, typename TO, int SA, int SB>
void runBinaryStrided(const BroadcastPlan& plan, const void* a, const void* b, void* out) {
    const TA* pa = static_cast<const TA*>(a);
    const TB* pb = static_cast<const TB*>(b);
    TO* po = static_cast<TO*>(out);
    parallelForEachSpan(plan, [=](int64_t o, const int64_t* in, int64_t n) {
        const TA* x = pa + in[0];
        const TB* y = pb + in[1];
        TO* z = po + o;
        const Op op{};
        for (int64_t i = 0; i < n; ++i) z[i] = store<TO>(op(load(x[SA * i]), load(y[SB * i])));
    });
}

template <typename Op, typename TA, typename TB, typename TO>
BinaryRunFn selectBinaryStrides(const BroadcastPlan& plan) {
    const bool a = plan.innerStride(0) != 0;
    const bool b = plan.innerStride(1) != 0;
    if (a && b) return &runBinaryStrided<Op, TA, TB, TO, 1, 1>;
    if (a) return &runBinaryStrided<Op, TA, TB, TO, 1, 0>;
    if (b) return &runBinaryStrided<Op, TA, TB, TO, 0, 1>;
    return &runBinaryStrided<Op, TA, TB, TO, 0, 0>;
}

/// Both inputs of one type in List; the output of that type, or bool for predicates.
template <typename Op, typename List>
BinaryRunFn selectSameTypeBinary(DataType a, DataType b, const BroadcastPlan& plan) {
    BinaryRunFn fn = nullptr;
    if (a != b) return fn;
    List::dispatch(a, [&](auto tag) {
        using T = decltype(tag);
        fn = selectBinaryStrides<Op, T, T, OutputOf<Op, T>>(plan);
    });
    return fn;
}

/// out = op(a, b) with numpy broadcasting.
class BinaryKernel final : public Kernel {
public:
    BinaryKernel(std::string name, BinarySelectFn select, std::string tactic)
        : mName(std::move(name)), mSelect(select), mTactic(std::move(tactic)) {}
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override;
    Status run(const KernelIO& io) override;
    std::string tacticName() const override { return mTactic; }

private:
    std::string mName;
    BinarySelectFn mSelect;
    std::string mTactic;
    BroadcastPlan mPlan;
    BinaryRunFn mRun{nullptr};
};

/// supports() helper for same-type binary ops: both inputs present, of one type in List.
template <typename List>
bool binaryInputsIn(const Node& node, std::string* reason) {
    if (!inputTypeIn<List>(node, 0, reason) || !inputTypeIn<List>(node, 1, reason)) return false;
    if (node.input(0)->dtype == node.input(1)->dtype) return true;
    if (reason) *reason = "inputs of " + node.opType + " have different types";
    return false;
}

/// Registers `opType` with a BinaryKernel over Op for both inputs of one type in List.
template <typename Op, typename List>
void addBinaryKernel(CpuKernelRegistry& registry, const std::string& opType, const std::string& name) {
    registry.add({opType, &binaryInputsIn<List>,
                  [name](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<BinaryKernel>(
                          name, &selectSameTypeBinary<Op, List>, initialTacticName(name, node, 0)));
                  },
                  "", true});
}

// ---- pieces of the two families' registration (one per kernel file) ------------------------------

void registerElementwiseArithmeticKernels(CpuKernelRegistry& registry);  // elementwise_arithmetic.cpp
void registerElementwiseLogicKernels(CpuKernelRegistry& registry);       // elementwise_logic.cpp
void registerElementwiseUnaryKernels(CpuKernelRegistry& registry);       // elementwise_unary.cpp
void registerElementwiseCastKernels(CpuKernelRegistry& registry);        // elementwise_cast.cpp
void registerSoftmaxKernels(CpuKernelRegistry& registry);                // activation_softmax.cpp

}  // namespace kiln::cpu
