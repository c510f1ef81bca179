// BMP and PNM (binary P5 and P6) by stb_image, compiled here with only those two decoders: the
// other formats have their own libraries. stb_image leaves nothing global behind but the failure
// reason, which it keeps per thread.
//
// stb_image reads past the end of the data as zeros, so a truncated file would decode to an image
// with black rows. The pixel bytes that the header promises are counted here first (pixelDataEnd).

#include <cctype>
#include <climits>
#include <cstring>
#include <string>

#include "backends/cpu/image_codecs/image_decoding.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace kiln::imagecodecs {

namespace {

uint32_t littleEndian(const uint8_t* p, size_t bytes) {
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
    return v;
}

/// Where an uncompressed BMP's pixels end (its pixel offset plus rows padded to 4 bytes), or 0 when
/// the header is too short to say. Compressed pixels (RLE, or a JPEG or PNG inside) are refused:
/// stb_image does not read them, and it took an unknown compression code for plain rows.
Expected<uint64_t> bmpPixelDataEnd(const uint8_t* data, size_t size) {
    if (size < 30) return 0;
    const uint64_t offset = littleEndian(data + 10, 4);
    const uint32_t headerSize = littleEndian(data + 14, 4);
    int64_t width = 0, height = 0;
    uint32_t bitsPerPixel = 0, compression = 0;
    if (headerSize == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
        width = littleEndian(data + 18, 2);
        height = littleEndian(data + 20, 2);
        bitsPerPixel = littleEndian(data + 24, 2);
    } else {
        if (size < 34) return 0;
        width = static_cast<int32_t>(littleEndian(data + 18, 4));
        height = static_cast<int32_t>(littleEndian(data + 22, 4));  // negative: rows stored top-down
        bitsPerPixel = littleEndian(data + 28, 2);
        compression = littleEndian(data + 30, 4);
    }
    const bool uncompressed = compression == 0 || compression == 3 || compression == 6;  // RGB, (alpha) bit fields
    if (!uncompressed)
        return invalidArgument("BMP compression " + std::to_string(compression) + " is not supported: only uncompressed BMPs are");
    if (width <= 0 || height == 0 || bitsPerPixel == 0 || bitsPerPixel > 32) return 0;
    if (width > kMaxImagePixels || height > kMaxImagePixels || -height > kMaxImagePixels) return 0;  // refused elsewhere
    const uint64_t rowBytes = (static_cast<uint64_t>(width) * bitsPerPixel + 31) / 32 * 4;
    return offset + rowBytes * static_cast<uint64_t>(height < 0 ? -height : height);
}

/// Where a binary PNM's pixels end (header, then width x height samples of 1 or 2 bytes), or 0 when
/// the header cannot be read.
uint64_t pnmPixelDataEnd(const uint8_t* data, size_t size) {
    size_t at = 2;  // after "P5" / "P6"
    uint64_t fields[3] = {};  // width, height, maxval
    for (uint64_t& field : fields) {
        while (at < size && (std::isspace(data[at]) || data[at] == '#')) {
            if (data[at] == '#')
                while (at < size && data[at] != '\n') ++at;
            else
                ++at;
        }
        if (at >= size || !std::isdigit(data[at])) return 0;
        while (at < size && std::isdigit(data[at]) && field < (uint64_t{1} << 32)) field = field * 10 + (data[at++] - '0');
    }
    if (fields[0] > kMaxImagePixels || fields[1] > kMaxImagePixels) return 0;  // refused elsewhere
    ++at;  // the one whitespace byte before the pixels
    const uint64_t channels = data[1] == '6' ? 3 : 1;
    const uint64_t sampleBytes = fields[2] > 255 ? 2 : 1;
    return at + fields[0] * fields[1] * channels * sampleBytes;
}

}  // namespace

Expected<RgbImage> decodeBmpOrPnm(const uint8_t* data, size_t size) {
    if (size > INT_MAX) return invalidArgument("the encoded image is over 2 GiB");
    if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '3')
        return invalidArgument("plain (ASCII) PNM files (P1, P2, P3) are not supported; binary ones (P5, P6) are");
    const auto* bytes = reinterpret_cast<const stbi_uc*>(data);
    const int length = static_cast<int>(size);
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(bytes, length, &width, &height, &channels))
        return invalidArgument(std::string("stb_image could not read the header: ") + stbi_failure_reason());
    KILN_RETURN_IF_ERROR(checkImageSize(width, height));
    const bool bmp = data[0] == 'B';
    uint64_t pixelDataEnd = 0;
    if (bmp) {
        KILN_ASSIGN_OR_RETURN(pixelDataEnd, bmpPixelDataEnd(data, size));
    } else {
        pixelDataEnd = pnmPixelDataEnd(data, size);
    }
    if (pixelDataEnd > size)
        return invalidArgument("the data ends inside the pixels: the header promises " + std::to_string(pixelDataEnd) +
                               " bytes, there are " + std::to_string(size));
    stbi_uc* pixels = stbi_load_from_memory(bytes, length, &width, &height, &channels, 3);
    if (!pixels) return invalidArgument(std::string("stb_image could not decode it: ") + stbi_failure_reason());
    RgbImage image = allocateRgbImage(width, height);
    std::memcpy(image.rgb.data(), pixels, image.rgb.size());
    stbi_image_free(pixels);
    return image;
}

}  // namespace kiln::imagecodecs
