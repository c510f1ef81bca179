#include "backends/cpu/kernels/elementwise_kernels.h"

namespace kiln::cpu {

const char* shortTypeName(DataType type) {
    return dataTypeShortName(type);
}

std::string typedTacticName(const std::string& name, DataType type) {
    return "cpu." + name + "_" + shortTypeName(type);
}

std::string initialTacticName(const std::string& name, const Node& node, size_t index) {
    const Value* v = node.input(index);
    return v && v->typeKnown ? typedTacticName(name, v->dtype) : "cpu." + name;
}

Status unsupportedType(const std::string& op, DataType type) {
    return unsupported("cpu." + op + ": no kernel for element type " + dataTypeName(type));
}

Status checkSameShape(const std::string& op, const TensorView& in, const TensorView& out) {
    if (in.shape == out.shape) return Status::ok();
    return invalidArgument("cpu." + op + ": output shape " + shapeToString(out.shape, true) +
                           " differs from input shape " + shapeToString(in.shape, true));
}

Status BinaryKernel::reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) {
    mRun = nullptr;
    auto plan = makeBroadcastPlan({&inputs[0].shape, &inputs[1].shape}, outputs[0].shape);
    if (!plan) return plan.status().withContext("cpu." + mName);
    mPlan = *plan;
    mRun = mSelect(inputs[0].dtype, inputs[1].dtype, mPlan);
    if (!mRun)
        return unsupported("cpu." + mName + ": no kernel for element types " + dataTypeName(inputs[0].dtype) + " and " +
                           dataTypeName(inputs[1].dtype));
    mTactic = typedTacticName(mName, inputs[0].dtype);
    return Status::ok();
}

Status BinaryKernel::run(const KernelIO& io) {
    if (!mRun) return internalError("cpu." + mName + ": run before reshape");
    mRun(mPlan, io.input(0).data, io.input(1).data, io.output(0).data);
    return Status::ok();
}

}  // namespace kiln::cpu
