// PNM (binary P5 gray and P6 color, the Netpbm formats): a text header and raw samples, read here
// without a library. Samples are 1 byte, or 2 big-endian bytes when maxval is over 255, and are
// scaled to 0..255 (v * 255 / maxval, rounded). The plain (ASCII) forms P1-P3 and bitmaps (P4) are
// refused.

#include <cctype>
#include <string>

#include "backends/cpu/image_codecs/image_decoding.h"

namespace kiln::imagecodecs {

namespace {

struct PnmHeader {
    int64_t width;
    int64_t height;
    uint64_t maxval;
    size_t pixelsAt;        // where the samples start
    uint64_t pixelDataEnd;  // where the samples the header promises end
};

/// A binary PNM's header ("P5" or "P6", width, height, maxval, one whitespace byte; # comments): its
/// pixels are width x height samples of 1 byte, or 2 when maxval is over 255.
Expected<PnmHeader> readPnmHeader(const uint8_t* data, size_t size) {
    if (size < 2 || (data[1] != '5' && data[1] != '6'))
        return invalidArgument("only binary PNM files (P5, P6) are supported; plain (ASCII) and bitmap ones (P1-P4) are not");
    size_t at = 2;
    uint64_t fields[3] = {};  // width, height, maxval
    for (uint64_t& field : fields) {
        while (at < size && (std::isspace(data[at]) || data[at] == '#')) {
            if (data[at] == '#')
                while (at < size && data[at] != '\n') ++at;
            else
                ++at;
        }
        if (at >= size || !std::isdigit(data[at])) return invalidArgument("the PNM header is cut short or malformed");
        while (at < size && std::isdigit(data[at])) {
            field = field * 10 + (data[at++] - '0');
            if (field > uint64_t{kMaxImagePixels}) return invalidArgument("a PNM header value is out of range");
        }
    }
    if (fields[2] == 0 || fields[2] > 65535) return invalidArgument("PNM maxval " + std::to_string(fields[2]) + " is out of range");
    KILN_RETURN_IF_ERROR(checkImageSize(static_cast<int64_t>(fields[0]), static_cast<int64_t>(fields[1])));
    if (at >= size || !std::isspace(data[at])) return invalidArgument("the PNM header does not end in whitespace");
    ++at;  // the one whitespace byte before the pixels
    const uint64_t channels = data[1] == '6' ? 3 : 1;
    const uint64_t sampleBytes = fields[2] > 255 ? 2 : 1;
    return PnmHeader{static_cast<int64_t>(fields[0]), static_cast<int64_t>(fields[1]), fields[2], at,
                     at + fields[0] * fields[1] * channels * sampleBytes};
}

}  // namespace

Expected<RgbImage> decodePnm(const uint8_t* data, size_t size) {
    KILN_ASSIGN_OR_RETURN(const PnmHeader header, readPnmHeader(data, size));
    if (header.pixelDataEnd > size)
        return invalidArgument("the data ends inside the pixels: the header promises " + std::to_string(header.pixelDataEnd) +
                               " bytes, there are " + std::to_string(size));
    const bool color = data[1] == '6';
    const bool wide = header.maxval > 255;
    const uint8_t* sample = data + header.pixelsAt;
    auto next = [&]() {
        uint64_t v = *sample++;
        if (wide) v = (v << 8) | *sample++;
        if (v > header.maxval) v = header.maxval;  // out-of-range samples saturate
        return static_cast<uint8_t>((v * 255 + header.maxval / 2) / header.maxval);
    };
    RgbImage image = allocateRgbImage(header.width, header.height);
    const size_t pixels = static_cast<size_t>(header.width * header.height);
    for (size_t i = 0; i < pixels; ++i) {
        if (color) {
            for (size_t c = 0; c < 3; ++c) image.rgb[3 * i + c] = next();
        } else {
            const uint8_t gray = next();
            for (size_t c = 0; c < 3; ++c) image.rgb[3 * i + c] = gray;
        }
    }
    return image;
}

}  // namespace kiln::imagecodecs
