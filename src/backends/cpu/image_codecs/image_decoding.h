#pragma once
// Decoding an encoded image (the bytes of a BMP, JPEG, JPEG 2000, PNG, PNM, TIFF or WebP file) into
// 8-bit RGB pixels, for the ImageDecoder operator. Each format is decoded by its own library, the one
// Pillow uses (ONNX's reference implementation decodes with Pillow), so lossy formats give the same
// pixels: libjpeg-turbo, libpng, libtiff, libwebp and OpenJPEG; BMP by stb_image; PNM, a header and
// raw samples, here.
//
// Every decoder checks the image's dimensions before it allocates the pixels (kMaxImagePixels) and
// turns the library's errors into a Status: damaged data is an error, never a crash or a process exit.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiln::imagecodecs {

/// Decoded pixels, row-major, 3 bytes a pixel in R, G, B order.
struct RgbImage {
    int64_t height{0};
    int64_t width{0};
    std::vector<uint8_t> rgb;
};

enum class ImageFormat { kBmp, kJpeg, kJpeg2000, kPng, kPnm, kTiff, kWebp };

/// The largest image decoded: 2^28 pixels (16384 x 16384), 768 MiB of RGB. A header that claims more
/// is refused before any pixel memory is allocated.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

/// The format named by the data's signature (its first bytes), or nothing.
std::optional<ImageFormat> detectImageFormat(const uint8_t* data, size_t size);
std::string_view imageFormatName(ImageFormat format);

/// Decodes `data` in whichever supported format its signature names. Alpha channels are dropped;
/// grayscale and palette images come out as RGB.
Expected<RgbImage> decodeImage(const uint8_t* data, size_t size);

/// An error unless 0 < width, 0 < height and width * height <= kMaxImagePixels.
Status checkImageSize(int64_t width, int64_t height);
/// A zero-filled RgbImage of that size.
RgbImage allocateRgbImage(int64_t width, int64_t height);

// One decoder per library (image_decoding_<library>.cpp); decodeImage() picks by signature.
Expected<RgbImage> decodeJpeg(const uint8_t* data, size_t size);
Expected<RgbImage> decodePng(const uint8_t* data, size_t size);
Expected<RgbImage> decodeTiff(const uint8_t* data, size_t size);
Expected<RgbImage> decodeWebp(const uint8_t* data, size_t size);
Expected<RgbImage> decodeJpeg2000(const uint8_t* data, size_t size);
Expected<RgbImage> decodeBmp(const uint8_t* data, size_t size);
/// Binary PNM (P5, P6); the ASCII forms P1-P3 and P4 bitmaps are refused.
Expected<RgbImage> decodePnm(const uint8_t* data, size_t size);

}  // namespace kiln::imagecodecs
