// ImageDecoder: images written by each format's encoder (image_encoding.h) decode to the pixels they
// were made from; the pixel formats; shape inference; and damaged data, which must give an error
// and never a crash. Pixel-exact agreement with ONNX's reference (Pillow) on lossy JPEG and WebP is
// the conformance suite's job (node/test_image_decoder_*).

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "backends/cpu/image_codecs/image_decoding.h"
#include "image_encoding.h"
#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

using imagecodecs::decodeImage;
using imagecodecs::RgbImage;

Tensor encodedTensor(const Bytes& bytes) {
    Tensor t = Tensor::allocate(DataType::kUINT8, {static_cast<int64_t>(bytes.size())});
    std::copy(bytes.begin(), bytes.end(), t.data<uint8_t>());
    return t;
}

SingleNodeRun decode(const Bytes& bytes, const std::string& pixelFormat = "RGB") {
    Tensor encoded = encodedTensor(bytes);
    return runOp("ImageDecoder", {&encoded}, attrsOf({{"pixel_format", pixelFormat}}));
}

struct LosslessCase {
    const char* format;
    std::function<Bytes(const TestImage&)> encode;
};

const std::vector<LosslessCase>& losslessCases() {
    static const std::vector<LosslessCase> cases = {
        {"BMP", encodeBmp},
        {"PNM", encodePnm},
        {"PNG", [](const TestImage& i) { return encodePng(i); }},
        {"TIFF", encodeTiff},
        {"WebP", encodeWebpLossless},
    };
    return cases;
}

TEST(ImageDecoderOp, LosslessFormatsGiveBackTheEncodedPixels) {
    // An odd width (37) pads BMP rows; 23 rows span three TIFF strips, the last one short.
    const TestImage image = randomImage(37, 23, 7);
    for (const LosslessCase& c : losslessCases()) {
        SingleNodeRun run = decode(c.encode(image));
        ASSERT_TRUE(run.status) << c.format << ": " << run.status.message();
        ASSERT_EQ(run.outputs[0].shape(), (Shape{23, 37, 3})) << c.format;
        EXPECT_TRUE(std::equal(image.rgb.begin(), image.rgb.end(), run.outputs[0].data<uint8_t>())) << c.format;
    }
}

TEST(ImageDecoderOp, JpegAtQuality100StaysWithinAFewLevels) {
    const TestImage image = smoothImage(64, 48);
    SingleNodeRun run = decode(encodeJpeg(image));
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{48, 64, 3}));
    const uint8_t* got = run.outputs[0].data<uint8_t>();
    int worst = 0;
    for (size_t i = 0; i < image.rgb.size(); ++i) worst = std::max(worst, std::abs(int{got[i]} - int{image.rgb[i]}));
    EXPECT_LE(worst, 3);
}

TEST(ImageDecoderOp, BgrReversesTheChannelsAndGrayscaleIsTheLuma) {
    const TestImage image = randomImage(19, 11, 3);
    const Bytes png = encodePng(image);
    SingleNodeRun bgr = decode(png, "BGR");
    SingleNodeRun gray = decode(png, "Grayscale");
    ASSERT_TRUE(bgr.status) << bgr.status.message();
    ASSERT_TRUE(gray.status) << gray.status.message();
    ASSERT_EQ(bgr.outputs[0].shape(), (Shape{11, 19, 3}));
    ASSERT_EQ(gray.outputs[0].shape(), (Shape{11, 19, 1}));
    for (size_t p = 0; p < image.rgb.size() / 3; ++p) {
        const uint8_t* rgb = &image.rgb[3 * p];
        const uint8_t* b = bgr.outputs[0].data<uint8_t>() + 3 * p;
        EXPECT_EQ(b[0], rgb[2]);
        EXPECT_EQ(b[1], rgb[1]);
        EXPECT_EQ(b[2], rgb[0]);
        // ITU-R 601-2 luma; the kernel's fixed-point rounding may land one level off the real value.
        const double luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
        EXPECT_LE(std::abs(gray.outputs[0].data<uint8_t>()[p] - luma), 0.5 + 1e-3) << "pixel " << p;
    }
}

TEST(ImageDecoderOp, GrayAndAlphaPngsComeOutAsRgb) {
    const TestImage image = randomImage(9, 7, 5);
    Bytes gray(static_cast<size_t>(9 * 7)), rgba;
    for (size_t p = 0; p < gray.size(); ++p) {
        gray[p] = image.rgb[3 * p];
        rgba.insert(rgba.end(), {image.rgb[3 * p], image.rgb[3 * p + 1], image.rgb[3 * p + 2], static_cast<uint8_t>(p * 37)});
    }
    SingleNodeRun fromGray = decode(encodePng(image, PNG_FORMAT_GRAY, &gray));
    SingleNodeRun fromRgba = decode(encodePng(image, PNG_FORMAT_RGBA, &rgba));
    ASSERT_TRUE(fromGray.status) << fromGray.status.message();
    ASSERT_TRUE(fromRgba.status) << fromRgba.status.message();
    for (size_t p = 0; p < gray.size(); ++p) {
        for (int c = 0; c < 3; ++c) EXPECT_EQ(fromGray.outputs[0].data<uint8_t>()[3 * p + c], gray[p]);
        for (int c = 0; c < 3; ++c) EXPECT_EQ(fromRgba.outputs[0].data<uint8_t>()[3 * p + c], image.rgb[3 * p + c]);
    }
}

TEST(ImageDecoderOp, OutputShapeIsKnownOnlyInItsChannels) {
    InferResult rgb = inferOp("ImageDecoder", {symbolic(DataType::kUINT8, {Dim::named("bytes")})});
    ASSERT_TRUE(rgb.status) << rgb.status.message();
    EXPECT_EQ(shapeString(rgb.outputs[0]), "(-1, -1, 3)");
    InferResult gray = inferOp("ImageDecoder", {symbolic(DataType::kUINT8, {100})}, attrsOf({{"pixel_format", "Grayscale"}}));
    ASSERT_TRUE(gray.status) << gray.status.message();
    EXPECT_EQ(shapeString(gray.outputs[0]), "(-1, -1, 1)");
}

TEST(ImageDecoderOp, RefusesWrongInputsWithTheReason) {
    auto inferError = [](DataType type, SymShape shape, const std::string& format) {
        return inferOp("ImageDecoder", {symbolic(type, std::move(shape))}, attrsOf({{"pixel_format", format}})).status.message();
    };
    EXPECT_NE(inferError(DataType::kFLOAT, {10}, "RGB").find("must be uint8"), std::string::npos);
    EXPECT_NE(inferError(DataType::kUINT8, {2, 5}, "RGB").find("must be 1-D"), std::string::npos);
    EXPECT_NE(inferError(DataType::kUINT8, {10}, "CMYK").find("pixel_format must be RGB, BGR or Grayscale"), std::string::npos);

    SingleNodeRun empty = decode({});
    ASSERT_FALSE(empty.status);
    EXPECT_NE(empty.status.message().find("empty"), std::string::npos) << empty.status.message();
    SingleNodeRun text = decode({'h', 'e', 'l', 'l', 'o'});
    ASSERT_FALSE(text.status);
    EXPECT_NE(text.status.message().find("not an image in a supported format"), std::string::npos) << text.status.message();
}

TEST(ImageDecoderCodecs, TruncatedImagesAreErrorsInEveryFormat) {
    const TestImage image = randomImage(40, 30, 11);
    std::vector<std::pair<const char*, Bytes>> encoded;
    for (const LosslessCase& c : losslessCases()) encoded.emplace_back(c.format, c.encode(image));
    encoded.emplace_back("JPEG", encodeJpeg(image));
    for (const auto& [format, bytes] : encoded) {
        for (size_t keep : {bytes.size() / 2, bytes.size() - 1}) {
            Expected<RgbImage> result = decodeImage(bytes.data(), keep);
            EXPECT_FALSE(result) << format << " cut to " << keep << " of " << bytes.size() << " bytes decoded";
        }
    }
}

TEST(ImageDecoderCodecs, HeadersClaimingHugeImagesAreRefusedBeforeAllocating) {
    Bytes bmp = encodeBmp(randomImage(4, 4, 1));
    for (int i = 0; i < 4; ++i) bmp[18 + i] = bmp[22 + i] = (i == 2 ? 0x01 : 0x00);  // 65536 x 65536
    Expected<RgbImage> hugeBmp = decodeImage(bmp.data(), bmp.size());
    ASSERT_FALSE(hugeBmp);
    EXPECT_NE(hugeBmp.status().message().find("more than"), std::string::npos) << hugeBmp.status().message();
    const std::string pnm = "P6\n100000 100000\n255\n";
    Expected<RgbImage> hugePnm = decodeImage(reinterpret_cast<const uint8_t*>(pnm.data()), pnm.size());
    ASSERT_FALSE(hugePnm);
    EXPECT_NE(hugePnm.status().message().find("more than"), std::string::npos) << hugePnm.status().message();
    // Found by the fuzzer (tests/fuzz/image_decoder_fuzzer.cpp): numbers past int (stb_image's own
    // parser overflowed on them), and a BMP whose header stops before its compression field while
    // claiming 6144 x 10444 pixels (stb_image read the missing bytes as zeros and decoded 190 MB).
    const std::string overflowing = "P6\n99999999999 9\n255\n";
    Expected<RgbImage> overflow = decodeImage(reinterpret_cast<const uint8_t*>(overflowing.data()), overflowing.size());
    ASSERT_FALSE(overflow);
    EXPECT_NE(overflow.status().message().find("out of range"), std::string::npos) << overflow.status().message();
    Bytes cut = encodeBmp(randomImage(4, 4, 1));
    cut.resize(32);
    cut[18] = 0x00, cut[19] = 0x18, cut[22] = 0xcc, cut[23] = 0x28;
    Expected<RgbImage> cutHeader = decodeImage(cut.data(), cut.size());
    ASSERT_FALSE(cutHeader);
    EXPECT_NE(cutHeader.status().message().find("cut short"), std::string::npos) << cutHeader.status().message();
}

TEST(ImageDecoderCodecs, SixteenBitGrayPnmKeepsTheHighByteInEveryChannel) {
    // 16-bit samples (maxval over 255) are big-endian; 8 bits keep the high byte. The fuzzer's
    // 1x1 file of this kind made stb_image read past its buffer when asked for RGB directly.
    const std::string pgm = std::string("P5 2 1 65535\n") + "\x12\x34\xff\xff";
    Expected<RgbImage> image = decodeImage(reinterpret_cast<const uint8_t*>(pgm.data()), pgm.size());
    ASSERT_TRUE(image) << image.status().message();
    EXPECT_EQ(image->rgb, (Bytes{0x12, 0x12, 0x12, 0xff, 0xff, 0xff}));
    const std::string fuzzed = "P5\f1\f1\f610\xffHB\xff";
    Expected<RgbImage> refused = decodeImage(reinterpret_cast<const uint8_t*>(fuzzed.data()), fuzzed.size());
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.status().message().find("whitespace"), std::string::npos) << refused.status().message();
}

TEST(ImageDecoderCodecs, DamagedBytesGiveAnImageOrAnErrorNeverACrash) {
    // Flipped bytes anywhere in the file (header, tables, pixels) and random cuts, for every
    // format; a crash or a hang here fails the test.
    const TestImage image = randomImage(24, 16, 13);
    std::vector<Bytes> encoded;
    for (const LosslessCase& c : losslessCases()) encoded.push_back(c.encode(image));
    encoded.push_back(encodeJpeg(smoothImage(24, 16)));
    std::mt19937 rng(2026);
    int decoded = 0, refused = 0;
    for (const Bytes& original : encoded) {
        for (int trial = 0; trial < 300; ++trial) {
            Bytes damaged = original;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
            if (trial % 3 == 0) damaged.resize(1 + rng() % damaged.size());
            Expected<RgbImage> result = decodeImage(damaged.data(), damaged.size());
            if (result) {
                ++decoded;
                EXPECT_EQ(result->rgb.size(), static_cast<size_t>(result->width * result->height * 3));
            } else {
                ++refused;
                EXPECT_FALSE(result.status().message().empty());
            }
        }
    }
    EXPECT_GT(refused, 0);
    EXPECT_GT(decoded, 0);  // damage in the pixels alone still decodes in the formats without checksums
}

}  // namespace
}  // namespace kiln::test
