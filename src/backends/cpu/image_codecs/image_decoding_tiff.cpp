// TIFF by libtiff, from memory: the first image (directory) of the file, through libtiff's RGBA
// interface, which handles every photometric interpretation, bit depth and compression it knows.
// Errors and warnings go to this decode's own handlers (libtiff 4.5's open options), not to stderr.
// That interface premultiplies unassociated alpha into the colors, so such an image's RGB is the
// premultiplied one (Pillow would keep the colors as stored).

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "backends/cpu/image_codecs/encoded_stream.h"
#include "backends/cpu/image_codecs/image_decoding.h"

namespace kiln::imagecodecs {

namespace {

tmsize_t readTiff(thandle_t handle, void* out, tmsize_t count) {
    if (count < 0) return -1;
    return static_cast<tmsize_t>(static_cast<EncodedStream*>(handle)->read(out, static_cast<size_t>(count)));
}

tmsize_t refuseWrite(thandle_t, void*, tmsize_t) { return -1; }

toff_t seekTiff(thandle_t handle, toff_t offset, int whence) {
    auto* source = static_cast<EncodedStream*>(handle);
    uint64_t base = 0;
    if (whence == SEEK_CUR) base = source->position;
    if (whence == SEEK_END) base = source->size;
    // Past the end is allowed (a read there returns nothing); an offset that wraps is not.
    if (offset > UINT64_MAX - base) return static_cast<toff_t>(-1);
    source->position = static_cast<size_t>(std::min<uint64_t>(base + offset, SIZE_MAX));
    return source->position;
}

int closeTiff(thandle_t) { return 0; }
toff_t tiffSize(thandle_t handle) { return static_cast<EncodedStream*>(handle)->size; }
int noMapping(thandle_t, void**, toff_t*) { return 0; }
void noUnmapping(thandle_t, void*, toff_t) {}

int recordTiffError(TIFF*, void* userData, const char* module, const char* format, va_list args) {
    char text[512];
    std::vsnprintf(text, sizeof(text), format, args);
    static_cast<EncodedStream*>(userData)->recordError(text);
    return 1;  // handled: not passed on to libtiff's global handler (stderr)
}

int ignoreTiffWarning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

}  // namespace

Expected<RgbImage> decodeTiff(const uint8_t* data, size_t size) {
    EncodedStream source{data, size};
    TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
    if (!options) return internalError("libtiff could not allocate its open options");
    TIFFOpenOptionsSetErrorHandlerExtR(options, recordTiffError, &source);
    TIFFOpenOptionsSetWarningHandlerExtR(options, ignoreTiffWarning, &source);
    // Any single allocation of libtiff's (strips, tiles, the directory) stays within the pixels' bound.
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, kMaxImagePixels * 4);
    TIFF* tiff = TIFFClientOpenExt("encoded image", "rm", &source, readTiff, refuseWrite, seekTiff, closeTiff, tiffSize,
                                   noMapping, noUnmapping, options);
    TIFFOpenOptionsFree(options);
    auto failure = [&](const std::string& what) { return invalidArgument(source.describe(what)); };
    if (!tiff) return failure("libtiff could not read the header");
    Expected<RgbImage> result = [&]() -> Expected<RgbImage> {
        uint32_t width = 0, height = 0;
        if (!TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width) || !TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height))
            return failure("the image has no width or height");
        KILN_RETURN_IF_ERROR(checkImageSize(width, height));
        char why[1024] = {};
        if (!TIFFRGBAImageOK(tiff, why)) return failure(std::string("libtiff cannot convert it to RGB: ") + why);
        // ABGR words (R in the low byte), rows from the top.
        std::vector<uint32_t> raster(static_cast<size_t>(width) * height);
        if (!TIFFReadRGBAImageOriented(tiff, width, height, raster.data(), ORIENTATION_TOPLEFT, 1))
            return failure("libtiff could not read the pixels");
        RgbImage image = allocateRgbImage(width, height);
        for (size_t i = 0; i < raster.size(); ++i) {
            image.rgb[3 * i] = static_cast<uint8_t>(TIFFGetR(raster[i]));
            image.rgb[3 * i + 1] = static_cast<uint8_t>(TIFFGetG(raster[i]));
            image.rgb[3 * i + 2] = static_cast<uint8_t>(TIFFGetB(raster[i]));
        }
        return image;
    }();
    TIFFClose(tiff);
    return result;
}

}  // namespace kiln::imagecodecs
