//===- Safetensors.h - safetensors weight files -----------------*- C++ -*-===//
//
// Format: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "value"}}, then the data block the offsets index into.
// Supported dtypes: F32 F64 I32 I64 BOOL.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_SAFETENSORS_H
#define MSDD_RUNTIME_SAFETENSORS_H

#include "msdd/Runtime/Tensor.h"

#include <map>
#include <string>

namespace msdd::rt {

using Metadata = std::map<std::string, std::string>;

/// All tensors in data order. Validates the header length, JSON, dtypes, shapes and that
/// the offsets tile the data block exactly; throws Error(path, ...) otherwise. If
/// `metadata` is given it receives the "__metadata__" strings.
NamedTensors readSafetensors(const std::string &path, Metadata *metadata = nullptr);

/// What precedes the data block in a file of `tensors`: the 8-byte header length and the
/// JSON header (space-padded so the data block starts 8-byte aligned). The data block is the
/// tensors' bytes in the given order. `path` names the file in errors.
std::string safetensorsHeader(const std::string &path, const NamedTensors &tensors,
                              const Metadata &metadata = {});

/// Writes atomically (see AtomicFileWriter), tensors in the given order.
void writeSafetensors(const std::string &path, const NamedTensors &tensors,
                      const Metadata &metadata = {});

} // namespace msdd::rt

#endif // MSDD_RUNTIME_SAFETENSORS_H
