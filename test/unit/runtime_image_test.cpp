//===- runtime_image_test.cpp - PNG and JPEG decoding ---------------------===//
//
// PNG files written by test/unit/data/make_png.py (zlib + struct, every colour type, bit
// depths 1 to 16, every filter, Adam7) against the values in png/expected.npz, which also
// holds two bundled photos decoded by that script's own small decoder. JPEG files are
// encoded here with libjpeg.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/File.h"
#include "msdd/Runtime/Image.h"
#include "msdd/Runtime/Npz.h"

#include "runtime_test_util.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <jpeglib.h>

using namespace msdd::rt;
using msdd::rt::test::errorOf;
using msdd::rt::test::readBytes;
using msdd::rt::test::TempDir;
using msdd::rt::test::writeBytes;

namespace {

const std::string kPngDir = std::string(MSDD_UNIT_TEST_DATA_DIR) + "/png";
const std::string kSourceDir = MSDD_SOURCE_DIR;

void expectSameImage(const Tensor &actual, const Tensor &expected, const std::string &what) {
  ASSERT_EQ(actual.dtype(), DType::F32) << what;
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const float *a = actual.data<float>(), *e = expected.data<float>();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < actual.numel(); ++i)
    if (a[i] != e[i] && ++mismatches <= 3)
      ADD_FAILURE() << what << ": element " << i << " is " << a[i] << ", expected " << e[i];
  EXPECT_EQ(mismatches, 0) << what;
}

/// A JPEG of an RGB (components 3) or grayscale (1) image, quality 100 without chroma
/// subsampling; pixel (x, y, c) = f(x, y, c).
std::string encodeJpeg(int width, int height, int components,
                       uint8_t (*f)(int x, int y, int c)) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr errors;
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char *buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  for (int i = 0; i < cinfo.num_components; ++i)
    cinfo.comp_info[i].h_samp_factor = cinfo.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(width * components));
  while (cinfo.next_scanline < cinfo.image_height) {
    int y = static_cast<int>(cinfo.next_scanline);
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < components; ++c)
        row[x * components + c] = f(x, y, c);
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&cinfo, &pointer, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string bytes(reinterpret_cast<char *>(buffer), size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return bytes;
}

uint8_t smooth(int x, int y, int c) { return static_cast<uint8_t>(40 + 6 * x + 4 * y + 30 * c); }

} // namespace

TEST(ImageTest, PngFilesMatchTheirPixels) {
  NamedTensors expected = readNpz(kPngDir + "/expected.npz");
  for (const char *name : {"rgb8", "rgb8_interlaced", "rgba8", "gray8", "gray_alpha8", "gray1",
                           "rgb16", "palette4"}) {
    SCOPED_TRACE(name);
    const Tensor *want = expected.find(name);
    ASSERT_NE(want, nullptr);
    expectSameImage(readImage(kPngDir + "/" + name + ".png"), *want, name);
  }
}

TEST(ImageTest, BundledPhotosMatchAnIndependentDecoder) {
  NamedTensors expected = readNpz(kPngDir + "/expected.npz");
  const char *photos[] = {"data/photos64/train/00000.png", "data/photos64/test/00000.png"};
  for (int i = 0; i < 2; ++i) {
    Tensor image = readImage(kSourceDir + "/" + photos[i]);
    EXPECT_EQ(image.shape(), (std::vector<int64_t>{3, 64, 64}));
    expectSameImage(image, *expected.find("photo" + std::to_string(i)), photos[i]);
  }
}

TEST(ImageTest, BrokenPngFilesGiveOneLineErrorsNamingTheFile) {
  auto error = [&](const std::string &name) {
    return errorOf([&] { readImage(kPngDir + "/" + name); });
  };
  std::string truncated = error("truncated.png");
  EXPECT_EQ(truncated.rfind(kPngDir + "/truncated.png: corrupt PNG", 0), 0u) << truncated;
  std::string crc = error("bad_crc.png");
  EXPECT_EQ(crc.rfind(kPngDir + "/bad_crc.png: corrupt PNG", 0), 0u) << crc;
  EXPECT_NE(crc.find("checksum"), std::string::npos) << crc;
  EXPECT_EQ(error("not_a_png.png"),
            kPngDir + "/not_a_png.png: not a PNG or JPEG image (unknown signature)");
  EXPECT_EQ(error("empty.png"), kPngDir + "/empty.png: empty file, not a PNG or JPEG image");
  EXPECT_EQ(error("missing.png"), kPngDir + "/missing.png: cannot open: No such file or directory");
  std::string direct = errorOf([&] {
    std::string bytes = readBytes(kPngDir + "/not_a_png.png");
    decodePng(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), "x.png");
  });
  EXPECT_EQ(direct, "x.png: not a PNG file (no PNG signature)");
}

TEST(ImageTest, HugeDimensionsAreRejectedBeforeDecoding) {
  // A valid header claiming 100000 x 1 pixels.
  std::string png = readBytes(kPngDir + "/rgb8.png");
  TempDir dir;
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16 & 0xff), char(v >> 8 & 0xff), char(v & 0xff)};
  };
  std::string huge = png.substr(0, 16) + be32(100000) + png.substr(20);
  writeBytes(dir.file("huge.png"), huge);
  std::string message = errorOf([&] { readImage(dir.file("huge.png")); });
  EXPECT_NE(message.find("larger than the 16384 pixels per side"), std::string::npos) << message;
}

TEST(ImageTest, JpegRgbAndGrayscale) {
  TempDir dir;
  writeBytes(dir.file("rgb.jpg"), encodeJpeg(16, 9, 3, smooth));
  Tensor rgb = readImage(dir.file("rgb.jpg"));
  ASSERT_EQ(rgb.shape(), (std::vector<int64_t>{3, 9, 16}));
  double worst = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 9; ++y)
      for (int x = 0; x < 16; ++x)
        worst = std::max(worst, std::fabs(rgb.data<float>()[(c * 9 + y) * 16 + x] -
                                          smooth(x, y, c) / 255.0));
  EXPECT_LE(worst, 3.0 / 255) << "quality-100 JPEG of a smooth image";

  writeBytes(dir.file("gray.JPEG"), encodeJpeg(8, 8, 1, smooth));
  Tensor gray = readImage(dir.file("gray.JPEG"));
  ASSERT_EQ(gray.shape(), (std::vector<int64_t>{3, 8, 8}));
  for (int p = 0; p < 64; ++p) {
    EXPECT_EQ(gray.data<float>()[p], gray.data<float>()[64 + p]);
    EXPECT_EQ(gray.data<float>()[p], gray.data<float>()[128 + p]);
  }
}

TEST(ImageTest, BrokenJpegFiles) {
  TempDir dir;
  std::string jpeg = encodeJpeg(32, 32, 3, smooth);
  writeBytes(dir.file("cut.jpg"), jpeg.substr(0, jpeg.size() / 2));
  std::string cut = errorOf([&] { readImage(dir.file("cut.jpg")); });
  EXPECT_EQ(cut, dir.file("cut.jpg") + ": corrupt JPEG: truncated or damaged data");
  writeBytes(dir.file("header.jpg"), jpeg.substr(0, 20));
  std::string header = errorOf([&] { readImage(dir.file("header.jpg")); });
  EXPECT_EQ(header.rfind(dir.file("header.jpg") + ": corrupt JPEG: ", 0), 0u) << header;
}

TEST(ImageTest, WritePngRoundTrips) {
  TempDir dir;
  Tensor image(DType::F32, {3, 5, 6});
  float *p = image.data<float>();
  for (int64_t i = 0; i < image.numel(); ++i)
    p[i] = static_cast<float>((i * 37 % 101) / 100.0);
  p[0] = -0.5f; // clamped
  p[1] = 1.5f;
  writePng(dir.file("out.png"), image);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.png"}); // no temporary left
  Tensor back = readImage(dir.file("out.png"));
  ASSERT_EQ(back.shape(), image.shape());
  for (int64_t i = 0; i < image.numel(); ++i) {
    float v = std::min(1.0f, std::max(0.0f, p[i]));
    EXPECT_EQ(back.data<float>()[i], std::lround(v * 255.0f) / 255.0f) << i;
  }
  std::string message = errorOf([&] { writePng(dir.file("bad.png"), Tensor(DType::F32, {4, 2, 2})); });
  EXPECT_EQ(message, dir.file("bad.png") + ": cannot write f32[4, 2, 2] as a PNG (expected f32[3, H, W])");
}
