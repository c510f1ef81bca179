// Which format an encoded image is in (by its signature), and the checks every decoder shares.

#include "backends/cpu/image_codecs/image_decoding.h"

#include <cstring>
#include <string>

namespace kiln::imagecodecs {

namespace {

bool startsWith(const uint8_t* data, size_t size, std::initializer_list<uint8_t> signature) {
    return size >= signature.size() && std::memcmp(data, signature.begin(), signature.size()) == 0;
}

}  // namespace

std::optional<ImageFormat> detectImageFormat(const uint8_t* data, size_t size) {
    if (startsWith(data, size, {0xFF, 0xD8, 0xFF})) return ImageFormat::kJpeg;
    if (startsWith(data, size, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return ImageFormat::kPng;
    // The JP2 file format's signature box, or a bare JPEG 2000 codestream (SOC then SIZ marker).
    if (startsWith(data, size, {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', '\r', '\n', 0x87, '\n'}) ||
        startsWith(data, size, {0xFF, 0x4F, 0xFF, 0x51}))
        return ImageFormat::kJpeg2000;
    // Classic TIFF and BigTIFF, little- and big-endian.
    if (startsWith(data, size, {'I', 'I', 42, 0}) || startsWith(data, size, {'M', 'M', 0, 42}) ||
        startsWith(data, size, {'I', 'I', 43, 0}) || startsWith(data, size, {'M', 'M', 0, 43}))
        return ImageFormat::kTiff;
    if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0) return ImageFormat::kWebp;
    if (startsWith(data, size, {'B', 'M'})) return ImageFormat::kBmp;
    if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6') return ImageFormat::kPnm;
    return std::nullopt;
}

std::string_view imageFormatName(ImageFormat format) {
    switch (format) {
        case ImageFormat::kBmp: return "BMP";
        case ImageFormat::kJpeg: return "JPEG";
        case ImageFormat::kJpeg2000: return "JPEG 2000";
        case ImageFormat::kPng: return "PNG";
        case ImageFormat::kPnm: return "PNM";
        case ImageFormat::kTiff: return "TIFF";
        case ImageFormat::kWebp: return "WebP";
    }
    return "unknown";
}

Status checkImageSize(int64_t width, int64_t height) {
    if (width <= 0 || height <= 0)
        return invalidArgument("the image's header gives a size of " + std::to_string(width) + "x" + std::to_string(height));
    if (width > kMaxImagePixels / height)
        return invalidArgument("the image is " + std::to_string(width) + "x" + std::to_string(height) +
                               " pixels, more than the " + std::to_string(kMaxImagePixels) + " Kiln decodes");
    return Status::ok();
}

RgbImage allocateRgbImage(int64_t width, int64_t height) {
    RgbImage image;
    image.width = width;
    image.height = height;
    image.rgb.resize(static_cast<size_t>(width * height * 3));
    return image;
}

Expected<RgbImage> decodeImage(const uint8_t* data, size_t size) {
    std::optional<ImageFormat> format = detectImageFormat(data, size);
    if (!format) {
        if (size == 0) return invalidArgument("the encoded image is empty (0 bytes)");
        return invalidArgument(
            "the data is not an image in a supported format (BMP, JPEG, JPEG 2000, PNG, PNM, TIFF, WebP): its first "
            "bytes match no signature");
    }
    Expected<RgbImage> image = [&]() -> Expected<RgbImage> {
        switch (*format) {
            case ImageFormat::kJpeg: return decodeJpeg(data, size);
            case ImageFormat::kPng: return decodePng(data, size);
            case ImageFormat::kTiff: return decodeTiff(data, size);
            case ImageFormat::kWebp: return decodeWebp(data, size);
            case ImageFormat::kJpeg2000: return decodeJpeg2000(data, size);
            case ImageFormat::kBmp: return decodeBmp(data, size);
            case ImageFormat::kPnm: return decodePnm(data, size);
        }
        return internalError("unhandled image format");
    }();
    if (!image) return image.status().withContext("decoding " + std::string(imageFormatName(*format)));
    return image;
}

}  // namespace kiln::imagecodecs
