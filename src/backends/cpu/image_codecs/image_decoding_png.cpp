// PNG by libpng, transformed to 8-bit RGB the way Pillow reads it: palettes and low bit depths
// expanded, 16-bit samples cut to their high byte, gray copied to R, G and B, alpha dropped, and no
// gamma correction (a gAMA chunk does not change the pixels).
//
// libpng reports errors by longjmp to png_jmpbuf; as in the JPEG decoder, the functions that set it
// hold only trivially destructible locals, and the pixels are allocated between the two phases.

#include <png.h>

#include <string>
#include <vector>

#include "backends/cpu/image_codecs/encoded_stream.h"
#include "backends/cpu/image_codecs/image_decoding.h"

namespace kiln::imagecodecs {

namespace {

void readPngBytes(png_structp png, png_bytep out, png_size_t count) {
    auto* source = static_cast<EncodedStream*>(png_get_io_ptr(png));
    if (count > source->remaining()) png_error(png, "the data ends inside the image");
    source->read(out, count);
}

void failPng(png_structp png, png_const_charp message) {
    static_cast<EncodedStream*>(png_get_error_ptr(png))->recordError(message);
    png_longjmp(png, 1);
}

void ignorePngWarning(png_structp, png_const_charp) {}

/// Reads the header and sets the transforms to 8-bit RGB; false with source->message set on an error.
bool startPng(png_structp png, png_infop info, png_uint_32* width, png_uint_32* height) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_info(png, info);
    *width = png_get_image_width(png, info);
    *height = png_get_image_height(png, info);
    const int colorType = png_get_color_type(png, info);
    png_set_expand(png);
    png_set_strip_16(png);
    if (colorType == PNG_COLOR_TYPE_GRAY || colorType == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    return true;
}

bool readPngRows(png_structp png, png_infop info, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_image(png, rows);
    png_read_end(png, info);
    return true;
}

}  // namespace

Expected<RgbImage> decodePng(const uint8_t* data, size_t size) {
    EncodedStream source{data, size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, failPng, ignorePngWarning);
    if (!png) return internalError("libpng could not create a reader");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        return internalError("libpng could not create a reader");
    }
    png_set_read_fn(png, &source, readPngBytes);
    Expected<RgbImage> result = [&]() -> Expected<RgbImage> {
        png_uint_32 width = 0, height = 0;
        if (!startPng(png, info, &width, &height)) return invalidArgument(source.describe("libpng could not read the header"));
        KILN_RETURN_IF_ERROR(checkImageSize(width, height));
        if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3)
            return internalError("libpng's rows are " + std::to_string(png_get_rowbytes(png, info)) + " bytes for " +
                                 std::to_string(width) + " RGB pixels");
        RgbImage image = allocateRgbImage(width, height);
        std::vector<png_bytep> rows(height);
        for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.rgb.data() + static_cast<size_t>(y) * width * 3;
        if (!readPngRows(png, info, rows.data())) return invalidArgument(source.describe("libpng could not read the pixels"));
        return image;
    }();
    png_destroy_read_struct(&png, &info, nullptr);
    return result;
}

}  // namespace kiln::imagecodecs
