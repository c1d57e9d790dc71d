// The dataplane's side of a ShmRegion for tests of kairos::net over
// in-memory rings (no network): the test produces into the RX rings and
// consumes the TX rings that a Stack maps a second time by fd.
#pragma once

#include <kairos/net.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kairos::net::test {

using dp::Endpoint;
using dp::ShmRegion;

struct FakeDataplane {
  explicit FakeDataplane(unsigned kthreads, std::uint32_t slots = 256)
      : region(ShmRegion::create(kthreads, slots)) {}
  ShmRegion attach() const { return ShmRegion::attach(region.fd()); }
  // Pushes into RX ring k (retrying while full) and rings the doorbell.
  void send(unsigned k, const Endpoint& from, const Endpoint& to,
            const std::vector<std::uint8_t>& data) {
    auto rx = region.rings(k).rx;
    while (!rx.try_push(from, to, 0, data)) std::this_thread::yield();
    rx.wake_consumer();
  }
  void send(unsigned k, const Endpoint& from, const Endpoint& to,
            const std::string& text) {
    send(k, from, to, std::vector<std::uint8_t>(text.begin(), text.end()));
  }
  // Takes one datagram from any TX ring, waiting up to timeout.
  std::optional<Datagram> take_tx(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    do {
      for (unsigned k = 0; k < region.nr_kthreads(); k++) {
        auto tx = region.rings(k).tx;
        if (const kairos_dp_slot* s = tx.peek()) {
          auto p = dp::RingView::payload(s);
          Datagram d{Endpoint::from_abi(s->peer), Endpoint::from_abi(s->local),
                     {p.begin(), p.end()}};
          tx.release();
          return d;
        }
      }
      std::this_thread::yield();
    } while (std::chrono::steady_clock::now() < end);
    return std::nullopt;
  }
  ShmRegion region;
};

}  // namespace kairos::net::test
