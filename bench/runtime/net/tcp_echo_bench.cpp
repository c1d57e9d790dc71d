// tcp_echo_bench: request/response over loopback TCP, side by side in
// one process, against three echo servers:
//   kairos      libkairos: one uthread per connection, blocking TcpStream
//               reads/writes on the netpoller (kairos/tcp.hpp);
//   epoll       the same number of OS threads, each an edge-triggered
//               epoll loop over its share of the connections;
//   thread      one blocking OS thread per connection.
// The client: --client-threads threads, each an epoll loop over its share
// of --conns connections with one request of --size bytes outstanding on
// each (closed loop), recording each round trip. Rounds alternate between
// the servers; each row is the median over rounds, and the ratio column
// compares with the epoll server measured in the same rounds.
//   tcp_echo_bench [--duration S] [--repeat N] [--threads N] [--conns N]
//                  [--client-threads N] [--size B]
#include <kairos/runtime.hpp>
#include <kairos/tcp.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  double duration = 1;
  unsigned repeat = 5, threads = 2, conns = 32, client_threads = 2;
  std::size_t size = 64;
};

struct Result {
  double rps = 0, p50_us = 0, p99_us = 0, csw_per_req = 0;
};

std::uint64_t process_switches() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_nvcsw + ru.ru_nivcsw);
}

void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void nodelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A server: start() listens (port 0) and serves until stop().
struct Server {
  virtual ~Server() = default;
  virtual std::uint16_t start(unsigned threads) = 0;
  virtual void stop() = 0;
};

class KairosServer final : public Server {
 public:
  std::uint16_t start(unsigned threads) override {
    rt_ = std::make_unique<kairos::Runtime>(kairos::Config{.kthreads = threads});
    l_ = kairos::net::TcpListener::listen({"127.0.0.1", 0}, 1024);
    const std::uint16_t port = l_.local_port();
    rt_->spawn_detached([this] {
      for (;;) {
        std::error_code ec;
        kairos::net::TcpStream s = l_.accept(ec);
        if (ec) return;
        rt_->spawn_detached([s = std::move(s)]() mutable {
          char buf[16384];
          std::error_code e;
          while (std::size_t n = s.read_some(buf, sizeof buf, e))
            if (s.write_all(buf, n, e) != n) return;
        });
      }
    });
    return port;
  }
  void stop() override {
    l_.close();
    rt_.reset();  // the clients closed: every connection's uthread returns
  }

 private:
  std::unique_ptr<kairos::Runtime> rt_;
  kairos::net::TcpListener l_;
};

int listen_plain(std::uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1024) != 0)
    die("listen");
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// N threads, each an edge-triggered epoll loop; the acceptor thread hands
// connections out round-robin.
class EpollServer final : public Server {
 public:
  std::uint16_t start(unsigned threads) override {
    std::uint16_t port;
    lfd_ = listen_plain(&port);
    // Readable once written and never read (level-triggered): stops
    // every worker.
    stop_evfd_ = eventfd(0, EFD_CLOEXEC);
    for (unsigned i = 0; i < threads; ++i) {
      const int ep = epoll_create1(EPOLL_CLOEXEC);
      epoll_event ev{EPOLLIN, {.fd = stop_evfd_}};
      epoll_ctl(ep, EPOLL_CTL_ADD, stop_evfd_, &ev);
      eps_.push_back(ep);
      workers_.emplace_back([this, ep] { loop(ep); });
    }
    acceptor_ = std::thread([this] {
      for (unsigned next = 0;; ++next) {
        const int c = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;  // shut down
        nodelay(c);
        epoll_event ev{EPOLLIN | EPOLLRDHUP | EPOLLET, {.fd = c}};
        epoll_ctl(eps_[next % eps_.size()], EPOLL_CTL_ADD, c, &ev);
      }
    });
    return port;
  }
  void stop() override {
    shutdown(lfd_, SHUT_RDWR);
    acceptor_.join();
    close(lfd_);
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(stop_evfd_, &one, sizeof one);
    for (auto& t : workers_) t.join();
    for (int ep : eps_) close(ep);
    close(stop_evfd_);
  }

 private:
  void loop(int ep) {
    epoll_event evs[64];
    char buf[16384];
    for (;;) {
      const int n = epoll_wait(ep, evs, 64, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = evs[i].data.fd;
        if (fd == stop_evfd_) return;  // the clients closed: nothing left
        // Edge-triggered: drain until EAGAIN; the echo's write is small
        // enough for the socket buffer (a closed-loop client).
        for (;;) {
          const ssize_t r = read(fd, buf, sizeof buf);
          if (r > 0) {
            for (ssize_t off = 0; off < r;) {
              const ssize_t w = send(fd, buf + off, static_cast<std::size_t>(r - off), MSG_NOSIGNAL);
              if (w > 0) off += w;
              else if (w < 0 && errno == EAGAIN) std::this_thread::yield();
              else break;
            }
            continue;
          }
          if (r < 0 && errno == EAGAIN) break;
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
          close(fd);
          break;
        }
      }
    }
  }
  int lfd_ = -1, stop_evfd_ = -1;
  std::vector<int> eps_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

class ThreadServer final : public Server {
 public:
  std::uint16_t start(unsigned) override {
    std::uint16_t port;
    lfd_ = listen_plain(&port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        nodelay(c);
        conns_.emplace_back([c] {
          char buf[16384];
          for (;;) {
            const ssize_t r = read(c, buf, sizeof buf);
            if (r <= 0) break;
            if (send(c, buf, static_cast<std::size_t>(r), MSG_NOSIGNAL) != r) break;
          }
          close(c);
        });
      }
    });
    return port;
  }
  void stop() override {
    shutdown(lfd_, SHUT_RDWR);
    acceptor_.join();
    close(lfd_);
    for (auto& t : conns_) t.join();  // the clients closed their sides
    conns_.clear();
  }

 private:
  int lfd_ = -1;
  std::thread acceptor_;
  std::vector<std::thread> conns_;
};

// Closed-loop client: each thread drives its connections through epoll.
Result drive(std::uint16_t port, const Options& o) {
  std::vector<int> fds;
  for (unsigned i = 0; i < o.conns; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
    nodelay(fd);
    fds.push_back(fd);
  }
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<float>> lat(o.client_threads);
  std::vector<std::uint64_t> done(o.client_threads, 0);
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < o.client_threads; ++t)
    ts.emplace_back([&, t] {
      const int ep = epoll_create1(EPOLL_CLOEXEC);
      struct Conn {
        int fd;
        std::size_t got;
        Clock::time_point sent;
      };
      std::vector<Conn> mine;
      for (std::size_t i = t; i < fds.size(); i += o.client_threads) mine.push_back({fds[i], 0, {}});
      std::vector<char> req(o.size, 'x'), buf(o.size);
      for (std::size_t i = 0; i < mine.size(); ++i) {
        epoll_event ev{EPOLLIN, {.u64 = i}};
        epoll_ctl(ep, EPOLL_CTL_ADD, mine[i].fd, &ev);
      }
      while (!go) std::this_thread::yield();
      for (auto& c : mine) {
        c.sent = Clock::now();
        if (write(c.fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) die("write");
      }
      epoll_event evs[64];
      while (!stop.load(std::memory_order_relaxed)) {
        const int n = epoll_wait(ep, evs, 64, 10);
        for (int i = 0; i < n; ++i) {
          Conn& c = mine[evs[i].data.u64];
          const ssize_t r = read(c.fd, buf.data(), o.size - c.got);
          if (r <= 0) continue;
          c.got += static_cast<std::size_t>(r);
          if (c.got < o.size) continue;
          const auto now = Clock::now();
          lat[t].push_back(
              std::chrono::duration<float, std::micro>(now - c.sent).count());
          ++done[t];
          c.got = 0;
          c.sent = now;
          if (write(c.fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) die("write");
        }
      }
      close(ep);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // connections accepted
  const std::uint64_t csw0 = process_switches();
  const auto t0 = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration));
  stop = true;
  for (auto& t : ts) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::uint64_t csw = process_switches() - csw0;
  for (int fd : fds) close(fd);
  std::vector<float> all;
  std::uint64_t n = 0;
  for (unsigned t = 0; t < o.client_threads; ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    n += done[t];
  }
  Result r;
  if (all.empty()) return r;
  std::sort(all.begin(), all.end());
  r.rps = static_cast<double>(n) / secs;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  r.csw_per_req = static_cast<double>(csw) / static_cast<double>(n);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--duration") o.duration = std::atof(next());
    else if (a == "--repeat") o.repeat = static_cast<unsigned>(std::atoi(next()));
    else if (a == "--threads") o.threads = static_cast<unsigned>(std::atoi(next()));
    else if (a == "--conns") o.conns = static_cast<unsigned>(std::atoi(next()));
    else if (a == "--client-threads") o.client_threads = static_cast<unsigned>(std::atoi(next()));
    else if (a == "--size") o.size = static_cast<std::size_t>(std::atol(next()));
    else {
      std::fprintf(stderr,
                   "usage: tcp_echo_bench [--duration S] [--repeat N] [--threads N] "
                   "[--conns N] [--client-threads N] [--size B]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (o.duration <= 0 || o.repeat == 0 || o.threads == 0 || o.conns == 0 ||
      o.client_threads == 0 || o.size == 0 || o.size > 16384) {
    std::fprintf(stderr, "tcp_echo_bench: every value must be positive (size <= 16384)\n");
    return 2;
  }
  struct Row {
    const char* name;
    std::function<std::unique_ptr<Server>()> make;
    std::vector<double> rps, p50, p99, csw, ratio_rps, ratio_p50;
  };
  std::vector<Row> rows = {
      {"epoll", [] { return std::make_unique<EpollServer>(); }, {}, {}, {}, {}, {}, {}},
      {"kairos", [] { return std::make_unique<KairosServer>(); }, {}, {}, {}, {}, {}, {}},
      {"thread", [] { return std::make_unique<ThreadServer>(); }, {}, {}, {}, {}, {}, {}},
  };
  for (unsigned round = 0; round < o.repeat; ++round) {
    std::vector<Result> res(rows.size());
    // Alternate the order per round so no server always runs first.
    for (std::size_t j = 0; j < rows.size(); ++j) {
      const std::size_t i = (j + round) % rows.size();
      auto srv = rows[i].make();
      const std::uint16_t port = srv->start(o.threads);
      res[i] = drive(port, o);
      srv->stop();
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i].rps.push_back(res[i].rps);
      rows[i].p50.push_back(res[i].p50_us);
      rows[i].p99.push_back(res[i].p99_us);
      rows[i].csw.push_back(res[i].csw_per_req);
      rows[i].ratio_rps.push_back(res[i].rps / res[0].rps);
      rows[i].ratio_p50.push_back(res[i].p50_us / res[0].p50_us);
    }
  }
  std::printf("tcp echo over loopback: %u server threads/kthreads, %u connections, "
              "%u client threads, %zu-byte requests, %u x %.1f s rounds (medians)\n",
              o.threads, o.conns, o.client_threads, o.size, o.repeat, o.duration);
  std::printf("%-8s %12s %9s %9s %10s %12s %12s\n", "server", "req/s", "p50 us", "p99 us",
              "csw/req", "rps vs epoll", "p50 vs epoll");
  for (auto& r : rows)
    std::printf("%-8s %12.0f %9.1f %9.1f %10.2f %11.2fx %11.2fx\n", r.name, median(r.rps),
                median(r.p50), median(r.p99), median(r.csw), median(r.ratio_rps),
                median(r.ratio_p50));
  return 0;
}
