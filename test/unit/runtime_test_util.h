//===- runtime_test_util.h - Helpers shared by the runtime unit tests -----===//
#ifndef MSDD_TEST_UNIT_RUNTIME_TEST_UTIL_H
#define MSDD_TEST_UNIT_RUNTIME_TEST_UTIL_H

#include "msdd/Runtime/Error.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <ftw.h>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

namespace msdd::rt::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when destroyed.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/msdd-rt-test-XXXXXX";
    if (!mkdtemp(pattern.data()))
      throw std::runtime_error("cannot create a temporary directory");
    path_ = pattern;
  }
  ~TempDir() {
    // Depth first, so folders are empty when they are removed.
    nftw(
        path_.c_str(),
        [](const char *path, const struct stat *, int, struct FTW *) { return ::remove(path); },
        16, FTW_DEPTH | FTW_PHYS);
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }
  /// Names of the entries, without "." and "..".
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    if (DIR *dir = opendir(path_.c_str())) {
      while (dirent *entry = readdir(dir))
        if (std::string(entry->d_name) != "." && std::string(entry->d_name) != "..")
          names.push_back(entry->d_name);
      closedir(dir);
    }
    return names;
  }

private:
  std::string path_;
};

inline void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The message of the Error that `body` throws; fails the test if it throws none.
inline std::string errorOf(const std::function<void()> &body) {
  try {
    body();
  } catch (const Error &error) {
    std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "multi-line error: " << message;
    return message;
  }
  ADD_FAILURE() << "expected an msdd::rt::Error";
  return "";
}

} // namespace msdd::rt::test

#endif // MSDD_TEST_UNIT_RUNTIME_TEST_UTIL_H
