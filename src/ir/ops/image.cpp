// Image ops: LRN (local response normalization across channels), GridSample (sampling an image
// at the grid's normalized coordinates), AffineGrid, RoiAlign, Col2Im, CenterCropPad and
// ImageDecoder. The output shapes of AffineGrid, Col2Im and CenterCropPad follow from the values of
// a shape input: known when it is, else inferred again at run time. ImageDecoder's height and width
// are in the encoded image's header: data-dependent (OpSchema::dataDependentShape).

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

Status inferImageDecoder(InferenceContext& ctx) {
    if (ctx.inputType(0) != DataType::kUINT8)
        return ctx.error(std::string("encoded_stream must be uint8, got ") + dataTypeShortName(ctx.inputType(0)));
    if (ctx.inputRank(0) != 1) return ctx.error("encoded_stream must be 1-D, got rank " + std::to_string(ctx.inputRank(0)));
    const std::string format = ctx.attrs().getString("pixel_format", "RGB");
    if (format != "RGB" && format != "BGR" && format != "Grayscale")
        return ctx.error("pixel_format must be RGB, BGR or Grayscale, got '" + format + "'");
    ctx.setOutput(0, DataType::kUINT8, {Dim::unknown(), Dim::unknown(), Dim(format == "Grayscale" ? 1 : 3)});
    return Status::ok();
}

Status inferLrn(InferenceContext& ctx) {
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("X must be floating-point");
    if (ctx.inputRank(0) < 3) return ctx.error("X must have rank >= 3 (N x C x D1 ...)");
    auto size = ctx.attrs().getInt("size");
    if (!size || *size < 1) return ctx.error("attribute 'size' (>= 1) is required");
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

Status inferGridSample(InferenceContext& ctx) {
    const SymShape& x = ctx.inputShape(0);
    const SymShape& grid = ctx.inputShape(1);
    if (x.size() < 3) return ctx.error("X must have rank >= 3 (N x C x D1 ...)");
    if (grid.size() != x.size()) return ctx.error("grid must have X's rank (N x D1_out ... x " + std::to_string(x.size() - 2) + ")");
    const Dim& last = grid.back();
    if (last.isKnown() && last.value != static_cast<int64_t>(x.size()) - 2)
        return ctx.error("grid's last dimension must be " + std::to_string(x.size() - 2) + ", got " + std::to_string(last.value));
    if (!isFloatingType(ctx.inputType(1))) return ctx.error("grid must be floating-point");
    const std::string mode = ctx.attrs().getString("mode", "linear");
    if (mode != "linear" && mode != "nearest" && mode != "cubic" && mode != "bilinear" && mode != "bicubic")
        return ctx.error("mode '" + mode + "' is not one of linear, nearest, cubic");
    const std::string padding = ctx.attrs().getString("padding_mode", "zeros");
    if (padding != "zeros" && padding != "border" && padding != "reflection")
        return ctx.error("padding_mode '" + padding + "' is not one of zeros, border, reflection");
    SymShape out{x[0], x[1]};
    for (size_t i = 1; i + 1 < grid.size(); ++i) out.push_back(grid[i]);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferAffineGrid(InferenceContext& ctx) {
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("theta must be floating-point");
    if (ctx.inputRank(0) != 3) return ctx.error("theta must have rank 3 (N x 2 x 3 or N x 3 x 4)");
    if (ctx.inputType(1) != DataType::kINT64 || ctx.inputRank(1) != 1) return ctx.error("size must be a 1-D int64 tensor");
    const Dim& count = ctx.inputShape(1)[0];
    if (!count.isKnown()) return ctx.error("the length of size must be known");
    if (count.value != 4 && count.value != 5) return ctx.error("size must hold 4 (N, C, H, W) or 5 (N, C, D, H, W) values");
    const int64_t spatial = count.value - 2;
    SymShape out(static_cast<size_t>(spatial + 2), Dim::unknown());
    out[0] = ctx.inputShape(0)[0];
    out.back() = Dim(spatial);
    if (auto size = shapeinfer::knownInts(ctx, 1))
        for (int64_t i = 0; i < spatial; ++i) out[static_cast<size_t>(1 + i)] = Dim((*size)[static_cast<size_t>(2 + i)]);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferRoiAlign(InferenceContext& ctx) {
    if (ctx.inputRank(0) != 4) return ctx.error("X must have rank 4 (N x C x H x W)");
    if (ctx.inputRank(1) != 2) return ctx.error("rois must have rank 2 (num_rois x 4)");
    if (ctx.inputRank(2) != 1 || (ctx.inputType(2) != DataType::kINT64 && ctx.inputType(2) != DataType::kINT32))
        return ctx.error("batch_indices must be a 1-D integer tensor");
    if (!isFloatingType(ctx.inputType(0)) || ctx.inputType(1) != ctx.inputType(0)) return ctx.error("X and rois must share a floating-point type");
    const std::string mode = ctx.attrs().getString("mode", "avg");
    if (mode != "avg" && mode != "max") return ctx.error("mode '" + mode + "' is not avg or max");
    const std::string coordinates = ctx.attrs().getString("coordinate_transformation_mode", "half_pixel");
    if (coordinates != "half_pixel" && coordinates != "output_half_pixel")
        return ctx.error("coordinate_transformation_mode '" + coordinates + "' is not half_pixel or output_half_pixel");
    int64_t height = ctx.attrs().getInt("output_height", 1), width = ctx.attrs().getInt("output_width", 1);
    if (height < 1 || width < 1) return ctx.error("output_height and output_width must be >= 1");
    ctx.setOutput(0, ctx.inputType(0), {ctx.inputShape(1)[0], ctx.inputShape(0)[1], Dim(height), Dim(width)});
    return Status::ok();
}

Status inferCol2Im(InferenceContext& ctx) {
    if (ctx.inputRank(0) != 3) return ctx.error("input must have rank 3 (N x C*prod(block_shape) x L)");
    for (size_t i : {size_t{1}, size_t{2}}) {
        if (ctx.inputType(i) != DataType::kINT64 || ctx.inputRank(i) != 1)
            return ctx.error(std::string(i == 1 ? "image_shape" : "block_shape") + " must be a 1-D int64 tensor");
    }
    const Dim& spatial = ctx.inputShape(1)[0];
    if (!spatial.isKnown()) return ctx.error("the length of image_shape must be known");
    SymShape out{ctx.inputShape(0)[0], Dim::unknown()};
    for (int64_t i = 0; i < spatial.value; ++i) out.push_back(Dim::unknown());
    auto image = shapeinfer::knownInts(ctx, 1);
    auto block = shapeinfer::knownInts(ctx, 2);
    if (image)
        for (size_t i = 0; i < image->size(); ++i) out[2 + i] = Dim((*image)[i]);
    if (block) {
        int64_t product = 1;
        for (int64_t b : *block) product *= b;
        const Dim& columns = ctx.inputShape(0)[1];
        if (product > 0 && columns.isKnown()) {
            if (columns.value % product != 0)
                return ctx.error("input dimension 1 (" + std::to_string(columns.value) + ") is not a multiple of the block size " + std::to_string(product));
            out[1] = Dim(columns.value / product);
        }
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferCenterCropPad(InferenceContext& ctx) {
    const int64_t rank = ctx.inputRank(0);
    if (ctx.inputRank(1) != 1 || (ctx.inputType(1) != DataType::kINT64 && ctx.inputType(1) != DataType::kINT32))
        return ctx.error("shape must be a 1-D integer tensor");
    std::vector<int64_t> axes = ctx.attrs().getInts("axes", {});
    if (axes.empty())
        for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
    KILN_RETURN_IF_ERROR(shapeinfer::normalizeAxes(ctx, axes, rank, "axes"));
    SymShape out = ctx.inputShape(0);
    auto shape = shapeinfer::knownInts(ctx, 1);
    if (shape && shape->size() != axes.size())
        return ctx.error("shape has " + std::to_string(shape->size()) + " entries for " + std::to_string(axes.size()) + " axes");
    for (size_t i = 0; i < axes.size(); ++i) out[static_cast<size_t>(axes[i])] = shape ? Dim((*shape)[i]) : Dim::unknown();
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

}  // namespace

void registerImageOps(OpRegistry& registry) {
    registry.add({"AffineGrid", "", inferAffineGrid, 2, 2});
    registry.add({"RoiAlign", "", inferRoiAlign, 3, 3});
    registry.add({"Col2Im", "", inferCol2Im, 3, 3});
    registry.add({"CenterCropPad", "", inferCenterCropPad, 2, 2});
    registry.add({"LRN", "", inferLrn, 1, 1});
    registry.add({"GridSample", "", inferGridSample, 2, 2});
    OpSchema imageDecoder{"ImageDecoder", "", inferImageDecoder, 1, 1};
    imageDecoder.dataDependentShape = true;
    registry.add(std::move(imageDecoder));
}

}  // namespace kiln
