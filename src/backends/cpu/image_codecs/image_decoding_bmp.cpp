// BMP by stb_image, compiled here with its BMP decoder only: the other formats have their own
// libraries (PNM, a header and raw samples, is read in image_decoding_pnm.cpp). stb_image leaves
// nothing global behind but the failure reason, which it keeps per thread.
//
// stb_image reads past the end of the data as zeros (a truncated file would decode with black rows)
// and took unknown compression codes for plain rows, so the header is read here first
// (readBmpHeader): its fields in range, and the pixel bytes it promises present.

#include <climits>
#include <cstring>
#include <string>

#include "backends/cpu/image_codecs/image_decoding.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_BMP
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

/// What the header says, read here before stb_image sees the data.
struct BmpHeader {
    int64_t width;
    int64_t height;
    uint64_t pixelDataEnd;  // where the pixels the header promises end
};

/// An uncompressed BMP's header: its pixels end at the pixel offset plus the rows, each padded to
/// 4 bytes. Compressed pixels (RLE, or a JPEG or PNG inside) are refused: stb_image does not read
/// them, and it took an unknown compression code for plain rows.
Expected<BmpHeader> readBmpHeader(const uint8_t* data, size_t size) {
    if (size < 18) return invalidArgument("the BMP header is cut short");
    const uint32_t headerSize = littleEndian(data + 14, 4);
    if (headerSize != 12 && headerSize != 40 && headerSize != 52 && headerSize != 56 && headerSize != 108 &&
        headerSize != 124)
        return invalidArgument("unknown BMP header size " + std::to_string(headerSize));
    if (size < 14 + uint64_t{headerSize}) return invalidArgument("the BMP header is cut short");
    const uint64_t offset = littleEndian(data + 10, 4);
    int64_t width = 0, height = 0;
    uint32_t bitsPerPixel = 0, compression = 0;
    if (headerSize == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
        width = littleEndian(data + 18, 2);
        height = littleEndian(data + 20, 2);
        bitsPerPixel = littleEndian(data + 24, 2);
    } else {
        width = static_cast<int32_t>(littleEndian(data + 18, 4));
        height = static_cast<int32_t>(littleEndian(data + 22, 4));  // negative: rows stored top-down
        bitsPerPixel = littleEndian(data + 28, 2);
        compression = littleEndian(data + 30, 4);
    }
    const bool uncompressed = compression == 0 || compression == 3 || compression == 6;  // RGB, (alpha) bit fields
    if (!uncompressed)
        return invalidArgument("BMP compression " + std::to_string(compression) + " is not supported: only uncompressed BMPs are");
    if (bitsPerPixel != 1 && bitsPerPixel != 4 && bitsPerPixel != 8 && bitsPerPixel != 16 && bitsPerPixel != 24 &&
        bitsPerPixel != 32)
        return invalidArgument("BMP with " + std::to_string(bitsPerPixel) + " bits a pixel");
    if (height < 0) height = -height;
    KILN_RETURN_IF_ERROR(checkImageSize(width, height));
    const uint64_t rowBytes = (static_cast<uint64_t>(width) * bitsPerPixel + 31) / 32 * 4;
    return BmpHeader{width, height, offset + rowBytes * static_cast<uint64_t>(height)};
}

}  // namespace

Expected<RgbImage> decodeBmp(const uint8_t* data, size_t size) {
    if (size > INT_MAX) return invalidArgument("the encoded image is over 2 GiB");
    KILN_ASSIGN_OR_RETURN(const BmpHeader header, readBmpHeader(data, size));
    if (header.pixelDataEnd > size)
        return invalidArgument("the data ends inside the pixels: the header promises " + std::to_string(header.pixelDataEnd) +
                               " bytes, there are " + std::to_string(size));
    // The image's own channels (3, or 4 with alpha), made RGB here: stb_image's own conversions
    // read past their buffer in one path (16-bit samples to another channel count).
    int width = 0, height = 0, channels = 0;
    stbi_uc* pixels = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(data), static_cast<int>(size), &width,
                                            &height, &channels, 0);
    if (!pixels) return invalidArgument(std::string("stb_image could not decode it: ") + stbi_failure_reason());
    RgbImage image = allocateRgbImage(width, height);
    const size_t count = static_cast<size_t>(width) * static_cast<size_t>(height);
    for (size_t i = 0; i < count && channels >= 1 && channels <= 4; ++i) {
        const stbi_uc* p = pixels + i * static_cast<size_t>(channels);
        const bool gray = channels <= 2;  // gray, or gray and alpha
        for (size_t c = 0; c < 3; ++c) image.rgb[3 * i + c] = p[gray ? 0 : c];
    }
    stbi_image_free(pixels);
    if (channels < 1 || channels > 4) return internalError("stb_image gave " + std::to_string(channels) + " channels");
    if (width != header.width || height != header.height)
        return internalError("stb_image read a " + std::to_string(width) + "x" + std::to_string(height) +
                             " image where the header says " + std::to_string(header.width) + "x" +
                             std::to_string(header.height));
    return image;
}

}  // namespace kiln::imagecodecs
