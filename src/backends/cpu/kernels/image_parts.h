#pragma once
// The image kernel family is split over two files: image.cpp (LRN GridSample; registers the
// family) and image_geometry.cpp (AffineGrid RoiAlign Col2Im CenterCropPad).

namespace kiln {

class CpuKernelRegistry;

namespace imagekernels {

void registerGeometryKernels(CpuKernelRegistry& registry);  // AffineGrid RoiAlign Col2Im CenterCropPad

}  // namespace imagekernels
}  // namespace kiln
