// A shell command's exit status and what it printed, for the tests of a
// command-line tool's output, messages and exit codes.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace kairos::test {

struct CommandResult {
  int status;       // the exit status; -1 when it did not exit normally
  std::string out;  // its stdout (redirect stderr in cmd to get that too)
};

inline CommandResult run_command(const std::string& cmd) {
  CommandResult r{-1, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) r.out += buf;
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace kairos::test
