//===- File.cpp -----------------------------------------------------------===//
#include "msdd/Runtime/File.h"

#include "msdd/Runtime/Error.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace msdd::rt {

MappedFile::MappedFile(const std::string &path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(path, "cannot open: " + errnoMessage(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(path, "cannot stat: " + errnoMessage(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path, S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void *p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error(path, "cannot map: " + errnoMessage(err));
    }
    data_ = static_cast<const uint8_t *>(p);
  }
  ::close(fd); // the mapping stays valid
}

MappedFile::~MappedFile() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

void checkCanCreate(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(path, "is a directory");
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(path, "cannot create: directory '" + dir + "': " + errnoMessage(errno));
}

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), tempPath_(path_ + ".tmp." + std::to_string(::getpid())) {
  checkCanCreate(path_); // rename() over a directory would fail only after all the writing
  file_ = std::fopen(tempPath_.c_str(), "wbe");
  if (!file_)
    throw Error(path_, "cannot create: " + errnoMessage(errno));
}

AtomicFileWriter::~AtomicFileWriter() { discard(); }

void AtomicFileWriter::discard() {
  if (!file_)
    return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(tempPath_.c_str());
}

void AtomicFileWriter::write(const void *data, size_t size) {
  if (!file_)
    throw Error(path_, "write after commit");
  if (size && std::fwrite(data, 1, size, file_) != size) {
    int err = errno;
    discard();
    throw Error(path_, "write failed: " + errnoMessage(err));
  }
  offset_ += size;
}

void AtomicFileWriter::flush() {
  if (!file_)
    throw Error(path_, "flush after commit");
  if (std::fflush(file_) != 0) {
    int err = errno;
    discard();
    throw Error(path_, "write failed: " + errnoMessage(err));
  }
}

void AtomicFileWriter::commit() {
  if (!file_)
    throw Error(path_, "commit after commit");
  // Data must be on disk before the rename makes it visible, or a crash could leave a
  // complete-looking file with missing contents.
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    int err = errno;
    discard();
    throw Error(path_, "write failed: " + errnoMessage(err));
  }
  int closed = std::fclose(file_);
  int err = errno;
  file_ = nullptr;
  if (closed != 0) {
    std::remove(tempPath_.c_str());
    throw Error(path_, "write failed: " + errnoMessage(err));
  }
  if (std::rename(tempPath_.c_str(), path_.c_str()) != 0) {
    err = errno;
    std::remove(tempPath_.c_str());
    throw Error(path_, "cannot replace: " + errnoMessage(err));
  }
}

} // namespace msdd::rt
