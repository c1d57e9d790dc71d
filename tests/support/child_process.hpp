// A child process for the dataplane tests (kairos-echo, kairosd): its
// stdout and stderr in one pipe, read until a marker, and its exit status.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace kairos::dp::testing {

// A child process with its stdout and stderr in one pipe.
struct Child {
  pid_t pid = -1;
  int out = -1;

  explicit Child(const std::vector<std::string>& argv) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    out = p[0];
  }
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (out >= 0) close(out);
  }
  // Output until a line containing want shows up (or EOF / timeout).
  std::string read_until(const std::string& want, int timeout_ms = 10000) {
    std::string all;
    while (all.find(want) == std::string::npos) {
      pollfd p{out, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) != 1) break;
      char buf[512];
      const ssize_t n = read(out, buf, sizeof buf);
      if (n <= 0) break;
      all.append(buf, static_cast<std::size_t>(n));
    }
    return all;
  }
  // Exit status (-1 if it did not exit normally).
  int wait_exit() {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
};

}  // namespace kairos::dp::testing
