// CPU kernels of the shape family: Shape Size Reshape Flatten Squeeze Unsqueeze Expand
// ConstantOfShape Range EyeLike. The view-changing ops are byte copies: their output shapes come
// from inference, so the kernels never re-derive them.

#include <algorithm>
#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/tensor_copy.h"

namespace kiln {

using datamove::copyBytes;
using datamove::dispatchElementBytes;

namespace {

Status runByteCopy(const KernelIO& io) {
    if (io.output(0).byteSize() != io.input(0).byteSize())
        return internalError("copy kernel: output has " + std::to_string(io.output(0).byteSize()) + " bytes, input " +
                             std::to_string(io.input(0).byteSize()));
    copyBytes(io.output(0).data, io.input(0).data, io.output(0).byteSize());
    return Status::ok();
}

/// A kernel that copies the input's bytes: it serves every element type, the low-bit ones too.
CpuKernelEntry byteCopyEntry(const std::string& opType) {
    return {opType,
            {},
            [opType](const Node&) -> Expected<std::unique_ptr<Kernel>> {
                return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.copy", runByteCopy));
            },
            "",
            false,
            true};
}

Expected<std::unique_ptr<Kernel>> createShape(const Node& node) {
    int64_t startAttr = node.attrs.getInt("start", 0);
    std::optional<int64_t> endAttr = node.attrs.getInt("end");
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.shape", [=](const KernelIO& io) {
        const Shape& shape = io.input(0).shape;
        int64_t rank = static_cast<int64_t>(shape.size());
        auto clampAxis = [rank](int64_t axis) { return std::clamp(axis < 0 ? axis + rank : axis, int64_t{0}, rank); };
        int64_t start = clampAxis(startAttr);
        int64_t end = clampAxis(endAttr.value_or(rank));
        const TensorView& out = io.output(0);
        if (out.elementCount() != std::max<int64_t>(end - start, 0))
            return internalError("Shape kernel: output has " + std::to_string(out.elementCount()) + " elements");
        for (int64_t i = start; i < end; ++i) out.as<int64_t>()[i - start] = shape[static_cast<size_t>(i)];
        return Status::ok();
    }));
}

Expected<std::unique_ptr<Kernel>> createSize(const Node&) {
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.size", [](const KernelIO& io) {
        *io.output(0).as<int64_t>() = io.input(0).elementCount();
        return Status::ok();
    }));
}

class ExpandKernel : public Kernel {
public:
    explicit ExpandKernel(std::string name) : mName(std::move(name)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& in = inputs[0].shape;
        const Shape& out = outputs[0].shape;
        bool valid = in.size() <= out.size();
        for (size_t i = 0; valid && i < in.size(); ++i) {
            int64_t o = out[out.size() - in.size() + i];
            valid = in[i] == 1 || in[i] == o;
        }
        if (!valid)
            return invalidArgument(mName + ": cannot broadcast " + shapeToString(in, true) + " to " +
                                   shapeToString(out, true));
        mCopy = datamove::broadcastCopy(in, out);
        mCopy.simplify();
        return Status::ok();
    }
    Status run(const KernelIO& io) override {
        mCopy.run(io.input(0).data, io.output(0).data, dataTypeSize(io.output(0).dtype));
        return Status::ok();
    }
    std::string tacticName() const override { return "cpu.expand_strided"; }

private:
    std::string mName;
    datamove::StridedCopy mCopy;
};

Expected<std::unique_ptr<Kernel>> createConstantOfShape(const Node& node) {
    // The fill pattern: one element's bytes (float 0 when the attribute is absent).
    uint64_t pattern = 0;
    if (const Tensor* value = node.attrs.getTensor("value")) {
        if (value->elementCount() != 1)
            return invalidModel(node.describe() + ": attribute 'value' must be a one-element tensor");
        std::memcpy(&pattern, value->data(), dataTypeSize(value->dtype()));
    }
    return std::unique_ptr<Kernel>(
        std::make_unique<FunctionKernel>("cpu.constant_of_shape", [pattern](const KernelIO& io) {
            const TensorView& out = io.output(0);
            dispatchElementBytes(dataTypeSize(out.dtype), [&](auto tag) {
                using U = decltype(tag);
                U value;
                std::memcpy(&value, &pattern, sizeof(U));
                std::fill(out.as<U>(), out.as<U>() + out.elementCount(), value);
            });
            return Status::ok();
        }));
}

Status runRange(const KernelIO& io) {
    const TensorView& out = io.output(0);
    const TensorView& start = io.input(0);
    const TensorView& delta = io.input(2);
    int64_t count = out.elementCount();
    return dispatchDataType(out.dtype, [&](auto tag) -> Status {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, bool> || std::is_unsigned_v<T> || std::is_same_v<T, int8_t>) {
            return unsupported(std::string("Range kernel: type ") + dataTypeName(out.dtype) + " is not supported");
        } else if constexpr (std::is_integral_v<T>) {
            // Integers step exactly; the output count already came from inference.
            T s = *start.as<const T>();
            T d = *delta.as<const T>();
            for (int64_t i = 0; i < count; ++i) out.as<T>()[i] = static_cast<T>(s + static_cast<T>(i) * d);
            return Status::ok();
        } else {
            // start + i * delta in double, rounded once per element (no accumulated error).
            auto toDouble = [](T v) {
                if constexpr (std::is_same_v<T, double>)
                    return v;
                else
                    return static_cast<double>(static_cast<float>(v));
            };
            double s = toDouble(*start.as<const T>());
            double d = toDouble(*delta.as<const T>());
            for (int64_t i = 0; i < count; ++i) {
                double v = s + static_cast<double>(i) * d;
                if constexpr (std::is_same_v<T, double>)
                    out.as<T>()[i] = v;
                else
                    out.as<T>()[i] = T(static_cast<float>(v));
            }
            return Status::ok();
        }
    });
}

bool supportsRange(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0,
                            {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT16,
                             DataType::kINT32, DataType::kINT64},
                            reason);
}

Expected<std::unique_ptr<Kernel>> createEyeLike(const Node& node) {
    int64_t k = node.attrs.getInt("k", 0);
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.eye_like", [k](const KernelIO& io) {
        const TensorView& out = io.output(0);
        std::memset(out.data, 0, out.byteSize());
        int64_t rows = out.shape[0];
        int64_t cols = out.shape[1];
        dispatchDataType(out.dtype, [&](auto tag) {
            using T = decltype(tag);
            T one;
            if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                one = T(1.0f);
            else
                one = static_cast<T>(1);
            for (int64_t i = std::max<int64_t>(0, -k); i < rows && i + k < cols; ++i)
                out.as<T>()[i * cols + i + k] = one;
        });
        return Status::ok();
    }));
}

}  // namespace

void registerShapeKernels(CpuKernelRegistry& registry) {
    // Shape and Size read only the input's shape, whatever its element type.
    registry.add({"Shape", {}, createShape, "", false, true});
    registry.add({"Size", {}, createSize, "", false, true});
    registry.add(byteCopyEntry("Reshape"));
    registry.add(byteCopyEntry("Flatten"));
    registry.add(byteCopyEntry("Squeeze"));
    registry.add(byteCopyEntry("Unsqueeze"));
    registry.add({"Expand",
                  {},
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ExpandKernel>(node.describe()));
                  },
                  ""});
    registry.add({"ConstantOfShape", {}, createConstantOfShape, ""});
    registry.add({"Range", supportsRange,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.range", runRange));
                  },
                  ""});
    registry.add({"EyeLike", {}, createEyeLike, ""});
}

}  // namespace kiln
