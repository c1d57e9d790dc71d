#include "netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace kairos::dp::testing {

Netns::Netns() {
  // unshare in a helper thread so the caller's namespace never changes.
  std::thread([this] {
    if (unshare(CLONE_NEWNET) == 0)
      fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  }).join();
  if (fd_ < 0) throw std::runtime_error("cannot create a network namespace (root?)");
}

Netns::~Netns() {
  if (fd_ >= 0) close(fd_);
}

std::string Netns::path() const {
  return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd_);
}

int Netns::sh(const std::string& cmd) const {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (setns(fd_, CLONE_NEWNET) != 0) _exit(126);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

VethPair::VethPair(unsigned queues) {
  const std::string q = std::to_string(queues);
  ok_ = server.sh("set -e; ip link add " + server_if + " numtxqueues " + q +
                  " numrxqueues " + q + " type veth peer name " + client_if +
                  " numtxqueues " + q + " numrxqueues " + q + " netns " +
                  client.path() + "; ip addr add " + server_ip + "/24 dev " +
                  server_if + "; ip addr add fd77::1/64 dev " + server_if +
                  " nodad; ip link set lo up; ip link set " + server_if +
                  " up; ethtool -K " + server_if + " tx off >/dev/null") == 0 &&
        client.sh("set -e; ip addr add " + client_ip + "/24 dev " + client_if +
                  "; ip addr add fd77::2/64 dev " + client_if +
                  " nodad; ip link set lo up; ip link set " + client_if +
                  " up; ethtool -K " + client_if + " tx off >/dev/null") == 0;
}

InNetns::InNetns(const Netns& ns) {
  self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self_ < 0 || setns(ns.fd(), CLONE_NEWNET) != 0)
    throw std::runtime_error("cannot enter the network namespace");
}

InNetns::~InNetns() {
  if (setns(self_, CLONE_NEWNET) != 0) std::abort();  // never leave a thread astray
  close(self_);
}

}  // namespace kairos::dp::testing
