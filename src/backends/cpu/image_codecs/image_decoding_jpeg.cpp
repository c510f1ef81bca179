// JPEG by libjpeg-turbo, with the library's defaults that Pillow keeps too (the accurate integer
// inverse DCT, "fancy" chroma upsampling), so a JPEG decodes to the same pixels as ONNX's reference.
//
// libjpeg reports errors by calling error_exit, which must not return: ours longjmps back into the
// function that called the library. Those functions hold only trivially destructible locals, so the
// jump skips no destructor; the RgbImage is allocated between the two phases, outside any setjmp.

#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses size_t and FILE without including their headers
#include <string>

#include <jpeglib.h>
#include <jerror.h>

#include "backends/cpu/image_codecs/image_decoding.h"

namespace kiln::imagecodecs {

namespace {

/// More scans than any encoder writes (a progressive JPEG has ~10): a file with more is refused
/// before it makes the decoder loop for long (libjpeg-turbo's advice for untrusted input).
constexpr int kMaxScans = 1000;

struct JpegErrors {
    jpeg_error_mgr base;  // first: libjpeg sees a jpeg_error_mgr*
    jpeg_progress_mgr progress;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void failJpeg(j_common_ptr cinfo) {
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, errors->message);
    std::longjmp(errors->jump, 1);
}

/// Warnings stay quiet, but for the end of the data before the end marker: libjpeg would fill any
/// missing rows with gray and succeed, where a truncated file is an error, as it is to Pillow (even
/// when only the end marker is missing).
void onJpegMessage(j_common_ptr cinfo, int level) {
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) failJpeg(cinfo);
}

void limitScans(j_common_ptr cinfo) {
    auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (decompress->input_scan_number <= kMaxScans) return;
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    std::snprintf(errors->message, sizeof(errors->message), "more than %d scans", kMaxScans);
    std::longjmp(errors->jump, 1);
}

/// Reads the header and starts decompressing to RGB; false with errors->message set on an error.
bool startJpeg(jpeg_decompress_struct* cinfo, JpegErrors* errors, const uint8_t* data, size_t size) {
    if (setjmp(errors->jump)) return false;
    jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(cinfo, TRUE);
    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
        std::snprintf(errors->message, sizeof(errors->message), "CMYK JPEG images are not supported");
        return false;
    }
    // An image over the size limit is not started (starting allocates): the caller refuses it.
    if (checkImageSize(cinfo->image_width, cinfo->image_height).isOk()) {
        cinfo->out_color_space = JCS_RGB;
        jpeg_start_decompress(cinfo);
    }
    return true;
}

/// Reads every scanline into `rgb` (output_width * 3 bytes a row); false with errors->message set.
bool readJpegRows(jpeg_decompress_struct* cinfo, JpegErrors* errors, uint8_t* rgb) {
    if (setjmp(errors->jump)) return false;
    const size_t rowBytes = static_cast<size_t>(cinfo->output_width) * 3;
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = rgb + cinfo->output_scanline * rowBytes;
        jpeg_read_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_decompress(cinfo);
    return true;
}

}  // namespace

Expected<RgbImage> decodeJpeg(const uint8_t* data, size_t size) {
    jpeg_decompress_struct cinfo{};
    JpegErrors errors{};
    cinfo.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = failJpeg;
    errors.base.emit_message = onJpegMessage;
    errors.progress.progress_monitor = limitScans;
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &errors.progress;
    Expected<RgbImage> result = [&]() -> Expected<RgbImage> {
        if (!startJpeg(&cinfo, &errors, data, size)) return invalidArgument(errors.message);
        KILN_RETURN_IF_ERROR(checkImageSize(cinfo.image_width, cinfo.image_height));
        if (cinfo.output_components != 3) return internalError("libjpeg gave " + std::to_string(cinfo.output_components) + " components for RGB");
        RgbImage image = allocateRgbImage(cinfo.output_width, cinfo.output_height);
        if (!readJpegRows(&cinfo, &errors, image.rgb.data())) return invalidArgument(errors.message);
        return image;
    }();
    jpeg_destroy_decompress(&cinfo);
    return result;
}

}  // namespace kiln::imagecodecs
