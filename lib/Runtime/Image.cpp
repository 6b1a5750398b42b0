//===- Image.cpp - PNG (libspng) and JPEG (libjpeg-turbo) images ----------===//
#include "msdd/Runtime/Image.h"

#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/File.h"

#include <spng.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>

namespace msdd::rt {

namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

std::string sizeText(int64_t width, int64_t height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

void checkSide(const std::string &context, const char *format, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0)
    throw Error(context, std::string("corrupt ") + format + ": image size " +
                             sizeText(width, height));
  if (width > kMaxImageSide || height > kMaxImageSide)
    throw Error(context, std::string(format) + " image is " + sizeText(width, height) +
                             " pixels, larger than the " + std::to_string(kMaxImageSide) +
                             " pixels per side this runtime accepts");
}

struct SpngDeleter {
  void operator()(spng_ctx *ctx) const { spng_ctx_free(ctx); }
};
using SpngContext = std::unique_ptr<spng_ctx, SpngDeleter>;

const char *pngColorName(uint8_t colorType) {
  switch (colorType) {
  case SPNG_COLOR_TYPE_GRAYSCALE: return "grayscale";
  case SPNG_COLOR_TYPE_TRUECOLOR: return "RGB";
  case SPNG_COLOR_TYPE_INDEXED: return "palette";
  case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: return "grayscale+alpha";
  case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: return "RGBA";
  default: return "unknown";
  }
}

} // namespace

bool isPng(const uint8_t *data, size_t size) {
  return size >= sizeof kPngSignature && std::memcmp(data, kPngSignature, sizeof kPngSignature) == 0;
}

bool isJpeg(const uint8_t *data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

Tensor decodePng(const uint8_t *data, size_t size, const std::string &context) {
  if (!isPng(data, size))
    throw Error(context, "not a PNG file (no PNG signature)");
  SpngContext ctx(spng_ctx_new(0));
  if (!ctx)
    throw std::bad_alloc();
  auto check = [&](int err, const char *what) {
    if (err)
      throw Error(context, std::string("corrupt PNG: ") + what + ": " + spng_strerror(err));
  };
  // Limits before anything is allocated: a forged header must not make us allocate gigabytes.
  check(spng_set_image_limits(ctx.get(), kMaxImageSide, kMaxImageSide), "limits");
  check(spng_set_chunk_limits(ctx.get(), 64u << 20, 64u << 20), "limits");
  check(spng_set_png_buffer(ctx.get(), data, size), "reading");
  spng_ihdr ihdr;
  int err = spng_get_ihdr(ctx.get(), &ihdr);
  if (err == SPNG_EWIDTH || err == SPNG_EHEIGHT || err == SPNG_EUSER_WIDTH ||
      err == SPNG_EUSER_HEIGHT) {
    // Re-read the raw header fields for the message (big-endian at offsets 16 and 20).
    auto be32 = [&](size_t at) -> int64_t {
      return size < at + 4 ? 0
                           : (int64_t(data[at]) << 24 | int64_t(data[at + 1]) << 16 |
                              int64_t(data[at + 2]) << 8 | int64_t(data[at + 3]));
    };
    checkSide(context, "PNG", be32(16), be32(20));
  }
  check(err, "header");
  int64_t width = ihdr.width, height = ihdr.height;
  checkSide(context, "PNG", width, height);

  // 16-bit images keep their precision; everything else goes through 8 bits. RGBA output
  // covers every colour type and bit depth; alpha is dropped below.
  bool wide = ihdr.bit_depth == 16;
  int format = wide ? SPNG_FMT_RGBA16 : SPNG_FMT_RGBA8;
  size_t bytes = 0;
  check(spng_decoded_image_size(ctx.get(), format, &bytes), "size");
  size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  if (bytes != pixels * 4 * (wide ? 2 : 1))
    throw Error(context, std::string("corrupt PNG: unexpected decoded size for a ") +
                             pngColorName(ihdr.color_type) + " image");
  std::vector<uint8_t> raw(bytes);
  err = spng_decode_image(ctx.get(), raw.data(), raw.size(), format, 0);
  if (err)
    throw Error(context, std::string("corrupt PNG (") + pngColorName(ihdr.color_type) + ", " +
                             sizeText(width, height) + "): " + spng_strerror(err));

  Tensor image(DType::F32, {3, height, width});
  float *out = image.data<float>();
  if (wide) {
    const uint16_t *in = reinterpret_cast<const uint16_t *>(raw.data()); // host-endian
    for (size_t p = 0; p < pixels; ++p)
      for (size_t c = 0; c < 3; ++c)
        out[c * pixels + p] = static_cast<float>(in[4 * p + c]) / 65535.0f;
  } else {
    for (size_t p = 0; p < pixels; ++p)
      for (size_t c = 0; c < 3; ++c)
        out[c * pixels + p] = static_cast<float>(raw[4 * p + c]) / 255.0f;
  }
  return image;
}

namespace {

/// libjpeg reports fatal errors through error_exit, which must not return: jump back.
struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

void jpegErrorExit(j_common_ptr cinfo) {
  JpegErrorManager *manager = reinterpret_cast<JpegErrorManager *>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

/// Warnings are not printed; a premature end of the data is remembered (libjpeg pads the
/// missing rows with gray and carries on).
void jpegWarning(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
    reinterpret_cast<JpegErrorManager *>(cinfo->err)->truncated = true;
}

/// Decodes into `rgb` (H*W*3 bytes); returns an empty string or the failure. Kept free of
/// objects with destructors between setjmp and longjmp.
std::string decodeJpegRaw(const uint8_t *data, size_t size, std::vector<uint8_t> &rgb,
                          int64_t &width, int64_t &height, int &components, bool &truncated) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = jpegErrorExit;
  errors.base.emit_message = jpegWarning;
  errors.message[0] = '\0';
  errors.truncated = false;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return errors.message[0] ? errors.message : "decoding failed";
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  width = cinfo.image_width;
  height = cinfo.image_height;
  components = cinfo.num_components;
  if (width <= 0 || height <= 0 || width > kMaxImageSide || height > kMaxImageSide ||
      !(cinfo.jpeg_color_space == JCS_GRAYSCALE || cinfo.jpeg_color_space == JCS_YCbCr ||
        cinfo.jpeg_color_space == JCS_RGB)) {
    jpeg_destroy_decompress(&cinfo);
    return "";
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = rgb.data() + static_cast<size_t>(cinfo.output_scanline) * width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  truncated = errors.truncated;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return "";
}

} // namespace

Tensor decodeJpeg(const uint8_t *data, size_t size, const std::string &context) {
  if (!isJpeg(data, size))
    throw Error(context, "not a JPEG file (no JPEG signature)");
  std::vector<uint8_t> rgb;
  int64_t width = 0, height = 0;
  int components = 0;
  bool truncated = false;
  std::string failure = decodeJpegRaw(data, size, rgb, width, height, components, truncated);
  if (!failure.empty())
    throw Error(context, "corrupt JPEG: " + failure);
  checkSide(context, "JPEG", width, height);
  if (rgb.empty())
    throw Error(context, "JPEG with " + std::to_string(components) +
                             " channels (CMYK/YCCK) is not supported; convert it to RGB");
  if (truncated)
    throw Error(context, "corrupt JPEG: truncated or damaged data");
  size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  Tensor image(DType::F32, {3, height, width});
  float *out = image.data<float>();
  for (size_t p = 0; p < pixels; ++p)
    for (size_t c = 0; c < 3; ++c)
      out[c * pixels + p] = static_cast<float>(rgb[3 * p + c]) / 255.0f;
  return image;
}

Tensor decodeImage(const uint8_t *data, size_t size, const std::string &context) {
  if (isPng(data, size))
    return decodePng(data, size, context);
  if (isJpeg(data, size))
    return decodeJpeg(data, size, context);
  throw Error(context, size == 0 ? "empty file, not a PNG or JPEG image"
                                 : "not a PNG or JPEG image (unknown signature)");
}

Tensor readImage(const std::string &path) {
  MappedFile file(path);
  return decodeImage(file.data(), file.size(), path);
}

void writePng(const std::string &path, const Tensor &image) {
  if (image.dtype() != DType::F32 || image.rank() != 3 || image.shape()[0] != 3)
    throw Error(path, "cannot write " + typeToString(image.dtype(), image.shape()) +
                          " as a PNG (expected f32[3, H, W])");
  int64_t height = image.shape()[1], width = image.shape()[2];
  checkSide(path, "PNG", width, height);
  size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  std::vector<uint8_t> rgb(pixels * 3);
  const float *in = image.data<float>();
  for (size_t p = 0; p < pixels; ++p)
    for (size_t c = 0; c < 3; ++c) {
      float v = in[c * pixels + p];
      v = std::isnan(v) ? 0.0f : std::min(1.0f, std::max(0.0f, v));
      rgb[3 * p + c] = static_cast<uint8_t>(std::lround(v * 255.0f));
    }

  SpngContext ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx)
    throw std::bad_alloc();
  auto check = [&](int err) {
    if (err)
      throw Error(path, std::string("cannot encode PNG: ") + spng_strerror(err));
  };
  check(spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1));
  spng_ihdr ihdr = {};
  ihdr.width = static_cast<uint32_t>(width);
  ihdr.height = static_cast<uint32_t>(height);
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  check(spng_set_ihdr(ctx.get(), &ihdr));
  check(spng_encode_image(ctx.get(), rgb.data(), rgb.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE));
  size_t length = 0;
  int err = 0;
  std::unique_ptr<void, decltype(&std::free)> png(spng_get_png_buffer(ctx.get(), &length, &err),
                                                  &std::free);
  check(err);
  if (!png)
    throw Error(path, "cannot encode PNG: no output");
  AtomicFileWriter writer(path);
  writer.write(png.get(), length);
  writer.commit();
}

} // namespace msdd::rt
