#pragma once
// Encoders for the ImageDecoder tests: each writes an RGB image (rows top-down, 3 bytes a pixel) in
// one format, through the format's own library where it has one (libpng, libtiff, libwebp,
// libjpeg) and by the format's definition for BMP and PNM, whose headers are a few fixed fields.

#include <cmath>
#include <cstdio>  // before jpeglib.h, which uses size_t and FILE without including their headers
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include <unistd.h>
#include <webp/encode.h>

namespace kiln::test {

using Bytes = std::vector<uint8_t>;

struct TestImage {
    int width;
    int height;
    Bytes rgb;
};

/// Random pixels: every byte of every channel varies, so a swapped channel or row shows.
inline TestImage randomImage(int width, int height, uint32_t seed) {
    std::mt19937 rng(seed);
    TestImage image{width, height, Bytes(static_cast<size_t>(width) * height * 3)};
    for (uint8_t& v : image.rgb) v = static_cast<uint8_t>(rng() & 0xFF);
    return image;
}

/// A smooth image (gradients and a soft disc): what lossy codecs keep within a few levels.
inline TestImage smoothImage(int width, int height) {
    TestImage image{width, height, Bytes(static_cast<size_t>(width) * height * 3)};
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            uint8_t* p = &image.rgb[(static_cast<size_t>(y) * width + x) * 3];
            const double dx = x - width / 2.0, dy = y - height / 2.0;
            p[0] = static_cast<uint8_t>(255.0 * x / (width - 1));
            p[1] = static_cast<uint8_t>(255.0 * y / (height - 1));
            p[2] = static_cast<uint8_t>(128 + 100 * std::exp(-(dx * dx + dy * dy) / (width * height / 8.0)));
        }
    return image;
}

inline void putLittleEndian(Bytes& out, uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

/// A 24-bit BMP: BITMAPINFOHEADER, rows bottom-up in B, G, R order, each padded to 4 bytes.
inline Bytes encodeBmp(const TestImage& image) {
    const uint32_t rowBytes = (static_cast<uint32_t>(image.width) * 3 + 3) / 4 * 4;
    const uint32_t pixelBytes = rowBytes * static_cast<uint32_t>(image.height);
    Bytes out{'B', 'M'};
    putLittleEndian(out, 54 + pixelBytes, 4);  // file size
    putLittleEndian(out, 0, 4);                // reserved
    putLittleEndian(out, 54, 4);               // pixel offset
    putLittleEndian(out, 40, 4);               // BITMAPINFOHEADER
    putLittleEndian(out, static_cast<uint32_t>(image.width), 4);
    putLittleEndian(out, static_cast<uint32_t>(image.height), 4);
    putLittleEndian(out, 1, 2);   // planes
    putLittleEndian(out, 24, 2);  // bits a pixel
    putLittleEndian(out, 0, 4);   // BI_RGB
    putLittleEndian(out, pixelBytes, 4);
    for (int i = 0; i < 4; ++i) putLittleEndian(out, 0, 4);  // resolution, palette counts
    for (int y = image.height - 1; y >= 0; --y) {
        for (int x = 0; x < image.width; ++x) {
            const uint8_t* p = &image.rgb[(static_cast<size_t>(y) * image.width + x) * 3];
            out.insert(out.end(), {p[2], p[1], p[0]});
        }
        out.insert(out.end(), rowBytes - image.width * 3, 0);
    }
    return out;
}

/// A binary PPM (P6, maxval 255), with a comment line in the header as PNM allows.
inline Bytes encodePnm(const TestImage& image) {
    const std::string header =
        "P6\n# written by a Kiln test\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
    Bytes out(header.begin(), header.end());
    out.insert(out.end(), image.rgb.begin(), image.rgb.end());
    return out;
}

inline Bytes encodePng(const TestImage& image, png_uint_32 format = PNG_FORMAT_RGB, const Bytes* samples = nullptr) {
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(image.width);
    png.height = static_cast<png_uint_32>(image.height);
    png.format = format;
    const Bytes& pixels = samples ? *samples : image.rgb;
    png_alloc_size_t size = 0;
    EXPECT_TRUE(png_image_write_to_memory(&png, nullptr, &size, 0, pixels.data(), 0, nullptr)) << png.message;
    Bytes out(size);
    EXPECT_TRUE(png_image_write_to_memory(&png, out.data(), &size, 0, pixels.data(), 0, nullptr)) << png.message;
    out.resize(size);
    return out;
}

/// A deflate-compressed RGB TIFF in strips of 8 rows, written to a temporary file and read back.
inline Bytes encodeTiff(const TestImage& image) {
    char path[] = "/tmp/kiln_image_test_XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    TIFF* tiff = TIFFOpen(path, "w");
    EXPECT_NE(tiff, nullptr);
    TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(image.width));
    TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(image.height));
    TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tiff, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, 8);
    for (int y = 0; y < image.height; ++y) {
        Bytes row(image.rgb.begin() + static_cast<ptrdiff_t>(y) * image.width * 3,
                  image.rgb.begin() + static_cast<ptrdiff_t>(y + 1) * image.width * 3);
        EXPECT_EQ(TIFFWriteScanline(tiff, row.data(), static_cast<uint32_t>(y), 0), 1);
    }
    TIFFClose(tiff);
    std::ifstream file(path, std::ios::binary);
    Bytes out((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::remove(path);
    return out;
}

inline Bytes encodeWebpLossless(const TestImage& image) {
    uint8_t* encoded = nullptr;
    const size_t size = WebPEncodeLosslessRGB(image.rgb.data(), image.width, image.height, image.width * 3, &encoded);
    EXPECT_GT(size, 0u);
    Bytes out(encoded, encoded + size);
    WebPFree(encoded);
    return out;
}

/// A baseline JPEG at quality 100 without chroma subsampling (4:4:4).
inline Bytes encodeJpeg(const TestImage& image) {
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr errors{};
    cinfo.err = jpeg_std_error(&errors);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(image.width);
    cinfo.image_height = static_cast<JDIMENSION>(image.height);
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 100, TRUE);
    for (int c = 0; c < 3; ++c) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<uint8_t*>(&image.rgb[static_cast<size_t>(cinfo.next_scanline) * image.width * 3]);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    Bytes out(buffer, buffer + size);
    free(buffer);
    return out;
}

}  // namespace kiln::test
