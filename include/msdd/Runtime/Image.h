//===- Image.h - Decoding and writing images --------------------*- C++ -*-===//
//
// Images for training and reconstruction: PNG (libspng) and JPEG (libjpeg-turbo) decoded to
// float tensors [3, H, W] (channels R, G, B; values in [0, 1]); PNG written from them.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_IMAGE_H
#define MSDD_RUNTIME_IMAGE_H

#include "msdd/Runtime/Tensor.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace msdd::rt {

/// Images larger than this in either dimension are rejected before decoding.
constexpr int64_t kMaxImageSide = 16384;

/// Decodes the PNG or JPEG file at `path` (recognised by its signature, not its name) to an
/// f32 tensor [3, H, W] in [0, 1]: 8-bit samples divided by 255, 16-bit ones by 65535.
/// Grayscale is replicated to R, G and B; an alpha channel is dropped (as Pillow's
/// convert("RGB") does); palette images are expanded. Throws Error(path, ...) for a missing
/// file, a file that is neither PNG nor JPEG, a corrupt or truncated one, a side over
/// kMaxImageSide, or a JPEG colour space other than grayscale/YCbCr/RGB (CMYK).
Tensor readImage(const std::string &path);

/// The same on bytes in memory; `context` names them in errors.
Tensor decodeImage(const uint8_t *data, size_t size, const std::string &context);
Tensor decodePng(const uint8_t *data, size_t size, const std::string &context);
Tensor decodeJpeg(const uint8_t *data, size_t size, const std::string &context);

/// True if `data` starts with the PNG or JPEG signature.
bool isPng(const uint8_t *data, size_t size);
bool isJpeg(const uint8_t *data, size_t size);

/// Writes an f32 [3, H, W] tensor as an 8-bit RGB PNG, atomically (see AtomicFileWriter):
/// values are clamped to [0, 1] and rounded to the nearest of 0..255. Throws Error(path, ...)
/// for another dtype or shape or a failed write.
void writePng(const std::string &path, const Tensor &image);

} // namespace msdd::rt

#endif // MSDD_RUNTIME_IMAGE_H
