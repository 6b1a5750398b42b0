//===- Npz.h - NumPy .npy / .npz files --------------------------*- C++ -*-===//
//
// Reads what np.save / np.savez / np.savez_compressed write (zip entries stored or deflated,
// .npy format versions 1-3) for the dtypes <f4 <f8 <i4 <i8 |b1 in C order, and writes .npz
// files that np.load reads (stored entries, .npy version 1 headers padded to 64 bytes).
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_NPZ_H
#define MSDD_RUNTIME_NPZ_H

#include "msdd/Runtime/Tensor.h"

#include <string>

namespace msdd::rt {

/// All arrays of an .npz file in archive order, named without the ".npy" suffix. Throws
/// Error(path, ...) naming the array and the problem on anything unsupported or corrupt.
NamedTensors readNpz(const std::string &path);

/// Writes an uncompressed .npz atomically (see AtomicFileWriter). Throws Error(path, ...);
/// on failure `path` is untouched and no temporary remains.
void writeNpz(const std::string &path, const NamedTensors &tensors);

} // namespace msdd::rt

#endif // MSDD_RUNTIME_NPZ_H
