//===- Error.h - The runtime's one exception type ---------------*- C++ -*-===//
//
// Every failure the runtime reports is an Error whose message is ONE line of the form
// `<file or context>: <problem>`, so tools can print it as is after their own prefix.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_ERROR_H
#define MSDD_RUNTIME_ERROR_H

#include <stdexcept>
#include <string>

namespace msdd::rt {

class Error : public std::runtime_error {
public:
  /// `context: problem`; line breaks in either part become spaces.
  Error(const std::string &context, const std::string &problem);
  /// A message that already names its context.
  explicit Error(const std::string &message);
};

/// `strerror(errnum)` as a std::string (thread-safe).
std::string errnoMessage(int errnum);

} // namespace msdd::rt

#endif // MSDD_RUNTIME_ERROR_H
