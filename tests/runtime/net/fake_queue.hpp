// An in-memory device queue for kairos::net's direct mode: a dp::Backend
// whose wait fd is an eventfd, readable while received datagrams wait.
// The test injects datagrams (any thread) and reads what was flushed.
// Like an L2 backend it only routes to peers it has received from.
#pragma once

#include <kairos/contracts/backend.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace kairos::net::test {

struct MemDatagram {
  dp::Endpoint src, dst;
  std::vector<std::uint8_t> data;
};

class MemQueue final : public dp::Backend {
 public:
  explicit MemQueue(std::size_t tx_cap = 1u << 20)
      : efd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), tx_cap_(tx_cap) {}
  ~MemQueue() override { close(efd_); }

  void inject(const dp::Endpoint& src, const dp::Endpoint& dst, std::vector<std::uint8_t> d) {
    std::lock_guard g(m_);
    rx_.push_back({src, dst, std::move(d)});
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(efd_, &one, sizeof one);
  }
  std::vector<MemDatagram> sent() const {
    std::lock_guard g(m_);
    return sent_;
  }
  std::size_t sent_count() const {
    std::lock_guard g(m_);
    return sent_.size();
  }

  std::string name() const override { return "mem"; }
  std::size_t poll_rx(std::size_t max, dp::RxSink& sink) override {
    std::vector<MemDatagram> got;
    {
      std::lock_guard g(m_);
      while (!rx_.empty() && got.size() < max) {
        got.push_back(std::move(rx_.front()));
        rx_.pop_front();
      }
      if (rx_.empty()) {  // not readable any more (under m_: no lost inject)
        std::uint64_t v;
        [[maybe_unused]] ssize_t r = read(efd_, &v, sizeof v);
      }
      for (auto& d : got)
        if (std::find(known_.begin(), known_.end(), d.src.addr) == known_.end())
          known_.push_back(d.src.addr);
      stats_.rx += got.size();
    }
    for (auto& d : got) sink.on_datagram({d.src, d.dst, d.data});
    return got.size();
  }
  bool send(const dp::Endpoint& src, const dp::Endpoint& dst,
            std::span<const std::uint8_t> payload) override {
    std::lock_guard g(m_);
    if (std::find(known_.begin(), known_.end(), dst.addr) == known_.end()) {
      stats_.tx_no_route++;
      return false;
    }
    if (pending_.size() >= tx_cap_) {
      stats_.tx_full++;
      return false;
    }
    pending_.push_back({src, dst, {payload.begin(), payload.end()}});
    stats_.tx++;
    return true;
  }
  void flush() override {
    std::lock_guard g(m_);
    for (auto& d : pending_) sent_.push_back(std::move(d));
    pending_.clear();
  }
  std::vector<int> wait_fds() const override { return {efd_}; }
  std::size_t rx_waiting() const override {
    std::lock_guard g(m_);
    return rx_.size() + unseen_;
  }
  // Frames a device would report as waiting that the next polls do not
  // reach yet (as if they landed right after a poll).
  void set_unseen(std::size_t n) {
    std::lock_guard g(m_);
    unseen_ = n;
  }
  dp::BackendStats stats() const override {
    std::lock_guard g(m_);
    return stats_;
  }

 private:
  int efd_;
  std::size_t tx_cap_;
  std::size_t unseen_ = 0;
  mutable std::mutex m_;
  std::deque<MemDatagram> rx_;
  std::vector<MemDatagram> pending_, sent_;
  std::vector<std::array<std::uint8_t, 16>> known_;
  dp::BackendStats stats_;
};

}  // namespace kairos::net::test
