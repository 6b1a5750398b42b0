//===- Error.cpp ----------------------------------------------------------===//
#include "msdd/Runtime/Error.h"

#include <algorithm>
#include <cstring>

namespace msdd::rt {

namespace {
std::string oneLine(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}
} // namespace

Error::Error(const std::string &context, const std::string &problem)
    : std::runtime_error(oneLine(context + ": " + problem)) {}

Error::Error(const std::string &message) : std::runtime_error(oneLine(message)) {}

std::string errnoMessage(int errnum) {
  char buffer[256];
  // GNU strerror_r may return a static string instead of filling the buffer.
  return strerror_r(errnum, buffer, sizeof buffer);
}

} // namespace msdd::rt
