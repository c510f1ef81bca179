#pragma once
// The image kernel family is split over three files: image.cpp (LRN GridSample; registers the
// family), image_geometry.cpp (AffineGrid RoiAlign Col2Im CenterCropPad) and image_decoder.cpp.

namespace kiln {

class CpuKernelRegistry;

namespace imagekernels {

void registerGeometryKernels(CpuKernelRegistry& registry);  // AffineGrid RoiAlign Col2Im CenterCropPad
void registerImageDecoderKernel(CpuKernelRegistry& registry);  // ImageDecoder

}  // namespace imagekernels
}  // namespace kiln
