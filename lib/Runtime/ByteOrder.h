//===- ByteOrder.h - Little-endian fields of file formats -------*- C++ -*-===//
//
// zip, .npy and safetensors store integers little-endian. Tensor data is copied as raw bytes,
// which is only right on a little-endian host.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_BYTEORDER_H
#define MSDD_RUNTIME_BYTEORDER_H

#include <cstdint>
#include <string>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the runtime's file formats store raw little-endian tensor data");

namespace msdd::rt {

template <typename T> T loadLE(const uint8_t *p) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
  return value;
}

template <typename T> void appendLE(std::string &out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out += static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFF);
}

} // namespace msdd::rt

#endif // MSDD_RUNTIME_BYTEORDER_H
