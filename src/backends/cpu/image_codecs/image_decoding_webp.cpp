// WebP by libwebp, decoded straight into the RGB buffer (alpha, if any, dropped). An animated WebP
// is refused: libwebp's still-image decoder does not read animations.

#include <webp/decode.h>

#include <string>

#include "backends/cpu/image_codecs/image_decoding.h"

namespace kiln::imagecodecs {

namespace {

std::string webpStatusText(VP8StatusCode status) {
    switch (status) {
        case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
        case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
        case VP8_STATUS_BITSTREAM_ERROR: return "the bitstream is damaged";
        case VP8_STATUS_UNSUPPORTED_FEATURE: return "the file uses a feature libwebp's still-image decoder lacks (an animation?)";
        case VP8_STATUS_SUSPENDED: return "decoding was suspended";
        case VP8_STATUS_USER_ABORT: return "decoding was aborted";
        case VP8_STATUS_NOT_ENOUGH_DATA: return "the data ends inside the image";
        default: return "libwebp status " + std::to_string(static_cast<int>(status));
    }
}

}  // namespace

Expected<RgbImage> decodeWebp(const uint8_t* data, size_t size) {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return internalError("libwebp's headers and library versions differ");
    if (VP8StatusCode status = WebPGetFeatures(data, size, &config.input); status != VP8_STATUS_OK)
        return invalidArgument(webpStatusText(status));
    if (config.input.has_animation) return invalidArgument("animated WebP images are not supported");
    KILN_RETURN_IF_ERROR(checkImageSize(config.input.width, config.input.height));
    RgbImage image = allocateRgbImage(config.input.width, config.input.height);
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = image.rgb.data();
    config.output.u.RGBA.stride = config.input.width * 3;
    config.output.u.RGBA.size = image.rgb.size();
    VP8StatusCode status = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);  // frees nothing of ours (external memory); required by the API
    if (status != VP8_STATUS_OK) return invalidArgument(webpStatusText(status));
    return image;
}

}  // namespace kiln::imagecodecs
