//===- msdd_run_test_util.h - Running the msdd-run tool in tests ----------===//
#ifndef MSDD_TEST_UNIT_MSDD_RUN_TEST_UTIL_H
#define MSDD_TEST_UNIT_MSDD_RUN_TEST_UTIL_H

#include "runtime_test_util.h"

#include <algorithm>
#include <sys/wait.h>

namespace msdd::rt::test {

struct RunResult {
  int status; // exit status, or 128 + signal
  std::string out, err;
};

/// A temporary directory to run msdd-run in, and checks of its exit contract.
class MsddRunFixture : public ::testing::Test {
protected:
  /// Runs `[env] msdd-run <args>` (already shell-quoted where needed) in the temp directory.
  RunResult run(const std::string &args, const std::string &env = "") {
    std::string command = "cd '" + dir.path() + "' && exec env " + env + " '" +
                          std::string(MSDD_RUN_PATH) + "' " + args + " >'" + dir.path() +
                          "/.stdout' 2>'" + dir.path() + "/.stderr'";
    int raw = std::system(command.c_str());
    RunResult result{WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw),
                     readBytes(dir.file(".stdout")), readBytes(dir.file(".stderr"))};
    std::remove(dir.file(".stdout").c_str());
    std::remove(dir.file(".stderr").c_str());
    return result;
  }

  /// Expects a failure with `status`, whose first stderr line starts with
  /// "msdd-run: error: " + `message`, and no new file or temporary in the directory.
  void expectFailure(const std::string &args, int status, const std::string &message) {
    std::vector<std::string> before = dir.list();
    RunResult result = run(args);
    EXPECT_EQ(result.status, status) << args << "\n" << result.err;
    std::string first = result.err.substr(0, result.err.find('\n'));
    EXPECT_EQ(first.rfind("msdd-run: error: " + message, 0), 0u)
        << args << "\ngot: " << first << "\nwanted: msdd-run: error: " << message;
    size_t lines = std::count(result.err.begin(), result.err.end(), '\n');
    EXPECT_EQ(lines, status == 2 ? 2u : 1u) << result.err; // usage errors add a hint
    EXPECT_EQ(dir.list(), before) << args << ": files appeared";
  }

  TempDir dir;
};

} // namespace msdd::rt::test

#endif // MSDD_TEST_UNIT_MSDD_RUN_TEST_UTIL_H
