// kairos-echo: a UDP echo app in its own process, served by the dataplane
// that kairosd (or a DataplaneService) runs: it attaches to the app's ring
// region by its shared-memory name (ring_abi.h), learns its address from
// the region header, and answers on runtime uthreads with kairos::net
// blocking sockets. Each reply is the request followed by "|<pid>", so a
// client can tell which process answered.
//   kairos-echo --shm NAME [--servers N] [--wait-s S]
//   kairos-echo --direct PIN_DIR [--poll | --uthreads [--servers N]] [--wait-s S]
// Prints "kairos-echo ready <addr> kthreads=<n>" once it serves; on
// SIGINT/SIGTERM closes its socket, prints its counters and exits 0. When
// the dataplane stops (its region marked stopped or its process gone:
// ShmRegion::dataplane_alive) it says so, prints its counters and exits 3.
//
// --direct: direct mode (kairosd's "app ... mode=direct pin=PIN_DIR"):
// no rings, no runtime; one thread per device queue the app owns (all,
// or its queues=) owns that queue's AF_XDP socket, inserted into the
// app's own XSKMAP that kairosd pinned (attach_direct),
// and answers in place, blocking on the socket when idle (--poll: never
// sleeps). Replies end in "|<pid>:<queue>". Needs root (or CAP_BPF +
// CAP_NET_RAW) in kairosd's network namespace. Prints
// "kairos-echo ready <addr> direct queues=<n>"; exits 3 when kairosd's
// steering program is gone. --direct --uthreads: the same sockets served
// by runtime uthreads through kairos::net's direct-mode Stack (one kthread
// per queue, parked on its socket's fd when idle; --servers uthreads in
// recv_from); replies end in "|<pid>:u".
#include <kairos/packetio/direct_pins.hpp>
#include <kairos/contracts/shm_rings.hpp>
#include <kairos/net.hpp>

#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "kairos-echo: %s\nusage: kairos-echo --shm NAME [--servers N] [--wait-s S]\n"
               "       kairos-echo --direct PIN_DIR [--poll | --uthreads [--servers N]] "
               "[--wait-s S]\n",
               why);
  return 2;
}

// The dataplane may still be starting: retry until the region is ready.
kairos::dp::ShmRegion attach_when_ready(const std::string& name, double wait_s) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration<double>(wait_s);
  for (;;) {
    try {
      return kairos::dp::ShmRegion::attach_named(name);
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() >= until) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// kairosd may still be starting: retry until its pins are there.
kairos::dp::DirectAttachment attach_direct_when_ready(const std::string& dir, double wait_s) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration<double>(wait_s);
  for (;;) {
    try {
      return kairos::dp::attach_direct(dir);
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() >= until) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// One queue, one thread: receive, answer in place, kick TX.
struct DirectEcho final : kairos::dp::RxSink {
  kairos::dp::Backend* b = nullptr;
  std::string tag;
  std::vector<std::uint8_t> buf;
  void on_datagram(const kairos::dp::RxDatagram& d) override {
    buf.assign(d.payload.begin(), d.payload.end());
    buf.insert(buf.end(), tag.begin(), tag.end());
    b->send(d.dst, d.src, buf);  // a refusal is counted by the backend
  }
};

// Waits for SIGINT/SIGTERM (0), checking every 100 ms that the dataplane
// still serves the app (else 3).
int wait_for_stop(sigset_t& sigs, const std::function<bool()>& dataplane_alive) {
  const timespec tick{0, 100'000'000};
  while (sigtimedwait(&sigs, nullptr, &tick) < 0) {
    if (!dataplane_alive()) {
      std::printf("kairos-echo: the dataplane stopped\n");
      return 3;
    }
  }
  return 0;
}

// `servers` echo uthreads in recv_from on one socket of stack, bound to
// local, until wait_for_stop; then the socket closes and the stack's
// counters are printed.
int serve_on_uthreads(kairos::Runtime& rt, std::unique_ptr<kairos::net::Stack> stack,
                      const kairos::dp::Endpoint& local, unsigned servers,
                      const std::string& tag, const std::string& ready, sigset_t& sigs,
                      const std::function<bool()>& dataplane_alive) {
  kairos::net::UdpSocket sock = stack->bind(local);
  std::vector<kairos::Thread> workers;
  for (unsigned i = 0; i < servers; i++)
    workers.push_back(rt.spawn([s = sock, tag]() mutable {
      while (auto d = s.recv_from()) {
        d->data.insert(d->data.end(), tag.begin(), tag.end());
        if (!s.send_to(d->peer, d->data)) return;
      }
    }));
  std::printf("kairos-echo ready %s %s\n", local.str().c_str(), ready.c_str());
  std::fflush(stdout);
  const int rc = wait_for_stop(sigs, dataplane_alive);
  sock.close();
  for (auto& t : workers) t.join();
  const kairos::net::StackStats st = stack->stats();
  stack.reset();
  std::printf("kairos-echo stats rx_delivered=%llu tx_sent=%llu rx_no_socket=%llu "
              "rx_overflow=%llu tx_dropped=%llu\n",
              (unsigned long long)st.rx_delivered, (unsigned long long)st.tx_sent,
              (unsigned long long)st.rx_no_socket, (unsigned long long)st.rx_overflow,
              (unsigned long long)st.tx_dropped);
  return rc;
}

// Runtime uthreads over kairos::net's direct mode: the kthreads own the
// queues' sockets.
int serve_direct_uthreads(kairos::dp::DirectAttachment att, unsigned servers,
                          sigset_t& sigs) {
  const kairos::dp::Endpoint local = att.listen;
  const std::size_t nq = att.queues.size();
  kairos::Runtime rt({.kthreads = static_cast<unsigned>(nq)});
  auto stack = std::make_unique<kairos::net::Stack>(
      rt, std::move(att.queues), kairos::net::StackOptions{.steered = {local}});
  return serve_on_uthreads(rt, std::move(stack), local, servers,
                           "|" + std::to_string(getpid()) + ":u",
                           "direct queues=" + std::to_string(nq) + " uthreads", sigs,
                           [&att] { return att.steering_attached(); });
}

int serve_direct(const std::string& dir, bool poll_only, bool uthreads, unsigned servers,
                 double wait_s, sigset_t& sigs) {
  kairos::dp::DirectAttachment att = attach_direct_when_ready(dir, wait_s);
  if (uthreads) return serve_direct_uthreads(std::move(att), servers, sigs);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (unsigned q = 0; q < att.queues.size(); q++)
    threads.emplace_back([&, q] {
      prctl(PR_SET_TIMERSLACK, 1UL);
      kairos::dp::Backend& b = *att.queues[q];
      DirectEcho echo;
      echo.b = &b;
      echo.tag = "|" + std::to_string(getpid()) + ":" + std::to_string(att.queue_ids[q]);
      unsigned idle = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t n = b.poll_rx(64, echo);
        b.flush();  // TX kick and completions, every round while in flight
        if (n) idle = 0;
        else if (!poll_only && ++idle > 64) b.wait_rx(std::chrono::milliseconds(20));
      }
    });
  std::printf("kairos-echo ready %s direct queues=%zu\n", att.listen.str().c_str(),
              att.queues.size());
  std::fflush(stdout);
  const int rc = wait_for_stop(sigs, [&att] { return att.steering_attached(); });
  stop = true;
  for (auto& t : threads) t.join();
  std::uint64_t rx = 0, tx = 0, dropped = 0;
  std::string per_queue;
  for (auto& b : att.queues) {
    const kairos::dp::BackendStats st = b->stats();
    rx += st.rx;
    tx += st.tx;
    dropped += st.tx_full + st.tx_no_route + st.rx_invalid;
    per_queue += (per_queue.empty() ? "" : ",") + std::to_string(st.rx);
  }
  std::printf("kairos-echo stats rx=%llu tx=%llu dropped=%llu per_queue=%s\n",
              (unsigned long long)rx, (unsigned long long)tx, (unsigned long long)dropped,
              per_queue.c_str());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shm, direct;
  bool poll_only = false, servers_given = false, uthreads = false;
  unsigned servers = 4;
  double wait_s = 5;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--poll") {
      poll_only = true;
      continue;
    }
    if (a == "--uthreads") {
      uthreads = true;
      continue;
    }
    if (i + 1 >= argc) return usage(("missing value after " + a).c_str());
    const char* v = argv[++i];
    char* end = nullptr;
    if (a == "--shm") {
      shm = v;
    } else if (a == "--direct") {
      direct = v;
      if (direct.empty()) return usage("--direct wants a pin directory");
    } else if (a == "--servers") {
      servers_given = true;
      const long n = std::strtol(v, &end, 10);
      if (*end || n < 1 || n > 1024) return usage("--servers wants 1..1024");
      servers = static_cast<unsigned>(n);
    } else if (a == "--wait-s") {
      wait_s = std::strtod(v, &end);
      if (*end || wait_s < 0 || wait_s > 3600) return usage("--wait-s wants 0..3600");
    } else {
      return usage(("unknown option " + a).c_str());
    }
  }
  if (!shm.empty() && !direct.empty()) return usage("--shm and --direct exclude each other");
  if (shm.empty() && direct.empty()) return usage("--shm NAME is required (or --direct PIN_DIR)");
  if (!direct.empty() && servers_given && !uthreads)
    return usage("--servers applies to --shm only (or to --direct --uthreads)");
  if (direct.empty() && poll_only) return usage("--poll applies to --direct only");
  if (direct.empty() && uthreads) return usage("--uthreads applies to --direct only");
  if (poll_only && uthreads) return usage("--poll and --uthreads exclude each other");

  // Signals are taken by sigwait on this thread only (blocked before the
  // runtime's threads exist, so they inherit the mask).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  try {
    if (!direct.empty()) return serve_direct(direct, poll_only, uthreads, servers, wait_s, sigs);
    kairos::dp::ShmRegion region = attach_when_ready(shm, wait_s);
    const kairos::dp::Endpoint local = region.app();
    if (local.port == 0) throw std::runtime_error("region " + shm + " names no app address");
    const unsigned kthreads = region.nr_kthreads();
    kairos::Runtime rt({.kthreads = kthreads});
    auto stack = std::make_unique<kairos::net::Stack>(rt, std::move(region));
    const kairos::net::Stack* st = stack.get();
    return serve_on_uthreads(rt, std::move(stack), local, servers,
                             "|" + std::to_string(getpid()),
                             "kthreads=" + std::to_string(kthreads), sigs,
                             [st] { return st->region().dataplane_alive(); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kairos-echo: %s\n", e.what());
    return 1;
  }
}
