// tcp_vm_server: a libkairos TCP server in allocator mode (self_wake off,
// /dev/kairos parking) for tcp_allocator_vm_test: kairosd finds its
// runtime area ("/kairos-rt.<pid>") and grants it cores as its
// connections' readiness shows in the queue-state line. It answers the
// part of memcached's ASCII protocol kairos-loadgen sends (every get
// misses: "END"; a set is "STORED"; anything else "ERROR"), spinning
// --service-us per request so the load costs CPU. One uthread per
// connection on the netpoller. Prints its port, then serves until
// SIGTERM, when it prints what it served and exits.
//   tcp_vm_server [--kthreads N] [--first-cpu N] [--service-us N]
#include <kairos/abi/runtime_area.h>
#include <kairos/runtime.hpp>
#include <kairos/tcp.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

std::atomic<std::uint64_t> g_requests{0}, g_conns{0};

void spin_for(long us) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < end) {
  }
}

// Serves one connection: parses whole lines out of buf, skips a set's
// data block, replies per request in order.
void serve(kairos::net::TcpStream s, long service_us) {
  std::string buf, out;
  char chunk[4096];
  std::size_t skip = 0;  // bytes of a set's data block (+ CRLF) still to drop
  for (;;) {
    std::error_code ec;
    const std::size_t n = s.read_some(chunk, sizeof chunk, ec);
    if (n == 0) return;  // EOF or error
    buf.append(chunk, n);
    out.clear();
    std::size_t pos = 0;
    for (;;) {
      if (skip) {
        const std::size_t take = std::min(skip, buf.size() - pos);
        pos += take;
        skip -= take;
        if (skip) break;
        continue;
      }
      const std::size_t eol = buf.find("\r\n", pos);
      if (eol == std::string::npos) break;
      const std::string_view line(buf.data() + pos, eol - pos);
      pos = eol + 2;
      spin_for(service_us);
      g_requests.fetch_add(1, std::memory_order_relaxed);
      if (line.starts_with("get ") || line.starts_with("gets ")) {
        out += "END\r\n";
      } else if (line.starts_with("set ")) {
        // set <key> <flags> <exptime> <bytes> [noreply]
        std::size_t field = 0, start = 0;
        long bytes = -1;
        bool noreply = false;
        for (std::size_t i = 0; i <= line.size(); ++i) {
          if (i == line.size() || line[i] == ' ') {
            const std::string_view f = line.substr(start, i - start);
            if (field == 4) bytes = std::atol(std::string(f).c_str());
            if (field == 5) noreply = f == "noreply";
            ++field;
            start = i + 1;
          }
        }
        if (bytes < 0) {
          out += "CLIENT_ERROR bad command line format\r\n";
          continue;
        }
        skip = static_cast<std::size_t>(bytes) + 2;
        if (!noreply) out += "STORED\r\n";
      } else {
        out += "ERROR\r\n";
      }
    }
    buf.erase(0, pos);
    if (!out.empty() && s.write_all(out.data(), out.size(), ec) != out.size()) return;
  }
}

long number(const char* flag, const char* v, long lo, long hi) {
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (!end || *end || n < lo || n > hi) {
    std::fprintf(stderr, "tcp_vm_server: %s wants %ld..%ld, got '%s'\n", flag, lo, hi, v);
    std::exit(2);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  kairos::Config cfg;
  cfg.kthreads = 1;
  cfg.self_wake = false;  // allocator mode: only kairosd's grants run it
  cfg.park = kairos::ParkBackend::kDevKairos;
  long service_us = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: tcp_vm_server [--kthreads N] [--first-cpu N] [--service-us N]\n");
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--kthreads") cfg.kthreads = static_cast<unsigned>(number("--kthreads", v, 1, 64));
    else if (a == "--first-cpu") cfg.first_cpu = static_cast<int>(number("--first-cpu", v, 0, 1023));
    else if (a == "--service-us") service_us = number("--service-us", v, 0, 100000);
    else {
      std::fprintf(stderr, "tcp_vm_server: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  cfg.shm_name = KAIROS_RUNTIME_AREA_SHM_PREFIX + std::to_string(getpid());
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // every thread inherits it
  std::unique_ptr<kairos::Runtime> rt;
  kairos::net::TcpListener l;
  try {
    rt = std::make_unique<kairos::Runtime>(cfg);
    l = kairos::net::TcpListener::listen({"127.0.0.1", 0}, 256);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tcp_vm_server: %s\n", e.what());
    return 1;
  }
  std::printf("tcp_vm_server: pid %d port %u kthreads %u parking %s\n", getpid(),
              l.local_port(), rt->kthreads(), rt->park_backend_name());
  std::fflush(stdout);
  rt->spawn_detached([&] {
    for (;;) {
      std::error_code ec;
      kairos::net::TcpStream s = l.accept(ec);
      if (ec) return;
      g_conns.fetch_add(1);
      rt->spawn_detached([s = std::move(s), service_us]() mutable { serve(std::move(s), service_us); });
    }
  });
  rt->grant(rt->kthreads());  // run the acceptor until it blocks; then kairosd decides
  int sig = 0;
  sigwait(&term, &sig);
  std::printf("tcp_vm_server: connections=%llu requests=%llu\n",
              static_cast<unsigned long long>(g_conns.load()),
              static_cast<unsigned long long>(g_requests.load()));
  std::fflush(stdout);
  // Connections may still be open (uthreads blocked in read): a Runtime
  // waits for every uthread, so leave without tearing it down.
  std::_Exit(0);
}
