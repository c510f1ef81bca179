#pragma once
// Channels-last (NHWC) regions for convolutional networks (ONNX Runtime's "NHWC transformer +
// transpose optimizer" idea, in Kiln's terms). cuDNN's FP16/BF16 tensor-core convolutions read and
// write NHWC; in Kiln's NCHW graph they would reformat internally at every layer. This pass
//   1. turns each eligible 2-D Conv / kiln::FusedConv (rank-4 X of one of the pass's types) into
//      Transpose(X, to NHWC) -> FusedConv(kiln_channels_last = 1) -> Transpose(Y, to NCHW), with the
//      weights and the residual transposed to NHWC too (constant weights fold at build time);
//   2. sinks each to-NCHW Transpose it made down through the layers that do not care about the layout
//      (elementwise ops, Cast, kiln::FusedPointwise, MaxPool / AveragePool as kiln::ChannelsLastPool,
//      GlobalAveragePool / GlobalMaxPool as ReduceMean / ReduceMax over H and W, Concat on channels),
//      giving their other operands the opposite Transpose (after leading unit axes up to rank 4);
//   3. cancels the Transpose pairs this leaves between layers (LayoutCancellation), folds the weight
//      transposes (ConstantFolding), drops what nothing reads and infers shapes again.
// Everything else is a region boundary, where one Transpose remains. Graph outputs keep their names
// and NCHW layout. Layers are only made when the backend supports them (the predicate).

#include <set>

#include "passes/pass.h"
#include "passes/precision_assignment.h"

namespace kiln {

class ChannelsLastLayout : public Pass {
public:
    /// Convolutions whose X has a type in `types` switch to NHWC (the builder passes float16 and
    /// bfloat16); `supports` says which layers the target backend runs.
    ChannelsLastLayout(std::set<DataType> types, BackendSupport supports)
        : mTypes(std::move(types)), mSupports(std::move(supports)) {}

    const char* name() const override { return "channels-last layout"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;

private:
    std::set<DataType> mTypes;
    BackendSupport mSupports;
};

}  // namespace kiln
