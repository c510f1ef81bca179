#pragma once
// The tensor kernel family is split by concept over several files; registerTensorKernels
// (tensor.cpp) calls each part.

namespace kiln {

class CpuKernelRegistry;

namespace tensorkernels {

void registerLayoutKernels(CpuKernelRegistry& registry);    // Transpose Tile DepthToSpace SpaceToDepth
void registerSlicePadKernels(CpuKernelRegistry& registry);  // Slice Pad
void registerGatherKernels(CpuKernelRegistry& registry);    // Gather GatherElements GatherND OneHot
void registerScatterKernels(CpuKernelRegistry& registry);   // ScatterND ScatterElements
void registerSequenceKernels(CpuKernelRegistry& registry);  // Trilu CumSum ReverseSequence

}  // namespace tensorkernels
}  // namespace kiln
