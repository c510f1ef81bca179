// CPU kernels of the tensor (data movement) family, general part: Identity Dropout Concat Split.
// The other parts are listed in tensor_kernel_parts.h.

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "backends/cpu/kernels/tensor_kernel_parts.h"

namespace kiln {

using datamove::copyBytes;
using datamove::kParallelBytes;

namespace {

Status runIdentity(const KernelIO& io) {
    copyBytes(io.output(0).data, io.input(0).data, io.output(0).byteSize());
    return Status::ok();
}

bool trainingModeConstantTrue(const Node& node) {
    const Value* mode = node.input(2);
    return mode && mode->isConstant() && mode->constant->elementCount() == 1 && mode->constant->elementAsDouble(0) != 0;
}

bool supportsDropout(const Node& node, std::string* reason) {
    if (!trainingModeConstantTrue(node)) return true;
    if (reason) *reason = "Dropout in training mode (random masking) is not supported";
    return false;
}

Expected<std::unique_ptr<Kernel>> createDropout(const Node& node) {
    if (trainingModeConstantTrue(node))
        return unsupported(node.describe() + ": Dropout in training mode (random masking) is not supported");
    std::string name = node.describe();
    return std::unique_ptr<Kernel>(
        std::make_unique<FunctionKernel>("cpu.dropout_inference", [name](const KernelIO& io) {
            // training_mode may also arrive at run time: refuse rather than silently not drop.
            if (io.hasInput(2) && io.input(2).elementCount() == 1 && *io.input(2).as<const bool>())
                return unsupported(name + ": Dropout in training mode (random masking) is not supported");
            copyBytes(io.output(0).data, io.input(0).data, io.output(0).byteSize());
            if (io.numOutputs > 1 && io.output(1).data)
                std::memset(io.output(1).data, 1, io.output(1).byteSize());  // bool true is byte 1
            return Status::ok();
        }));
}

// Concat and Split move the same blocks in opposite directions: over `outer` rows, the joined
// tensor's row is the pieces' rows side by side.
struct JoinLayout {
    int64_t outer{0};
    size_t joinedRowBytes{0};
    std::vector<size_t> pieceRowBytes;
    std::vector<size_t> pieceOffsets;
};

Expected<JoinLayout> joinLayout(const std::string& name, int64_t axisAttr, const Shape& joined,
                                const std::vector<TensorView>& pieces) {
    auto axis = normalizeAxis(axisAttr, static_cast<int64_t>(joined.size()));
    if (!axis) return invalidModel(name + ": axis " + std::to_string(axisAttr) + " is out of range");
    JoinLayout layout;
    layout.outer = shapeElementCount(Shape(joined.begin(), joined.begin() + *axis));
    int64_t inner = shapeElementCount(Shape(joined.begin() + *axis + 1, joined.end()));
    size_t total = 0;
    for (const TensorView& piece : pieces) {
        if (piece.shape.size() != joined.size()) return invalidArgument(name + ": input and output ranks differ");
        size_t bytes = static_cast<size_t>(piece.shape[static_cast<size_t>(*axis)] * inner) * dataTypeSize(piece.dtype);
        layout.pieceOffsets.push_back(total);
        layout.pieceRowBytes.push_back(bytes);
        total += bytes;
    }
    layout.joinedRowBytes =
        static_cast<size_t>(joined[static_cast<size_t>(*axis)] * inner) * dataTypeSize(pieces[0].dtype);
    if (total != layout.joinedRowBytes) return invalidArgument(name + ": pieces do not add up to the joined axis");
    return layout;
}

class JoinKernel : public Kernel {
public:
    // split == false: Concat (pieces are the inputs); true: Split (pieces are the outputs).
    JoinKernel(std::string name, int64_t axis, bool split) : mName(std::move(name)), mAxis(axis), mSplit(split) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& joined = mSplit ? inputs[0].shape : outputs[0].shape;
        const std::vector<TensorView>& pieces = mSplit ? outputs : inputs;
        KILN_ASSIGN_OR_RETURN(mLayout, joinLayout(mName, mAxis, joined, pieces));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        uint8_t* joined = static_cast<uint8_t*>(mSplit ? io.input(0).data : io.output(0).data);
        const TensorView* pieces = mSplit ? io.outputs : io.inputs;
        const size_t count = mLayout.pieceRowBytes.size();
        const bool parallel =
            mLayout.outer > 1 && static_cast<size_t>(mLayout.outer) * mLayout.joinedRowBytes >= kParallelBytes;
#pragma omp parallel for if (parallel) schedule(static)
        for (int64_t o = 0; o < mLayout.outer; ++o) {
            for (size_t p = 0; p < count; ++p) {
                const size_t bytes = mLayout.pieceRowBytes[p];
                if (bytes == 0) continue;
                uint8_t* joinedAt = joined + static_cast<size_t>(o) * mLayout.joinedRowBytes + mLayout.pieceOffsets[p];
                uint8_t* pieceAt = static_cast<uint8_t*>(pieces[p].data) + static_cast<size_t>(o) * bytes;
                if (mSplit)
                    std::memcpy(pieceAt, joinedAt, bytes);
                else
                    std::memcpy(joinedAt, pieceAt, bytes);
            }
        }
        return Status::ok();
    }

    std::string tacticName() const override {
        return mSplit ? "cpu.split_rows" : "cpu.concat_rows";
    }

private:
    std::string mName;
    int64_t mAxis;
    bool mSplit;
    JoinLayout mLayout;
};

Expected<std::unique_ptr<Kernel>> createConcat(const Node& node) {
    auto axis = node.attrs.getInt("axis");
    if (!axis) return invalidModel(node.describe() + ": attribute 'axis' is required");
    return std::unique_ptr<Kernel>(std::make_unique<JoinKernel>(node.describe(), *axis, false));
}

Expected<std::unique_ptr<Kernel>> createSplit(const Node& node) {
    for (size_t i = 0; i < node.outputs.size(); ++i)
        if (!node.outputs[i]) return unsupported(node.describe() + ": Split with an omitted output is not supported");
    return std::unique_ptr<Kernel>(std::make_unique<JoinKernel>(node.describe(), node.attrs.getInt("axis", 0), true));
}

bool supportsSplit(const Node& node, std::string* reason) {
    for (const Value* out : node.outputs) {
        if (out) continue;
        if (reason) *reason = "Split with an omitted output is not supported";
        return false;
    }
    return true;
}

}  // namespace

void registerTensorKernels(CpuKernelRegistry& registry) {
    registry.add({"Identity",
                  {},
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.copy", runIdentity));
                  },
                  "", false, true});
    // BitCast keeps the bytes (same width, same shape): a copy, like Identity.
    registry.add({"BitCast",
                  {},
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.bitcast_copy", runIdentity));
                  },
                  "", false, true});
    registry.add({"Dropout", supportsDropout, createDropout, ""});
    // Concat copies whole elements by their byte size, so it serves the low-bit types too.
    registry.add({"Concat", {}, createConcat, "", false, true});
    registry.add({"Split", supportsSplit, createSplit, ""});
    tensorkernels::registerLayoutKernels(registry);
    tensorkernels::registerSlicePadKernels(registry);
    tensorkernels::registerGatherKernels(registry);
    tensorkernels::registerScatterKernels(registry);
    tensorkernels::registerSequenceKernels(registry);
}

}  // namespace kiln
