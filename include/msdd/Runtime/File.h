//===- File.h - Whole-file reading and atomic writing -----------*- C++ -*-===//
//
// Outputs and checkpoints must never be left half-written: AtomicFileWriter writes to a
// temporary next to the destination and renames it into place only once complete.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_FILE_H
#define MSDD_RUNTIME_FILE_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace msdd::rt {

/// A read-only memory map of a whole regular file (an empty file maps to an empty range).
class MappedFile {
public:
  /// Throws Error(path, ...) if the file cannot be opened, is not a regular file, or cannot
  /// be mapped.
  explicit MappedFile(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  std::string path_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

/// Throws Error(path, ...) unless a file could be created at `path`: its directory exists and
/// is writable, and `path` is not a directory. Lets tools fail before a long computation
/// rather than when writing its result.
void checkCanCreate(const std::string &path);

/// Writes `path` atomically: bytes go to `path.tmp.<pid>`; commit() flushes, syncs and
/// renames it over `path`. If the writer is destroyed before commit() (an exception, an
/// early return) the temporary is removed and `path` is untouched.
class AtomicFileWriter {
public:
  /// Throws Error(path, "cannot create: ...") if the temporary cannot be created.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter &) = delete;
  AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

  void write(const void *data, size_t size);
  void write(const std::string &bytes) { write(bytes.data(), bytes.size()); }
  /// Hands the bytes written so far to the operating system (no fsync).
  void flush();
  /// Bytes written so far.
  uint64_t offset() const { return offset_; }
  void commit();

  const std::string &path() const { return path_; }
  const std::string &tempPath() const { return tempPath_; }

private:
  void discard();

  std::string path_;
  std::string tempPath_;
  std::FILE *file_ = nullptr;
  uint64_t offset_ = 0;
};

} // namespace msdd::rt

#endif // MSDD_RUNTIME_FILE_H
