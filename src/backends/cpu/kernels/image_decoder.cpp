// CPU kernel of ImageDecoder: an encoded image (uint8 bytes of a BMP, JPEG, JPEG 2000, PNG, PNM, TIFF
// or WebP file) to its pixels, [height, width, 3] in RGB or BGR order or [height, width, 1] gray.
// The height and width are known only once the header is read: a value-dependent kernel.
//
// Gray is computed from the decoded RGB as Pillow's convert("L") does, which is what ONNX's
// reference gives: L = (19595 R + 38470 G + 7471 B + 2^15) / 2^16, ITU-R 601-2 luma in 16-bit fixed
// point, rounded.

#include <string>

#include "backends/cpu/image_codecs/image_decoding.h"
#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/image_parts.h"
#include "backends/cpu/kernels/value_dependent_kernel.h"

namespace kiln::imagekernels {

namespace {

enum class PixelFormat { kRgb, kBgr, kGrayscale };

class ImageDecoderKernel : public ValueDependentKernel {
public:
    explicit ImageDecoderKernel(PixelFormat format) : mFormat(format) {}
    std::string tacticName() const override { return "cpu.image_decoder"; }

protected:
    Expected<std::vector<Tensor>> compute(const KernelIO& io) override {
        const TensorView& encoded = io.input(0);
        // The runtime prefixes an error with the node's description.
        KILN_ASSIGN_OR_RETURN(const imagecodecs::RgbImage image,
                              imagecodecs::decodeImage(static_cast<const uint8_t*>(encoded.data),
                                                       static_cast<size_t>(encoded.elementCount())));
        const int64_t pixels = image.height * image.width;
        const int64_t channels = mFormat == PixelFormat::kGrayscale ? 1 : 3;
        Tensor out = Tensor::allocate(DataType::kUINT8, {image.height, image.width, channels});
        uint8_t* dst = out.data<uint8_t>();
        const uint8_t* rgb = image.rgb.data();
        for (int64_t i = 0; i < pixels; ++i) {
            const uint8_t* p = rgb + 3 * i;
            if (mFormat == PixelFormat::kGrayscale) {
                dst[i] = static_cast<uint8_t>((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
            } else {
                const bool bgr = mFormat == PixelFormat::kBgr;
                dst[3 * i] = p[bgr ? 2 : 0];
                dst[3 * i + 1] = p[1];
                dst[3 * i + 2] = p[bgr ? 0 : 2];
            }
        }
        return std::vector<Tensor>{std::move(out)};
    }

private:
    PixelFormat mFormat;
};

}  // namespace

void registerImageDecoderKernel(CpuKernelRegistry& registry) {
    registry.add({"ImageDecoder", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      const std::string format = node.attrs.getString("pixel_format", "RGB");
                      const PixelFormat pixelFormat =
                          format == "BGR" ? PixelFormat::kBgr : format == "Grayscale" ? PixelFormat::kGrayscale : PixelFormat::kRgb;
                      return std::unique_ptr<Kernel>(std::make_unique<ImageDecoderKernel>(pixelFormat));
                  },
                  ""});
}

}  // namespace kiln::imagekernels
