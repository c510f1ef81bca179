#pragma once
// The tensor (data movement) family is split by concept over several files; registerTensorOps
// (tensor.cpp) calls each part.

namespace kiln {

class OpRegistry;

namespace tensorops {

void registerIndexingOps(
    OpRegistry& registry);                     // Slice Gather GatherElements GatherND ScatterND ScatterElements OneHot
void registerLayoutOps(OpRegistry& registry);  // Transpose Pad Tile DepthToSpace SpaceToDepth

}  // namespace tensorops
}  // namespace kiln
