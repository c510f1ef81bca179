#include "runtime/host_value_io.h"

#include <cstring>

#include "runtime/context_run.h"

namespace kiln {

static_assert(static_cast<int32_t>(IOKind::kSEQUENCE) == static_cast<int32_t>(ValueKind::kSequence) &&
                  static_cast<int32_t>(IOKind::kOPTIONAL_TENSOR) == static_cast<int32_t>(ValueKind::kOptionalTensor) &&
                  static_cast<int32_t>(IOKind::kOPTIONAL_SEQUENCE) == static_cast<int32_t>(ValueKind::kOptionalSequence),
              "IOKind mirrors ValueKind");

void bindHostValueIO(ContextImpl& ctx) {
    const auto& io = ctx.engine.io;
    ctx.ioHandles.assign(io.size(), nullptr);
    ctx.inputHostValues.resize(io.size());
    for (size_t i = 0; i < io.size(); ++i)
        if (!io[i].value->container.isTensor()) ctx.ioAddresses[i] = &ctx.ioHandles[i];
}

namespace {

Expected<size_t> hostValueIO(const ContextImpl& ctx, const char* what, const char* name, TensorIOMode mode) {
    const IOTensor* io = ctx.engine.findIO(name);
    const std::string where = std::string(what) + ": '" + (name ? name : "") + "'";
    if (!io || io->mode != mode)
        return invalidArgument(where + " is not an " + (mode == TensorIOMode::kINPUT ? "input" : "output") + " of this engine");
    if (io->value->container.isTensor()) return invalidArgument(where + " is a tensor: use setTensorAddress()");
    return static_cast<size_t>(io - ctx.engine.io.data());
}

/// A copy of the caller's `tensor`, checked against the I/O's element type.
Expected<Tensor> copyHostTensor(const HostTensor& tensor, DataType expected, const std::string& where) {
    if (tensor.dtype != expected)
        return invalidArgument(where + ": a " + dataTypeName(tensor.dtype) + " tensor where " + dataTypeName(expected) +
                               " is expected");
    if (tensor.dtype == DataType::kSTRING)
        return unsupported(where + ": string tensors in sequences and optionals are not supported");
    if (tensor.dims.nbDims < 0 || tensor.dims.nbDims > kMaxDims) return invalidArgument(where + ": invalid rank");
    Shape shape;
    for (int32_t d = 0; d < tensor.dims.nbDims; ++d) {
        if (tensor.dims.d[d] < 0) return invalidArgument(where + ": negative dimension");
        shape.push_back(tensor.dims.d[d]);
    }
    Tensor copy = Tensor::allocate(tensor.dtype, shape);
    if (copy.byteSize() && !tensor.data) return invalidArgument(where + ": data is null");
    if (copy.byteSize()) std::memcpy(copy.data(), tensor.data, copy.byteSize());
    return copy;
}

HostTensor viewOfTensor(const Tensor& t) {
    HostTensor h;
    h.dtype = t.dtype();
    h.dims.nbDims = static_cast<int32_t>(t.shape().size());
    for (size_t d = 0; d < t.shape().size() && d < static_cast<size_t>(kMaxDims); ++d) h.dims.d[d] = t.shape()[d];
    h.data = t.data();
    return h;
}

void keepInput(ContextImpl& ctx, size_t index, HostValue value) {
    ctx.inputHostValues[index] = std::make_unique<HostValue>(std::move(value));
    ctx.ioHandles[index] = ctx.inputHostValues[index].get();
}

}  // namespace

IOKind Engine::getIOKind(const char* name) const noexcept {
    const IOTensor* t = mImpl->findIO(name);
    return t ? static_cast<IOKind>(t->value->container.kind) : IOKind::kTENSOR;
}

bool ExecutionContext::setInputSequence(const char* name, const HostTensor* elements, int32_t count) noexcept {
    return guarded(mImpl->engine.log, "setInputSequence", [&]() -> Status {
        KILN_ASSIGN_OR_RETURN(size_t index, hostValueIO(*mImpl, "setInputSequence", name, TensorIOMode::kINPUT));
        const ContainerType& type = mImpl->engine.io[index].value->container;
        if (!type.holdsSequence())
            return invalidArgument(std::string("setInputSequence: '") + name + "' is a " + containerTypeName(type));
        if (count < 0 || (count > 0 && !elements)) return invalidArgument("setInputSequence: no elements given");
        HostValue value{type, true, {}};
        for (int32_t i = 0; i < count; ++i) {
            KILN_ASSIGN_OR_RETURN(Tensor t, copyHostTensor(elements[i], type.elementType,
                                                           std::string("setInputSequence: '") + name + "' element " +
                                                               std::to_string(i)));
            value.tensors.push_back(std::move(t));
        }
        keepInput(*mImpl, index, std::move(value));
        return Status::ok();
    });
}

bool ExecutionContext::setInputOptional(const char* name, const HostTensor* tensor) noexcept {
    return guarded(mImpl->engine.log, "setInputOptional", [&]() -> Status {
        KILN_ASSIGN_OR_RETURN(size_t index, hostValueIO(*mImpl, "setInputOptional", name, TensorIOMode::kINPUT));
        const ContainerType& type = mImpl->engine.io[index].value->container;
        if (!type.isOptional())
            return invalidArgument(std::string("setInputOptional: '") + name + "' is a " + containerTypeName(type));
        HostValue value{type, tensor != nullptr, {}};
        if (tensor) {
            if (type.holdsSequence())
                return invalidArgument(std::string("setInputOptional: '") + name +
                                       "' holds a sequence: set a present one with setInputSequence()");
            KILN_ASSIGN_OR_RETURN(Tensor t, copyHostTensor(*tensor, type.elementType, std::string("setInputOptional: '") + name + "'"));
            value.tensors.push_back(std::move(t));
        }
        keepInput(*mImpl, index, std::move(value));
        return Status::ok();
    });
}

bool ExecutionContext::getOutputValue(const char* name, std::vector<HostTensor>& tensors, bool& present) const noexcept {
    return guarded(mImpl->engine.log, "getOutputValue", [&]() -> Status {
        KILN_ASSIGN_OR_RETURN(size_t index, hostValueIO(*mImpl, "getOutputValue", name, TensorIOMode::kOUTPUT));
        const HostValue* value = mImpl->ioHandles[index];
        if (!value) return invalidArgument(std::string("getOutputValue: '") + name + "' has not been computed: run first");
        tensors.clear();
        present = value->hasElement;
        if (present)
            for (const Tensor& t : value->tensors) tensors.push_back(viewOfTensor(t));
        return Status::ok();
    });
}

}  // namespace kiln
