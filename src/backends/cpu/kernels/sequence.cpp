// CPU kernels of the sequence and optional ops (ir/ops/sequence.cpp). Each runs on the host: it
// reads the HostValues its handle inputs point to and stores what it makes in the run's store
// (backends/host_value.h). Values are immutable, so a new sequence shares its element tensors with
// the one it came from and only tensors entering or leaving a sequence are copied.
//
// Positions follow ONNX: negative counts from the back; one outside the sequence is an error that
// names the position and the length, never a read out of bounds.

#include <algorithm>
#include <cstring>

#include "backends/control_flow_kernels.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/host_value.h"
#include "backends/cpu/kernels/sequence_map.h"

namespace kiln {

namespace {

/// A kernel whose output shapes may come from the values it reads (SequenceAt, ConcatFromSequence,
/// OptionalGetElement): `shapes` computes them from the inputs, `run` writes the outputs.
class HostValueKernel : public Kernel {
public:
    using ShapesFn = std::function<Expected<std::vector<Shape>>(const KernelIO&)>;
    HostValueKernel(std::string tactic, FunctionKernel::RunFn run, ShapesFn shapes = {})
        : mTactic(std::move(tactic)), mRun(std::move(run)), mShapes(std::move(shapes)) {}

    Status run(const KernelIO& io) override {
        if (!io.hostValues) return internalError(mTactic + ": no store for sequence and optional values");
        return mRun(io);
    }
    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        if (!mShapes) return Kernel::computeOutputShapes(io);
        return mShapes(io);
    }
    std::string tacticName() const override { return mTactic; }
    bool isCapturable(std::string* reason) const override {
        if (reason) *reason = "reads and writes sequences or optionals in host memory";
        return false;
    }

private:
    std::string mTactic;
    FunctionKernel::RunFn mRun;
    ShapesFn mShapes;
};

std::unique_ptr<Kernel> hostKernel(const char* tactic, FunctionKernel::RunFn run, HostValueKernel::ShapesFn shapes = {}) {
    return std::make_unique<HostValueKernel>(tactic, std::move(run), std::move(shapes));
}

Tensor copyOf(const TensorView& view) {
    Tensor t = Tensor::allocate(view.dtype, view.shape);
    if (view.byteSize()) std::memcpy(t.data(), view.data, view.byteSize());
    return t;
}

Status writeTensor(const Tensor& from, const TensorView& to, const std::string& where) {
    if (from.dtype() != to.dtype || from.shape() != to.shape)
        return internalError(where + ": the tensor is " + dataTypeName(from.dtype()) + " " + shapeToString(from.shape(), true) +
                             " but its output was planned as " + dataTypeName(to.dtype) + " " + shapeToString(to.shape, true));
    if (from.byteSize()) std::memcpy(to.data, from.data(), from.byteSize());
    return Status::ok();
}

void storeOutput(const KernelIO& io, size_t index, HostValue value) {
    writeHandle(io.output(index), io.hostValues->add(std::move(value)));
}

Expected<int64_t> readPosition(const TensorView& view) {
    if (view.elementCount() != 1) return invalidArgument("position must be a scalar");
    if (view.dtype == DataType::kINT32) return static_cast<int64_t>(*view.as<int32_t>());
    if (view.dtype == DataType::kINT64) return *view.as<int64_t>();
    return invalidArgument("position must be int32 or int64");
}

/// `position` normalized to [0, length + (inserting ? 1 : 0)).
Expected<size_t> normalizedPosition(int64_t position, size_t length, bool inserting, const std::string& where) {
    const auto n = static_cast<int64_t>(length);
    const int64_t upper = inserting ? n : n - 1;
    if (position < -n || position > upper)
        return invalidArgument(where + ": position " + std::to_string(position) + " is out of range for a sequence of " +
                               std::to_string(length) + (length == 1 ? " element" : " elements"));
    return static_cast<size_t>(position < 0 ? position + n : position);
}

/// The sequence a handle input holds (an optional's when it has one).
Expected<const HostValue*> sequenceInput(const KernelIO& io, size_t index, const std::string& where) {
    KILN_ASSIGN_OR_RETURN(const HostValue* value, readHandle(io.input(index), (where + ": input_sequence").c_str()));
    if (!value->type.holdsSequence()) return invalidArgument(where + ": input is a " + containerTypeName(value->type) + ", not a sequence");
    if (!value->hasElement) return invalidArgument(where + ": input is an empty optional, not a sequence");
    return value;
}

HostValue sequenceLike(const HostValue& from) { return {ContainerType::sequenceOf(from.type.elementType, std::nullopt), true, from.tensors}; }

Expected<std::unique_ptr<Kernel>> createSequenceEmpty(const Node& node) {
    // Inference typed the output from the `dtype` attribute (an ONNX code) already.
    const DataType dtype = node.outputs[0] ? node.outputs[0]->container.elementType : DataType::kFLOAT;
    return hostKernel("cpu.sequence_empty", [dtype](const KernelIO& io) {
        storeOutput(io, 0, {ContainerType::sequenceOf(dtype, std::nullopt), true, {}});
        return Status::ok();
    });
}

Expected<std::unique_ptr<Kernel>> createSequenceConstruct(const Node& node) {
    return hostKernel("cpu.sequence_construct", [name = node.opType](const KernelIO& io) {
        HostValue seq{ContainerType::sequenceOf(io.input(0).dtype, std::nullopt), true, {}};
        for (size_t i = 0; i < io.numInputs; ++i) {
            if (io.input(i).dtype != io.input(0).dtype) return invalidArgument(name + ": inputs differ in element type");
            seq.tensors.push_back(copyOf(io.input(i)));
        }
        storeOutput(io, 0, std::move(seq));
        return Status::ok();
    });
}

Expected<std::unique_ptr<Kernel>> createSequenceInsert(const Node& node) {
    return hostKernel("cpu.sequence_insert", [name = node.opType](const KernelIO& io) -> Status {
        KILN_ASSIGN_OR_RETURN(const HostValue* in, sequenceInput(io, 0, name));
        if (io.input(1).dtype != in->type.elementType)
            return invalidArgument(name + ": inserts a " + dataTypeName(io.input(1).dtype) + " tensor into a " +
                                   containerTypeName(in->type));
        size_t at = in->tensors.size();
        if (io.hasInput(2)) {
            KILN_ASSIGN_OR_RETURN(int64_t position, readPosition(io.input(2)));
            KILN_ASSIGN_OR_RETURN(at, normalizedPosition(position, in->tensors.size(), true, name));
        }
        HostValue out = sequenceLike(*in);
        out.tensors.insert(out.tensors.begin() + static_cast<std::ptrdiff_t>(at), copyOf(io.input(1)));
        storeOutput(io, 0, std::move(out));
        return Status::ok();
    });
}

Expected<std::unique_ptr<Kernel>> createSequenceErase(const Node& node) {
    return hostKernel("cpu.sequence_erase", [name = node.opType](const KernelIO& io) -> Status {
        KILN_ASSIGN_OR_RETURN(const HostValue* in, sequenceInput(io, 0, name));
        if (in->tensors.empty()) return invalidArgument(name + ": cannot erase from an empty sequence");
        size_t at = in->tensors.size() - 1;
        if (io.hasInput(1)) {
            KILN_ASSIGN_OR_RETURN(int64_t position, readPosition(io.input(1)));
            KILN_ASSIGN_OR_RETURN(at, normalizedPosition(position, in->tensors.size(), false, name));
        }
        HostValue out = sequenceLike(*in);
        out.tensors.erase(out.tensors.begin() + static_cast<std::ptrdiff_t>(at));
        storeOutput(io, 0, std::move(out));
        return Status::ok();
    });
}

Expected<std::unique_ptr<Kernel>> createSequenceAt(const Node& node) {
    std::string name = node.opType;
    auto element = [name](const KernelIO& io) -> Expected<const Tensor*> {
        KILN_ASSIGN_OR_RETURN(const HostValue* in, sequenceInput(io, 0, name));
        KILN_ASSIGN_OR_RETURN(int64_t position, readPosition(io.input(1)));
        KILN_ASSIGN_OR_RETURN(size_t at, normalizedPosition(position, in->tensors.size(), false, name));
        return &in->tensors[at];
    };
    return hostKernel(
        "cpu.sequence_at",
        [element, name](const KernelIO& io) -> Status {
            KILN_ASSIGN_OR_RETURN(const Tensor* t, element(io));
            return writeTensor(*t, io.output(0), name);
        },
        [element](const KernelIO& io) -> Expected<std::vector<Shape>> {
            KILN_ASSIGN_OR_RETURN(const Tensor* t, element(io));
            return std::vector<Shape>{t->shape()};
        });
}

Expected<std::unique_ptr<Kernel>> createSequenceLength(const Node& node) {
    return hostKernel("cpu.sequence_length", [name = node.opType](const KernelIO& io) -> Status {
        KILN_ASSIGN_OR_RETURN(const HostValue* in, sequenceInput(io, 0, name));
        *io.output(0).as<int64_t>() = static_cast<int64_t>(in->tensors.size());
        return Status::ok();
    });
}

/// Copies [begin, begin + length) along `axis` of `in` into a new tensor of shape `shape`.
Tensor sliceAlong(const TensorView& in, size_t axis, int64_t begin, int64_t length, Shape shape) {
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < axis; ++d) outer *= in.shape[d];
    for (size_t d = axis + 1; d < in.shape.size(); ++d) inner *= in.shape[d];
    const size_t elementSize = dataTypeSize(in.dtype);
    const size_t row = static_cast<size_t>(length * inner) * elementSize;
    Tensor t = Tensor::allocate(in.dtype, std::move(shape));
    const auto* src = static_cast<const uint8_t*>(in.data);
    auto* dst = static_cast<uint8_t*>(t.data());
    for (int64_t o = 0; o < outer; ++o)
        std::memcpy(dst + static_cast<size_t>(o) * row,
                    src + static_cast<size_t>((o * in.shape[axis] + begin) * inner) * elementSize, row);
    return t;
}

Expected<std::unique_ptr<Kernel>> createSplitToSequence(const Node& node) {
    const int64_t axisAttr = node.attrs.getInt("axis", 0);
    const bool keepdims = node.attrs.getInt("keepdims", 1) != 0;
    return hostKernel("cpu.split_to_sequence", [axisAttr, keepdims, name = node.opType](const KernelIO& io) -> Status {
        const TensorView& in = io.input(0);
        const int64_t rank = in.rank();
        if (axisAttr < -rank || axisAttr >= rank) return invalidArgument(name + ": axis is out of range");
        const size_t axis = static_cast<size_t>(axisAttr < 0 ? axisAttr + rank : axisAttr);
        const int64_t extent = in.shape[axis];
        std::vector<int64_t> lengths;
        if (!io.hasInput(1)) {
            lengths.assign(static_cast<size_t>(extent), 1);
        } else {
            const TensorView& split = io.input(1);
            std::vector<int64_t> values;
            for (int64_t i = 0; i < split.elementCount(); ++i)
                values.push_back(split.dtype == DataType::kINT32 ? split.as<int32_t>()[i] : split.as<int64_t>()[i]);
            if (split.rank() == 0) {
                if (values[0] <= 0) return invalidArgument(name + ": split must be positive");
                for (int64_t at = 0; at < extent; at += values[0]) lengths.push_back(std::min(values[0], extent - at));
            } else {
                int64_t sum = 0;
                for (int64_t v : values) {
                    if (v < 0) return invalidArgument(name + ": split lengths must not be negative");
                    sum += v;
                }
                if (sum != extent)
                    return invalidArgument(name + ": split lengths sum to " + std::to_string(sum) + ", the axis has " +
                                           std::to_string(extent));
                lengths = std::move(values);
            }
        }
        HostValue seq{ContainerType::sequenceOf(in.dtype, std::nullopt), true, {}};
        int64_t begin = 0;
        for (int64_t length : lengths) {
            Shape shape = in.shape;
            shape[axis] = length;
            // keepdims only matters when split is not given (every piece has length 1).
            if (!keepdims && !io.hasInput(1)) shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(axis));
            seq.tensors.push_back(sliceAlong(in, axis, begin, length, std::move(shape)));
            begin += length;
        }
        storeOutput(io, 0, std::move(seq));
        return Status::ok();
    });
}

Expected<std::unique_ptr<Kernel>> createConcatFromSequence(const Node& node) {
    const int64_t axisAttr = node.attrs.getInt("axis", 0);
    const bool newAxis = node.attrs.getInt("new_axis", 0) != 0;
    std::string name = node.opType;
    // The output shape and the normalized axis, checking that the elements fit together.
    auto layout = [axisAttr, newAxis, name](const HostValue& seq) -> Expected<std::pair<Shape, size_t>> {
        if (seq.tensors.empty()) return invalidArgument(name + ": cannot concatenate an empty sequence");
        const Shape& first = seq.tensors[0].shape();
        const int64_t rank = static_cast<int64_t>(first.size()) + (newAxis ? 1 : 0);
        if (axisAttr < -rank || axisAttr >= rank)
            return invalidArgument(name + ": axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(rank));
        const size_t axis = static_cast<size_t>(axisAttr < 0 ? axisAttr + rank : axisAttr);
        Shape out = first;
        if (newAxis) out.insert(out.begin() + static_cast<std::ptrdiff_t>(axis), 0);
        else out[axis] = 0;
        for (const Tensor& t : seq.tensors) {
            Shape s = t.shape();
            if (newAxis) s.insert(s.begin() + static_cast<std::ptrdiff_t>(axis), 1);
            bool fits = s.size() == out.size();
            for (size_t d = 0; fits && d < s.size(); ++d) fits = d == axis || s[d] == out[d];
            if (!fits)
                return invalidArgument(name + ": elements of shapes " + shapeToString(first, true) + " and " +
                                       shapeToString(t.shape(), true) + " cannot be concatenated");
            out[axis] += s[axis];
        }
        return std::make_pair(out, axis);
    };
    return hostKernel(
        "cpu.concat_from_sequence",
        [layout, name](const KernelIO& io) -> Status {
            KILN_ASSIGN_OR_RETURN(const HostValue* seq, sequenceInput(io, 0, name));
            KILN_ASSIGN_OR_RETURN(auto shapeAndAxis, layout(*seq));
            const auto& [shape, axis] = shapeAndAxis;
            if (shape != io.output(0).shape) return internalError(name + ": output planned at another shape");
            int64_t outer = 1;
            for (size_t d = 0; d < axis; ++d) outer *= shape[d];
            const size_t elementSize = dataTypeSize(io.output(0).dtype);
            const size_t outRow = static_cast<size_t>(shapeElementCount(shape) / std::max<int64_t>(outer, 1)) * elementSize;
            auto* dst = static_cast<uint8_t*>(io.output(0).data);
            size_t offset = 0;  // bytes into each output row
            for (const Tensor& t : seq->tensors) {
                const size_t row = static_cast<size_t>(t.elementCount() / std::max<int64_t>(outer, 1)) * elementSize;
                const auto* src = static_cast<const uint8_t*>(t.data());
                for (int64_t o = 0; o < outer; ++o)
                    std::memcpy(dst + static_cast<size_t>(o) * outRow + offset, src + static_cast<size_t>(o) * row, row);
                offset += row;
            }
            return Status::ok();
        },
        [layout, name](const KernelIO& io) -> Expected<std::vector<Shape>> {
            KILN_ASSIGN_OR_RETURN(const HostValue* seq, sequenceInput(io, 0, name));
            KILN_ASSIGN_OR_RETURN(auto shapeAndAxis, layout(*seq));
            return std::vector<Shape>{shapeAndAxis.first};
        });
}

Expected<std::unique_ptr<Kernel>> createOptional(const Node& node) {
    const ContainerType type = node.outputs[0] ? node.outputs[0]->container : ContainerType{};
    const bool inputIsTensor = node.hasInput(0) && node.input(0)->container.isTensor();
    return hostKernel("cpu.optional", [type, inputIsTensor, name = node.opType](const KernelIO& io) -> Status {
        HostValue out{type, io.hasInput(0), {}};
        if (io.hasInput(0) && inputIsTensor) {
            out.tensors.push_back(copyOf(io.input(0)));
        } else if (io.hasInput(0)) {
            KILN_ASSIGN_OR_RETURN(const HostValue* seq, sequenceInput(io, 0, name));
            out.tensors = seq->tensors;
        }
        storeOutput(io, 0, std::move(out));
        return Status::ok();
    });
}

Expected<std::unique_ptr<Kernel>> createOptionalHasElement(const Node& node) {
    const bool inputIsTensor = node.hasInput(0) && node.input(0)->container.isTensor();
    return hostKernel("cpu.optional_has_element", [inputIsTensor](const KernelIO& io) -> Status {
        bool has = io.hasInput(0);
        if (has && !inputIsTensor) {
            KILN_ASSIGN_OR_RETURN(const HostValue* in, readHandle(io.input(0), "OptionalHasElement's input"));
            // A value declared optional may hold a plain sequence (a Loop's state after its first
            // iteration): that is present.
            has = !in->type.isOptional() || in->hasElement;
        }
        *io.output(0).as<uint8_t>() = has ? 1 : 0;
        return Status::ok();
    });
}

/// OptionalGetElement: of an optional, its contents (an error when empty); of a tensor or sequence,
/// the input itself.
Expected<std::unique_ptr<Kernel>> createOptionalGetElement(const Node& node) {
    const bool inputIsTensor = node.input(0)->container.isTensor();
    const bool outputIsTensor = node.outputs[0] && node.outputs[0]->container.isTensor();
    std::string name = node.opType;
    auto contents = [name](const KernelIO& io) -> Expected<const HostValue*> {
        KILN_ASSIGN_OR_RETURN(const HostValue* in, readHandle(io.input(0), "OptionalGetElement's input"));
        if (in->type.isOptional() && !in->hasElement) return invalidArgument(name + ": the optional is empty");
        return in;
    };
    return hostKernel(
        "cpu.optional_get_element",
        [contents, inputIsTensor, outputIsTensor, name](const KernelIO& io) -> Status {
            if (inputIsTensor) return writeTensor(copyOf(io.input(0)), io.output(0), name);
            KILN_ASSIGN_OR_RETURN(const HostValue* in, contents(io));
            if (outputIsTensor) {
                if (in->type.holdsSequence() || in->tensors.size() != 1)
                    return invalidArgument(name + ": holds a " + containerTypeName(in->type) + " where a tensor is expected");
                return writeTensor(in->tensors[0], io.output(0), name);
            }
            if (!in->type.holdsSequence())
                return invalidArgument(name + ": holds a " + containerTypeName(in->type) + " where a sequence is expected");
            storeOutput(io, 0, sequenceLike(*in));
            return Status::ok();
        },
        [contents, inputIsTensor, outputIsTensor, name](const KernelIO& io) -> Expected<std::vector<Shape>> {
            if (inputIsTensor || !outputIsTensor) return std::vector<Shape>{io.input(0).shape};
            KILN_ASSIGN_OR_RETURN(const HostValue* in, contents(io));
            if (in->type.holdsSequence() || in->tensors.size() != 1)
                return invalidArgument(name + ": holds a " + containerTypeName(in->type) + " where a tensor is expected");
            return std::vector<Shape>{in->tensors[0].shape()};
        });
}

}  // namespace

void registerSequenceKernels(CpuKernelRegistry& registry) {
    registry.add({"SequenceEmpty", {}, createSequenceEmpty, ""});
    registry.add({"SequenceConstruct", {}, createSequenceConstruct, ""});
    registry.add({"SequenceInsert", {}, createSequenceInsert, ""});
    registry.add({"SequenceErase", {}, createSequenceErase, ""});
    registry.add({"SequenceAt", {}, createSequenceAt, ""});
    registry.add({"SequenceLength", {}, createSequenceLength, ""});
    registry.add({"SplitToSequence", {}, createSplitToSequence, ""});
    registry.add({"ConcatFromSequence", {}, createConcatFromSequence, ""});
    registry.add({"Optional", {}, createOptional, ""});
    registry.add({"OptionalHasElement", {}, createOptionalHasElement, ""});
    registry.add({"OptionalGetElement", {}, createOptionalGetElement, ""});
    auto cpuSupports = [](const Node& node, std::string* reason) { return cpuBackend().supports(node, reason); };
    registry.add({"SequenceMap", supportsSubgraphs({"body"}, cpuSupports),
                  [](const Node& node) { return createSequenceMapKernel(cpuBackend(), node); }, ""});
}

}  // namespace kiln
