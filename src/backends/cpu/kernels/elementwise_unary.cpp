// Unary math: Neg Abs Sign, the float functions (Sqrt, Exp, trigonometry, ...), IsNaN and IsInf.

#include "backends/cpu/kernels/elementwise_kernels.h"

namespace kiln::cpu {

void registerElementwiseUnaryKernels(CpuKernelRegistry& registry) {
    addUnaryKernel<NegOp, SignedNumericTypes>(registry, "Neg", "neg");
    addUnaryKernel<AbsOp, NumericTypes>(registry, "Abs", "abs");
    addUnaryKernel<SignOp, NumericTypes>(registry, "Sign", "sign");

    addUnaryKernel<SqrtOp, FloatTypes>(registry, "Sqrt", "sqrt");
    addUnaryKernel<ReciprocalOp, FloatTypes>(registry, "Reciprocal", "reciprocal");
    addUnaryKernel<ExpOp, FloatTypes>(registry, "Exp", "exp");
    addUnaryKernel<LogOp, FloatTypes>(registry, "Log", "log");
    addUnaryKernel<CeilOp, FloatTypes>(registry, "Ceil", "ceil");
    addUnaryKernel<FloorOp, FloatTypes>(registry, "Floor", "floor");
    addUnaryKernel<RoundOp, FloatTypes>(registry, "Round", "round");
    addUnaryKernel<ErfOp, FloatTypes>(registry, "Erf", "erf");
    addUnaryKernel<SinOp, FloatTypes>(registry, "Sin", "sin");
    addUnaryKernel<CosOp, FloatTypes>(registry, "Cos", "cos");
    addUnaryKernel<TanOp, FloatTypes>(registry, "Tan", "tan");
    addUnaryKernel<AsinOp, FloatTypes>(registry, "Asin", "asin");
    addUnaryKernel<AcosOp, FloatTypes>(registry, "Acos", "acos");
    addUnaryKernel<AtanOp, FloatTypes>(registry, "Atan", "atan");
    addUnaryKernel<SinhOp, FloatTypes>(registry, "Sinh", "sinh");
    addUnaryKernel<CoshOp, FloatTypes>(registry, "Cosh", "cosh");
    addUnaryKernel<AsinhOp, FloatTypes>(registry, "Asinh", "asinh");
    addUnaryKernel<AcoshOp, FloatTypes>(registry, "Acosh", "acosh");
    addUnaryKernel<AtanhOp, FloatTypes>(registry, "Atanh", "atanh");

    addUnaryKernel<IsNaNOp, FloatTypes>(registry, "IsNaN", "isnan");
    addUnaryKernel<IsInfOp, FloatTypes>(registry, "IsInf", "isinf", [](const Node& node) -> Expected<IsInfOp> {
        IsInfOp op;
        op.detectNegative = node.attrs.getInt("detect_negative", 1) != 0;
        op.detectPositive = node.attrs.getInt("detect_positive", 1) != 0;
        return op;
    });
}

}  // namespace kiln::cpu
