// Signal ops: DFT (opset-20 form: dft_length and axis are inputs), STFT, MelWeightMatrix and the window generators
// HannWindow HammingWindow BlackmanWindow. Their output lengths follow from input values: known
// when the values are, else inferred again at run time.

#include "ir/onnx_types.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

Status inferDft(InferenceContext& ctx) {
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("input must be floating-point");
    const SymShape& x = ctx.inputShape(0);
    const int64_t rank = static_cast<int64_t>(x.size());
    if (rank < 2) return ctx.error("input must have rank >= 2 ([..., signal..., 1 or 2])");
    if (x.back().isKnown() && x.back().value != 1 && x.back().value != 2)
        return ctx.error("the last dimension must be 1 (real) or 2 (complex), got " + std::to_string(x.back().value));
    const bool inverse = ctx.attrs().getInt("inverse", 0) != 0;
    const bool onesided = ctx.attrs().getInt("onesided", 0) != 0;
    int64_t axis = -2;
    if (ctx.hasInput(2)) {
        auto a = shapeinfer::knownInts(ctx, 2);
        if (!a) {
            SymShape out(x.size(), Dim::unknown());
            ctx.setOutput(0, ctx.inputType(0), std::move(out));
            return Status::ok();
        }
        axis = (*a)[0];
    }
    auto normalized = normalizeAxis(axis, rank);
    if (!normalized || *normalized == rank - 1)
        return ctx.error("axis " + std::to_string(axis) + " must name a signal axis (not the last) of rank " + std::to_string(rank));
    SymShape out = x;
    Dim& length = out[static_cast<size_t>(*normalized)];
    std::optional<int64_t> n;
    if (ctx.hasInput(1)) {
        if (auto v = shapeinfer::knownInts(ctx, 1)) n = (*v)[0];
    } else if (x[static_cast<size_t>(*normalized)].isKnown()) {
        int64_t in = x[static_cast<size_t>(*normalized)].value;
        n = inverse && onesided ? 2 * (in - 1) : in;
    }
    if (n && *n < 1) return ctx.error("dft_length must be >= 1, got " + std::to_string(*n));
    if (!n) length = Dim::unknown();
    else length = Dim(!inverse && onesided ? *n / 2 + 1 : *n);
    out.back() = Dim(inverse && onesided ? 1 : 2);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferWindow(InferenceContext& ctx) {
    if (ctx.inputType(0) != DataType::kINT64 && ctx.inputType(0) != DataType::kINT32) return ctx.error("size must be an integer scalar");
    KILN_RETURN_IF_ERROR(shapeinfer::checkScalarInput(ctx, 0, "size"));
    auto type = dataTypeFromOnnx(ctx.attrs().getInt("output_datatype", 1));
    if (!type) return ctx.error("output_datatype " + std::to_string(ctx.attrs().getInt("output_datatype", 1)) + " is not supported");
    Dim length = Dim::unknown();
    if (auto size = shapeinfer::knownInts(ctx, 0)) {
        if ((*size)[0] < 0) return ctx.error("size must be >= 0, got " + std::to_string((*size)[0]));
        length = Dim((*size)[0]);
    }
    ctx.setOutput(0, *type, {length});
    return Status::ok();
}

Status inferStft(InferenceContext& ctx) {
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("signal must be floating-point");
    const SymShape& x = ctx.inputShape(0);
    if (x.size() != 3) return ctx.error("signal must have rank 3 [batch, length, 1 or 2]");
    KILN_RETURN_IF_ERROR(shapeinfer::checkScalarInput(ctx, 1, "frame_step"));
    if (ctx.hasInput(2) && ctx.inputRank(2) != 1) return ctx.error("window must be 1-D");
    std::optional<int64_t> frameLength;
    if (ctx.hasInput(3)) {
        if (auto v = shapeinfer::knownInts(ctx, 3)) frameLength = (*v)[0];
    } else if (ctx.hasInput(2) && ctx.inputShape(2)[0].isKnown()) {
        frameLength = ctx.inputShape(2)[0].value;
    } else if (!ctx.hasInput(2) && x[1].isKnown()) {
        frameLength = x[1].value;
    }
    auto step = shapeinfer::knownInts(ctx, 1);
    const bool onesided = ctx.attrs().getInt("onesided", 1) != 0;
    Dim frames = Dim::unknown(), bins = Dim::unknown();
    if (frameLength) {
        if (*frameLength < 1) return ctx.error("frame_length must be >= 1");
        bins = Dim(onesided ? *frameLength / 2 + 1 : *frameLength);
        if (step && x[1].isKnown()) {
            if ((*step)[0] < 1) return ctx.error("frame_step must be >= 1");
            if (x[1].value < *frameLength) return ctx.error("the signal is shorter than one frame");
            frames = Dim(1 + (x[1].value - *frameLength) / (*step)[0]);
        }
    }
    ctx.setOutput(0, ctx.inputType(0), {x[0], frames, bins, Dim(2)});
    return Status::ok();
}

Status inferMelWeightMatrix(InferenceContext& ctx) {
    for (size_t i = 0; i < 5; ++i) KILN_RETURN_IF_ERROR(shapeinfer::checkScalarInput(ctx, i, "input " + std::to_string(i)));
    for (size_t i = 0; i < 3; ++i)
        if (ctx.inputType(i) != DataType::kINT32 && ctx.inputType(i) != DataType::kINT64)
            return ctx.error("num_mel_bins, dft_length and sample_rate must be integers");
    auto type = dataTypeFromOnnx(ctx.attrs().getInt("output_datatype", 1));
    if (!type) return ctx.error("output_datatype " + std::to_string(ctx.attrs().getInt("output_datatype", 1)) + " is not supported");
    auto bins = shapeinfer::knownInts(ctx, 0);
    auto length = shapeinfer::knownInts(ctx, 1);
    ctx.setOutput(0, *type, {length ? Dim((*length)[0] / 2 + 1) : Dim::unknown(), bins ? Dim((*bins)[0]) : Dim::unknown()});
    return Status::ok();
}

}  // namespace

void registerSignalOps(OpRegistry& registry) {
    registry.add({"MelWeightMatrix", "", inferMelWeightMatrix, 5, 5});
    registry.add({"DFT", "", inferDft, 1, 3});
    registry.add({"STFT", "", inferStft, 2, 4});
    for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"}) registry.add({op, "", inferWindow, 1, 1});
}

}  // namespace kiln
