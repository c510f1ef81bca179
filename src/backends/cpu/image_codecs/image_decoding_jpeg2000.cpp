// JPEG 2000 (a JP2 file or a bare codestream) by OpenJPEG, read from memory through a stream whose
// callbacks walk the buffer. Components are scaled to 8 bits; one or two components (gray, gray +
// alpha) become gray RGB, three or more are R, G, B (alpha dropped). Subsampled components (as in
// YCbCr 4:2:0 codestreams) are refused.

#include <openjpeg.h>

#include <algorithm>
#include <string>

#include "backends/cpu/image_codecs/encoded_stream.h"
#include "backends/cpu/image_codecs/image_decoding.h"

namespace kiln::imagecodecs {

namespace {

OPJ_SIZE_T readJpeg2000(void* out, OPJ_SIZE_T count, void* user) {
    auto* source = static_cast<EncodedStream*>(user);
    if (source->remaining() == 0) return static_cast<OPJ_SIZE_T>(-1);  // OpenJPEG's end of stream
    return source->read(out, count);
}

OPJ_OFF_T skipJpeg2000(OPJ_OFF_T count, void* user) {
    auto* source = static_cast<EncodedStream*>(user);
    if (count < 0) {
        const size_t back = std::min<size_t>(static_cast<size_t>(-count), source->position);
        source->position -= back;
        return -static_cast<OPJ_OFF_T>(back);
    }
    const size_t forward = std::min<size_t>(static_cast<size_t>(count), source->remaining());
    source->position += forward;
    return static_cast<OPJ_OFF_T>(forward);
}

OPJ_BOOL seekJpeg2000(OPJ_OFF_T offset, void* user) {
    auto* source = static_cast<EncodedStream*>(user);
    if (offset < 0 || static_cast<uint64_t>(offset) > source->size) return OPJ_FALSE;
    source->position = static_cast<size_t>(offset);
    return OPJ_TRUE;
}

void recordJpeg2000Error(const char* message, void* user) { static_cast<EncodedStream*>(user)->recordError(message); }

void ignoreJpeg2000Message(const char*, void*) {}

/// Component `c`'s sample `i` scaled to 0..255 (signed samples shifted to unsigned first).
uint8_t sample8(const opj_image_comp_t& c, size_t i) {
    int64_t v = c.data[i];
    if (c.sgnd) v += int64_t{1} << (c.prec - 1);
    if (c.prec > 8) v >>= (c.prec - 8);
    if (c.prec < 8) v <<= (8 - c.prec);
    return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

struct Jpeg2000Decoder {
    opj_stream_t* stream{nullptr};
    opj_codec_t* codec{nullptr};
    opj_image_t* image{nullptr};
    ~Jpeg2000Decoder() {
        if (image) opj_image_destroy(image);
        if (codec) opj_destroy_codec(codec);
        if (stream) opj_stream_destroy(stream);
    }
};

}  // namespace

Expected<RgbImage> decodeJpeg2000(const uint8_t* data, size_t size) {
    EncodedStream source{data, size};
    auto failure = [&](const std::string& what) { return invalidArgument(source.describe(what)); };
    const bool codestream = size >= 2 && data[0] == 0xFF && data[1] == 0x4F;
    Jpeg2000Decoder d;
    d.stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    d.codec = opj_create_decompress(codestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
    if (!d.stream || !d.codec) return internalError("OpenJPEG could not create a decoder");
    opj_stream_set_user_data(d.stream, &source, nullptr);
    opj_stream_set_user_data_length(d.stream, size);
    opj_stream_set_read_function(d.stream, readJpeg2000);
    opj_stream_set_skip_function(d.stream, skipJpeg2000);
    opj_stream_set_seek_function(d.stream, seekJpeg2000);
    opj_set_error_handler(d.codec, recordJpeg2000Error, &source);
    opj_set_warning_handler(d.codec, ignoreJpeg2000Message, nullptr);
    opj_set_info_handler(d.codec, ignoreJpeg2000Message, nullptr);
    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);
    if (!opj_setup_decoder(d.codec, &parameters)) return failure("OpenJPEG refused its decoder parameters");
    if (!opj_read_header(d.stream, d.codec, &d.image) || !d.image) return failure("OpenJPEG could not read the header");
    KILN_RETURN_IF_ERROR(checkImageSize(int64_t{d.image->x1} - d.image->x0, int64_t{d.image->y1} - d.image->y0));
    if (!opj_decode(d.codec, d.stream, d.image) || !opj_end_decompress(d.codec, d.stream))
        return failure("OpenJPEG could not decode the image");
    const opj_image_t& image = *d.image;
    if (image.numcomps == 0) return invalidArgument("the image has no components");
    const opj_image_comp_t& first = image.comps[0];
    KILN_RETURN_IF_ERROR(checkImageSize(first.w, first.h));
    const uint32_t colors = image.numcomps >= 3 ? 3 : 1;
    for (uint32_t c = 0; c < colors; ++c) {
        const opj_image_comp_t& comp = image.comps[c];
        if (comp.w != first.w || comp.h != first.h || !comp.data)
            return invalidArgument("its components differ in size (subsampled color), which is not supported");
        if (comp.prec < 1 || comp.prec > 31)
            return invalidArgument("component " + std::to_string(c) + " has " + std::to_string(comp.prec) + "-bit samples");
    }
    RgbImage rgb = allocateRgbImage(first.w, first.h);
    const size_t pixels = static_cast<size_t>(first.w) * first.h;
    for (size_t i = 0; i < pixels; ++i)
        for (uint32_t k = 0; k < 3; ++k) rgb.rgb[3 * i + k] = sample8(image.comps[colors == 3 ? k : 0], i);
    return rgb;
}

}  // namespace kiln::imagecodecs
