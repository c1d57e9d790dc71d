#include "loadgen.hpp"

#include <kairos/contracts/clock.hpp>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace kairos::udpload {

namespace {

std::int64_t now_ns() { return static_cast<std::int64_t>(monotonic_ns()); }

double percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i] / 1000.0;
}

}  // namespace

std::string LoadResult::str() const {
  char b[256];
  std::snprintf(b, sizeof b,
                "sent %llu received %llu (%.2f%% lost, %llu stale) %.0f replies/s  "
                "p50 %.1f us  p99 %.1f us  p99.9 %.1f us",
                static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(received),
                sent ? 100.0 * (double(sent) - double(received)) / sent : 0.0,
                static_cast<unsigned long long>(stale), throughput, p50_us,
                p99_us, p999_us);
  return b;
}

std::string LoadResult::json(const std::string& name) const {
  char b[320];
  std::snprintf(b, sizeof b,
                "{\"name\": \"%s\", \"sent\": %llu, \"received\": %llu, "
                "\"throughput\": %.0f, \"p50_us\": %.2f, \"p99_us\": %.2f, "
                "\"p999_us\": %.2f}",
                name.c_str(), static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(received), throughput, p50_us,
                p99_us, p999_us);
  return b;
}

LoadResult run_load(const std::vector<int>& fds, const LoadConfig& cfg) {
  if (fds.empty() || cfg.size < 16 || cfg.size > 1400 || cfg.rate < 0 ||
      cfg.duration_s <= 0 || cfg.batch == 0 || cfg.batch > 64 || cfg.spin_us < 0)
    throw std::invalid_argument(
        "udpload: need flows, 16 <= size <= 1400, rate >= 0, duration > 0, "
        "1 <= batch <= 64");
  const std::int64_t start = now_ns() + 1'000'000;  // 1 ms to get going
  const std::int64_t end = start + static_cast<std::int64_t>(cfg.duration_s * 1e9);
  const double gap_ns = cfg.rate > 0 ? 1e9 / cfg.rate : 0;
  const std::int64_t spin_ns = static_cast<std::int64_t>(cfg.spin_us * 1000);
  prctl(PR_SET_TIMERSLACK, 1UL);  // the sleeps below end when asked
  std::atomic<std::uint64_t> sent{0};
  std::atomic<bool> sending{true};
  std::vector<std::int64_t> lat;
  lat.reserve(cfg.rate > 0 ? static_cast<std::size_t>(cfg.rate * cfg.duration_s) + 16
                           : 1 << 20);
  std::int64_t last_reply = start;
  std::uint64_t stale = 0;

  std::thread receiver([&] {
    std::vector<pollfd> pfds;
    for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
    std::vector<std::uint8_t> buf(64 * 2048);
    mmsghdr msgs[64];
    iovec iov[64];
    std::int64_t drain_until = INT64_MAX;
    for (;;) {
      const std::int64_t now = now_ns();
      if (!sending.load() && drain_until == INT64_MAX)
        drain_until = now + static_cast<std::int64_t>(cfg.drain_s * 1e9);
      if (now > drain_until || (!sending.load() && lat.size() >= sent.load())) break;
      if (poll(pfds.data(), pfds.size(), 1) <= 0) continue;
      for (auto& p : pfds) {
        if (!(p.revents & POLLIN)) continue;
        for (int i = 0; i < 64; i++) {
          iov[i] = {&buf[i * 2048], 2048};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int n = recvmmsg(p.fd, msgs, 64, MSG_DONTWAIT, nullptr);
        const std::int64_t t = now_ns();
        for (int i = 0; i < n; i++) {
          if (msgs[i].msg_len < 16) continue;
          std::int64_t ts;
          std::memcpy(&ts, &buf[i * 2048 + 8], 8);
          if (ts < start) {  // an earlier run's request (late reply)
            stale++;
            continue;
          }
          lat.push_back(t - ts);
          last_reply = t;
        }
      }
    }
  });

  // Sender: request i is due at start + i * gap; everything due goes out
  // in sendmmsg batches, one flow per batch, round-robin.
  std::vector<std::uint8_t> msg(cfg.batch * cfg.size, 0);
  mmsghdr msgs[64];
  iovec iov[64];
  std::uint64_t seq = 0;
  std::size_t flow = 0;
  for (;;) {
    const std::int64_t now = now_ns();
    if (now >= end) break;
    std::size_t due = cfg.batch;
    if (gap_ns > 0) {
      const std::int64_t next = start + static_cast<std::int64_t>(seq * gap_ns);
      if (next > now) {
        if (next - now > spin_ns) {
          const std::int64_t wake = next - spin_ns;
          const timespec ts{static_cast<time_t>(wake / 1'000'000'000),
                            static_cast<long>(wake % 1'000'000'000)};
          clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
        }
        continue;
      }
      due = std::min<std::size_t>(cfg.batch, static_cast<std::size_t>((now - next) / gap_ns) + 1);
    }
    for (std::size_t i = 0; i < due; i++) {
      std::uint8_t* m = &msg[i * cfg.size];
      const std::uint64_t s = seq + i;
      const std::int64_t ts = gap_ns > 0 ? start + static_cast<std::int64_t>(s * gap_ns) : now;
      std::memcpy(m, &s, 8);
      std::memcpy(m + 8, &ts, 8);
      iov[i] = {m, cfg.size};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = sendmmsg(fds[flow], msgs, due, 0);
    flow = (flow + 1) % fds.size();
    if (n > 0) {
      seq += n;
      sent.store(seq);
    }
  }
  sending.store(false);
  receiver.join();

  LoadResult r;
  r.sent = seq;
  r.received = lat.size();
  r.stale = stale;
  r.seconds = (std::max(last_reply, end) - start) / 1e9;
  r.throughput = r.received / ((end - start) / 1e9);
  r.p50_us = percentile(lat, 0.50);
  r.p99_us = percentile(lat, 0.99);
  r.p999_us = percentile(lat, 0.999);
  return r;
}

}  // namespace kairos::udpload
