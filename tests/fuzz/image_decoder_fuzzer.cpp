// libFuzzer harness for ImageDecoder's codecs: decodeImage must decode or refuse any input, never
// crash, read out of bounds or allocate without bound. Not built by default. From the repository
// root, with clang:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//       tests/fuzz/image_decoder_fuzzer.cpp src/backends/cpu/image_codecs/*.cpp src/common/status.cpp \
//       $(pkg-config --cflags --libs libjpeg libpng libtiff-4 libwebp libopenjp2) -o image_decoder_fuzzer
//   ./image_decoder_fuzzer -max_len=16384 -rss_limit_mb=4096 corpus/
//
// Seed the corpus with one small file of each format, e.g. the encoded inputs of the ONNX node cases
// test_image_decoder_decode_* (their input_0.pb holds the file's bytes after a few bytes of header).

#include <cstddef>
#include <cstdint>

#include "backends/cpu/image_codecs/image_decoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kiln::Expected<kiln::imagecodecs::RgbImage> image = kiln::imagecodecs::decodeImage(data, size);
    if (image && image->rgb.size() != static_cast<size_t>(image->width * image->height * 3)) __builtin_trap();
    return 0;
}
