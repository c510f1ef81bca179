// CPU kernels that rearrange a tensor by a fixed index map: Transpose Tile DepthToSpace SpaceToDepth.
// Each is one strided copy planned at reshape (see tensor_copy.h): a transpose of some view of the
// input, or for Tile a broadcast over interleaved repeat dims.

#include <functional>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "backends/cpu/kernels/tensor_kernel_parts.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln::tensorkernels {

using datamove::StridedCopy;

namespace {

using CopyPlanner = std::function<Expected<StridedCopy>(const Shape& in, const Shape& out)>;

class PlannedCopyKernel : public Kernel {
public:
    PlannedCopyKernel(std::string tactic, CopyPlanner planner)
        : mTactic(std::move(tactic)), mPlanner(std::move(planner)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_ASSIGN_OR_RETURN(mCopy, mPlanner(inputs[0].shape, outputs[0].shape));
        if (shapeElementCount(mCopy.extents) != outputs[0].elementCount())
            return internalError(mTactic + ": planned copy does not cover the output " +
                                 shapeToString(outputs[0].shape, true));
        mCopy.simplify();
        return Status::ok();
    }
    Status run(const KernelIO& io) override {
        mCopy.run(io.input(0).data, io.output(0).data, dataTypeSize(io.output(0).dtype));
        return Status::ok();
    }
    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    CopyPlanner mPlanner;
    StridedCopy mCopy;
};

std::unique_ptr<Kernel> plannedKernel(std::string tactic, CopyPlanner planner) {
    return std::make_unique<PlannedCopyKernel>(std::move(tactic), std::move(planner));
}

Expected<std::unique_ptr<Kernel>> createTranspose(const Node& node) {
    std::optional<std::vector<int64_t>> permAttr = node.attrs.getInts("perm");
    std::string name = node.describe();
    return plannedKernel("cpu.transpose_strided", [=](const Shape& in, const Shape&) -> Expected<StridedCopy> {
        std::vector<int64_t> perm = shapeinfer::transposePerm(permAttr, in.size());
        std::vector<bool> seen(in.size(), false);
        if (perm.size() != in.size()) return invalidModel(name + ": perm does not match the input rank");
        for (int64_t& p : perm) {
            auto axis = normalizeAxis(p, static_cast<int64_t>(in.size()));
            if (!axis || seen[static_cast<size_t>(*axis)]) return invalidModel(name + ": perm is not a permutation");
            seen[static_cast<size_t>(*axis)] = true;
            p = *axis;
        }
        return datamove::transposeCopy(in, perm);
    });
}

Expected<std::unique_ptr<Kernel>> createTile(const Node& node) {
    std::string name = node.describe();
    return plannedKernel("cpu.tile_strided", [name](const Shape& in, const Shape& out) -> Expected<StridedCopy> {
        if (in.size() != out.size()) return invalidArgument(name + ": output rank differs from the input's");
        std::vector<int64_t> inStrides = datamove::contiguousStrides(in);
        StridedCopy copy;
        // Output dim i of extent r*d, row-major, is the pair (repeat r, element d).
        for (size_t i = 0; i < in.size(); ++i) {
            int64_t repeats = in[i] == 0 ? 0 : out[i] / in[i];
            if (in[i] != 0 && repeats * in[i] != out[i])
                return invalidArgument(name + ": output extent " + std::to_string(out[i]) + " is not a multiple of " +
                                       std::to_string(in[i]));
            copy.extents.push_back(repeats);
            copy.srcStrides.push_back(0);
            copy.extents.push_back(in[i]);
            copy.srcStrides.push_back(inStrides[i]);
        }
        if (shapeElementCount(out) == 0) copy.extents.assign(1, 0);
        return copy;
    });
}

Expected<std::pair<int64_t, bool>> blockAttributes(const Node& node) {
    int64_t block = node.attrs.getInt("blocksize", 0);
    if (block < 1) return invalidModel(node.describe() + ": attribute 'blocksize' must be a positive integer");
    std::string mode = node.attrs.getString("mode", "DCR");
    if (mode != "DCR" && mode != "CRD")
        return invalidModel(node.describe() + ": mode '" + mode + "' is not DCR or CRD");
    return std::make_pair(block, mode == "CRD");
}

Expected<std::unique_ptr<Kernel>> createDepthToSpace(const Node& node) {
    KILN_ASSIGN_OR_RETURN(auto attrs, blockAttributes(node));
    auto [b, crd] = attrs;
    std::string name = node.describe();
    return plannedKernel(
        crd ? "cpu.depth_to_space_crd" : "cpu.depth_to_space_dcr",
        [=](const Shape& in, const Shape&) -> Expected<StridedCopy> {
            if (in.size() != 4 || in[1] % (b * b) != 0)
                return invalidArgument(name + ": input " + shapeToString(in, true) + " does not fit the block size");
            int64_t c = in[1] / (b * b);
            // The spec's reshape + transpose, as one copy.
            if (crd) return datamove::transposeCopy({in[0], c, b, b, in[2], in[3]}, {0, 1, 4, 2, 5, 3});
            return datamove::transposeCopy({in[0], b, b, c, in[2], in[3]}, {0, 3, 4, 1, 5, 2});
        });
}

Expected<std::unique_ptr<Kernel>> createSpaceToDepth(const Node& node) {
    KILN_ASSIGN_OR_RETURN(auto attrs, blockAttributes(node));
    auto [b, crd] = attrs;
    std::string name = node.describe();
    return plannedKernel(
        crd ? "cpu.space_to_depth_crd" : "cpu.space_to_depth_dcr",
        [=](const Shape& in, const Shape&) -> Expected<StridedCopy> {
            if (in.size() != 4 || in[2] % b != 0 || in[3] % b != 0)
                return invalidArgument(name + ": input " + shapeToString(in, true) + " does not fit the block size");
            Shape view{in[0], in[1], in[2] / b, b, in[3] / b, b};
            if (crd) return datamove::transposeCopy(view, {0, 1, 3, 5, 2, 4});
            return datamove::transposeCopy(view, {0, 3, 5, 1, 2, 4});
        });
}

}  // namespace

void registerLayoutKernels(CpuKernelRegistry& registry) {
    // Transpose moves whole elements by their byte size, so it serves the low-bit types too.
    registry.add({"Transpose", {}, createTranspose, "", false, true});
    registry.add({"Tile", {}, createTile, ""});
    registry.add({"DepthToSpace", {}, createDepthToSpace, ""});
    registry.add({"SpaceToDepth", {}, createSpaceToDepth, ""});
}

}  // namespace kiln::tensorkernels
