// kairos::net TCP on uthreads over loopback, and the netpoller under it:
// echo with many connections and partial reads/writes, errors (refused,
// timeouts, reset, closed objects), EOF and shutdown_write, fd cleanup,
// a parked kthread woken by readiness with one wake-up, per-connection
// order, and allocator mode (no self_wake: readiness shows up in the
// queue-state line and a grant runs it).
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>
#include <kairos/tcp.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "netpoll.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using kairos::Runtime;
using kairos::Thread;
using kairos::net::TcpEndpoint;
using kairos::net::TcpListener;
using kairos::net::TcpStream;
using kairos::test::eventually;
namespace kd = kairos::detail;

namespace {

int open_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

void small_buffers(int fd) {
  const int sz = 4096;  // the kernel doubles it and rounds up: a few KiB
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

std::uint8_t pattern(std::size_t conn, std::size_t i) {
  return static_cast<std::uint8_t>((i * 131 + conn * 7) >> 3);
}

// Echo server: one uthread per connection, reading and writing through
// small buffers, until EOF; then it shuts its side.
void serve_echo(Runtime& rt, TcpListener& l, std::atomic<int>& served) {
  for (;;) {
    std::error_code ec;
    TcpStream s = l.accept(ec);
    if (ec) return;
    small_buffers(s.native_handle());
    rt.spawn_detached([s = std::move(s), &served]() mutable {
      char buf[1500];
      std::error_code e;
      while (std::size_t n = s.read_some(buf, sizeof buf, e))
        if (s.write_all(buf, n, e) != n) return;
      EXPECT_FALSE(e) << e.message();
      s.shutdown_write(e);
      served.fetch_add(1);
    });
  }
}

// A plain-socket client (not on the runtime), for tests that need one.
int plain_connect(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TEST(Tcp, EchoManyConnectionsWithPartialReadsAndWritesLeaksNoFds) {
  const int fds_before = open_fds();
  {
    Runtime rt({.kthreads = 2});
    TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 128);
    ASSERT_NE(l.local_port(), 0);
    std::atomic<int> served{0};
    Thread acceptor = rt.spawn([&] { serve_echo(rt, l, served); });
    const int conns = 24;
    const std::size_t bytes = kairos::test::kTsan ? 64 * 1024 : 256 * 1024;
    std::atomic<int> ok{0};
    std::vector<Thread> clients;
    for (int c = 0; c < conns; ++c)
      clients.push_back(rt.spawn([&, c] {
        std::error_code ec;
        TcpStream s = TcpStream::connect({"127.0.0.1", l.local_port()}, 5s, ec);
        ASSERT_FALSE(ec) << ec.message();
        small_buffers(s.native_handle());
        // Writer and reader on two uthreads: the payload is far larger
        // than both sockets' buffers, so neither side can finish alone.
        Thread writer = rt.spawn([&] {
          std::vector<std::uint8_t> out(bytes);
          for (std::size_t i = 0; i < bytes; ++i) out[i] = pattern(c, i);
          std::error_code e;
          // Uneven chunks: write_all continues partial writes itself.
          for (std::size_t off = 0; off < bytes;) {
            const std::size_t n = std::min<std::size_t>(bytes - off, 7919 + off % 3);
            ASSERT_EQ(s.write_all(out.data() + off, n, e), n) << e.message();
            off += n;
          }
          s.shutdown_write(e);
          EXPECT_FALSE(e);
        });
        std::size_t got = 0;
        bool same = true;
        std::uint8_t buf[3000];
        for (;;) {
          const std::size_t n = s.read_some(buf, sizeof buf, ec);
          ASSERT_FALSE(ec) << ec.message();
          if (n == 0) break;
          for (std::size_t i = 0; i < n; ++i) same &= buf[i] == pattern(c, got + i);
          got += n;
        }
        writer.join();
        EXPECT_EQ(got, bytes);
        EXPECT_TRUE(same);
        if (got == bytes && same) ok.fetch_add(1);
      }));
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok.load(), conns);
    EXPECT_TRUE(eventually([&] { return served.load() == conns; }));
    l.close();  // ends the acceptor (bad_file_descriptor)
    acceptor.join();
    const kd::NetpollStats st = kd::netpoll_stats(rt.impl());
    EXPECT_GT(st.wakes, 0u);  // uthreads did block and were woken
  }
  EXPECT_EQ(open_fds(), fds_before);
}

TEST(Tcp, ConnectRefusedAndBadAddresses) {
  Runtime rt({.kthreads = 1});
  std::uint16_t port;
  {
    TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
    port = l.local_port();
  }  // closed: nothing listens there now
  rt.spawn([&] {
      std::error_code ec;
      TcpStream s = TcpStream::connect({"127.0.0.1", port}, 2s, ec);
      EXPECT_EQ(ec, std::errc::connection_refused);
      EXPECT_FALSE(s.is_open());
      TcpStream::connect({"not-an-address", 80}, 1s, ec);
      EXPECT_EQ(ec, std::errc::invalid_argument);
      TcpStream::connect({"127.0.0.1", 0}, 1s, ec);
      EXPECT_EQ(ec, std::errc::invalid_argument);
      EXPECT_THROW(TcpStream::connect({"127.0.0.1", port}), std::system_error);
      TcpListener::listen({"1.2.3.4.5", 1}, 4, ec);
      EXPECT_EQ(ec, std::errc::invalid_argument);
      TcpListener::listen({"127.0.0.1", 1}, 0, ec);
      EXPECT_EQ(ec, std::errc::invalid_argument);
    }).join();
  // An address in use (no SO_REUSEPORT): the second listen fails.
  TcpListener a = TcpListener::listen({"127.0.0.1", 0}, 4);
  std::error_code ec;
  TcpListener::listen({"127.0.0.1", a.local_port()}, 4, ec);
  EXPECT_EQ(ec, std::errc::address_in_use);
}

TEST(Tcp, ConnectTimesOutWhenTheHandshakeNeverCompletes) {
  Runtime rt({.kthreads = 1});
  // Backlog 1 and nobody accepting: once the queue is full the kernel
  // drops further SYNs, so those connects hang until their timeout.
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 1);
  rt.spawn([&] {
      std::vector<TcpStream> held;
      int timeouts = 0;
      for (int i = 0; i < 6 && timeouts == 0; ++i) {
        std::error_code ec;
        const auto t0 = std::chrono::steady_clock::now();
        TcpStream s = TcpStream::connect({"127.0.0.1", l.local_port()}, 100ms, ec);
        if (ec) {
          EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
          EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
          ++timeouts;
        } else {
          held.push_back(std::move(s));
        }
      }
      EXPECT_EQ(timeouts, 1);
    }).join();
}

TEST(Tcp, ReadTimeoutLeavesTheStreamUsable) {
  Runtime rt({.kthreads = 2});
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
  kairos::Mutex m;
  kairos::CondVar cv;
  bool timed_out = false;
  Thread server = rt.spawn([&] {
    TcpStream s = l.accept();
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return timed_out; });
    lk.unlock();
    s.write_all("late", 4);
    char b[1];
    std::error_code ec;
    EXPECT_EQ(s.read_some(b, 1, ec), 0u);  // client's EOF
  });
  rt.spawn([&] {
      TcpStream s = TcpStream::connect({"127.0.0.1", l.local_port()});
      s.set_timeout(60ms);
      char buf[8];
      std::error_code ec;
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_EQ(s.read_some(buf, sizeof buf, ec), 0u);
      EXPECT_EQ(ec, std::errc::timed_out);
      EXPECT_GE(std::chrono::steady_clock::now() - t0, 60ms);
      EXPECT_THROW(s.read_some(buf, sizeof buf), std::system_error);
      {
        std::lock_guard g(m);
        timed_out = true;
      }
      cv.notify_all();
      s.set_timeout(kairos::net::kNoTimeout);
      EXPECT_EQ(s.read_exact(buf, 4, ec), 4u);
      EXPECT_FALSE(ec);
      EXPECT_EQ(std::string(buf, 4), "late");
    }).join();
  server.join();
}

TEST(Tcp, PeerResetIsReportedToReaderAndWriter) {
  Runtime rt({.kthreads = 2});
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
  std::atomic<bool> reset{false};
  Thread server = rt.spawn([&] {
    TcpStream s = l.accept();
    char b[1];
    s.read_exact(b, 1);  // the client is connected and waiting
    // Linger 0: close sends RST instead of FIN.
    const linger lg{1, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    reset = true;  // before: the client may see the RST at once
    s.close();
  });
  rt.spawn([&] {
      TcpStream s = TcpStream::connect({"127.0.0.1", l.local_port()});
      s.write_all("x", 1);
      char buf[16];
      std::error_code ec;
      EXPECT_EQ(s.read_some(buf, sizeof buf, ec), 0u);  // blocks until the RST
      EXPECT_EQ(ec, std::errc::connection_reset) << ec.message();
      EXPECT_TRUE(reset.load());
      std::vector<char> big(1 << 20);
      EXPECT_LT(s.write_all(big.data(), big.size(), ec), big.size());
      EXPECT_TRUE(ec == std::errc::broken_pipe || ec == std::errc::connection_reset)
          << ec.message();
    }).join();
  server.join();
}

TEST(Tcp, ShutdownWriteGivesThePeerEofAndReadingGoesOn) {
  Runtime rt({.kthreads = 2});
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
  Thread server = rt.spawn([&] {
    TcpStream s = l.accept();
    std::string got;
    char b[64];
    std::error_code ec;
    while (std::size_t n = s.read_some(b, sizeof b, ec)) got.append(b, n);
    EXPECT_FALSE(ec);  // EOF is no error
    EXPECT_EQ(got, "request");
    s.write_all("reply", 5);
    s.shutdown_write();
    EXPECT_EQ(s.read_some(b, sizeof b, ec), 0u);  // EOF again, still no error
    EXPECT_FALSE(ec);
  });
  rt.spawn([&] {
      TcpStream s = TcpStream::connect({"127.0.0.1", l.local_port()});
      EXPECT_EQ(s.peer_endpoint().port, l.local_port());
      EXPECT_EQ(s.local_endpoint().host, "127.0.0.1");
      s.write_all("request", 7);
      s.shutdown_write();
      std::error_code ec;
      s.write_all("more", 4, ec);
      EXPECT_EQ(ec, std::errc::broken_pipe);
      char b[16];
      EXPECT_EQ(s.read_exact(b, sizeof b, ec), 5u);  // EOF after 5
      EXPECT_FALSE(ec);
      EXPECT_EQ(std::string(b, 5), "reply");
    }).join();
  server.join();
}

// A read that comes back short lets the next read_some wait for an edge
// first instead of calling recv again. The peer's FIN (or RST) may have
// been taken in with those last bytes, its edge already spent: the next
// read must still report EOF (or the reset), whether the reader had
// blocked (registered) before the bytes came or reads them at once
// (registered only by its next wait).
TEST(Tcp, EofOrResetTakenInWithTheLastBytesEndsTheNextRead) {
  struct Case {
    const char* name;
    bool reader_blocks_first;
    bool reset;
  };
  for (const Case c : {Case{"blocked, FIN", true, false}, Case{"blocked, RST", true, true},
                       Case{"not yet registered, FIN", false, false},
                       Case{"not yet registered, RST", false, true}}) {
    SCOPED_TRACE(c.name);
    Runtime rt({.kthreads = 2});
    TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
    const int client = plain_connect(l.local_port());
    ASSERT_GE(client, 0);
    std::atomic<bool> accepted{false}, sent{false};
    std::string got;
    std::error_code end;
    std::size_t reads = 0;
    Thread server = rt.spawn([&] {
      TcpStream s = l.accept();
      s.set_read_timeout(10s);  // a missed EOF fails the test, not hangs it
      accepted = true;
      if (!c.reader_blocks_first)
        while (!sent.load()) kairos::this_uthread::yield();
      char b[64];
      for (;;) {
        const std::size_t n = s.read_some(b, sizeof b, end);
        ++reads;
        if (n == 0 || end) break;
        got.append(b, n);
      }
    });
    ASSERT_TRUE(eventually([&] { return accepted.load(); }));
    if (c.reader_blocks_first) std::this_thread::sleep_for(20ms);  // let it park
    if (c.reset) {
      const linger lg{1, 0};
      setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ASSERT_EQ(write(client, "abc", 3), 3);
    if (!c.reset) shutdown(client, SHUT_WR);
    close(client);  // with linger 0: RST
    if (!c.reader_blocks_first) std::this_thread::sleep_for(20ms);  // all of it is there
    sent = true;
    server.join();
    EXPECT_NE(end, std::errc::timed_out) << "the end of the stream was never reported";
    if (c.reset) {
      // Linux may drop the unread bytes with the reset.
      EXPECT_TRUE(got == "abc" || got.empty()) << got;
      EXPECT_EQ(end, std::errc::connection_reset) << end.message();
    } else {
      EXPECT_EQ(got, "abc");
      EXPECT_FALSE(end) << end.message();
    }
    EXPECT_LE(reads, 3u);
  }
}

TEST(Tcp, CloseWakesABlockedAcceptAndClosedObjectsFail) {
  Runtime rt({.kthreads = 2});
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
  std::atomic<bool> waiting{false};
  Thread acceptor = rt.spawn([&] {
    waiting = true;
    std::error_code ec;
    TcpStream s = l.accept(ec);
    EXPECT_EQ(ec, std::errc::bad_file_descriptor);
    EXPECT_FALSE(s.is_open());
    l.accept(ec);
    EXPECT_EQ(ec, std::errc::bad_file_descriptor);
    EXPECT_THROW(l.accept(), std::system_error);
  });
  ASSERT_TRUE(eventually([&] { return waiting.load(); }));
  std::this_thread::sleep_for(20ms);  // let it park in accept
  l.close();
  l.close();  // idempotent
  acceptor.join();
  EXPECT_EQ(l.local_port(), 0);
  EXPECT_EQ(l.native_handle(), -1);
  // A stream that never connected, and one closed by another uthread
  // while it waits in read.
  TcpListener l2 = TcpListener::listen({"127.0.0.1", 0}, 4);
  rt.spawn([&] {
      TcpStream none;
      std::error_code ec;
      char b[4];
      none.read_some(b, 4, ec);
      EXPECT_EQ(ec, std::errc::bad_file_descriptor);
      none.write_all(b, 4, ec);
      EXPECT_EQ(ec, std::errc::bad_file_descriptor);
      none.shutdown_write(ec);
      EXPECT_EQ(ec, std::errc::bad_file_descriptor);
      TcpStream c = TcpStream::connect({"127.0.0.1", l2.local_port()});
      TcpStream srv = l2.accept();
      std::atomic<bool> reading{false};
      Thread reader = rt.spawn([&] {
        reading = true;
        std::error_code e;
        EXPECT_EQ(srv.read_some(b, 4, e), 0u);
        EXPECT_EQ(e, std::errc::bad_file_descriptor);
      });
      while (!reading) kairos::this_uthread::yield();
      kairos::this_uthread::sleep_for(10ms);
      srv.close();
      reader.join();
    }).join();
}

TEST(Tcp, AParkedKthreadIsWokenByReadinessWithOneWakeUp) {
  Runtime rt({.kthreads = 2, .spin_before_park = 5us});
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
  const int client = plain_connect(l.local_port());
  ASSERT_GE(client, 0);
  std::atomic<bool> blocked{false}, got{false};
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  };
  Thread server = rt.spawn([&] {
    TcpStream s = l.accept();
    char b[1];
    blocked = true;
    EXPECT_EQ(s.read_exact(b, 1), 1u);
    got = true;
    EXPECT_EQ(s.read_exact(b, 1), 1u);  // a second round, measured too
    got = false;
  });
  CloseFd client_guard{client};  // after server: EOF before ~Thread joins
  kd::RuntimeImpl* ri = rt.impl();
  auto quiet = [&] {
    kd::Netpoll* np = ri->np.load();
    return blocked.load() && rt.running_kthreads() == 0 && np && np->poller_parker.load() >= 0;
  };
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(eventually(quiet)) << "round " << round;
    std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(quiet());
    const auto unparks0 = ri->unparks.load();
    const auto before = kd::netpoll_stats(ri);
    ASSERT_EQ(write(client, "x", 1), 1);
    ASSERT_TRUE(eventually([&] { return got.load() == (round == 0); }));
    const auto after = kd::netpoll_stats(ri);
    // The kthread parked in the poller woke on the readiness itself and
    // ran the uthread: one wake-up, no unpark of another kthread.
    EXPECT_EQ(after.poller_io_wakes - before.poller_io_wakes, 1u);
    EXPECT_EQ(ri->unparks.load() - unparks0, 0u);
  }
  server.join();
}

TEST(Tcp, EachConnectionIsServedInOrderByOneUthread) {
  Runtime rt({.kthreads = 2});
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 64);
  const int conns = 16, msgs = 300 / kairos::test::kScale * 4;
  std::atomic<int> in_order{0};
  Thread acceptor = rt.spawn([&] {
    for (int c = 0; c < conns; ++c) {
      TcpStream s = l.accept();
      rt.spawn_detached([s = std::move(s), &in_order]() mutable {
        int marker;  // this uthread's stack: the same for every read
        const void* self = &marker;
        std::uint32_t want = 0;
        bool ok = true;
        std::uint32_t v;
        while (s.read_exact(&v, sizeof v) == sizeof v) {
          ok &= v == want++ && &marker == self;
          s.write_all(&v, sizeof v);
        }
        if (ok && want == static_cast<std::uint32_t>(msgs)) in_order.fetch_add(1);
      });
    }
  });
  std::vector<Thread> clients;
  for (int c = 0; c < conns; ++c)
    clients.push_back(rt.spawn([&] {
      TcpStream s = TcpStream::connect({"127.0.0.1", l.local_port()});
      for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(msgs); ++i) {
        s.write_all(&i, sizeof i);
        std::uint32_t r = 0;
        ASSERT_EQ(s.read_exact(&r, sizeof r), sizeof r);
        ASSERT_EQ(r, i);
      }
    }));
  for (auto& t : clients) t.join();
  acceptor.join();
  EXPECT_TRUE(eventually([&] { return in_order.load() == conns; }));
}

// Allocator mode: only grants wake kthreads. With every kthread parked,
// the netpoller's watcher queues a ready connection's uthread, which the
// allocator sees as RX occupancy (and a queued uthread) in the
// queue-state line; a grant runs it, and the occupancy goes back to 0.
TEST(Tcp, AllocatorModeShowsReadinessInTheLineAndAGrantRunsIt) {
  Runtime rt({.kthreads = 2, .self_wake = false});
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 4);
  const int client = plain_connect(l.local_port());
  ASSERT_GE(client, 0);
  std::atomic<int> got{0};
  std::atomic<bool> blocked{false}, done{false};
  Thread server = rt.spawn([&] {
    TcpStream s = l.accept();
    char b[1];
    blocked = true;
    while (s.read_exact(b, 1) == 1) got.fetch_add(1);
    done = true;
  });
  // Declared after server: on a failed assertion the client's EOF ends
  // the server before ~Thread joins it.
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } client_guard{client};
  rt.grant(rt.kthreads());  // only grants run the spawn in this mode
  auto rx_len = [&] {
    std::uint32_t n = 0;
    for (unsigned k = 0; k < rt.kthreads(); ++k) {
      const kairos_queue_state* q = rt.queue_state_line(k);
      n += std::atomic_ref<const std::uint32_t>(q->rx_head).load() -
           std::atomic_ref<const std::uint32_t>(q->rx_tail).load();
    }
    return n;
  };
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(eventually([&] { return blocked.load() && rt.running_kthreads() == 0; }));
    std::this_thread::sleep_for(5ms);
    ASSERT_EQ(rx_len(), 0u);
    ASSERT_EQ(write(client, "x", 1), 1);
    // Nobody runs it: it waits, visible to the allocator.
    ASSERT_TRUE(eventually([&] { return rx_len() == 1; }));
    std::this_thread::sleep_for(10ms);
    EXPECT_EQ(got.load(), round);
    EXPECT_EQ(rt.running_kthreads(), 0u);
    EXPECT_EQ(rt.grant(1), 1u);
    ASSERT_TRUE(eventually([&] { return got.load() == round + 1; }));
    EXPECT_TRUE(eventually([&] { return rx_len() == 0; }));
  }
  EXPECT_GT(kd::netpoll_stats(rt.impl()).watcher_harvests, 0u);
  shutdown(client, SHUT_WR);  // EOF ends the server
  // Grant as an allocator would, while the EOF's uthread waits: a single
  // grant can find nothing yet (the watcher took the event but has not
  // queued its uthread), and then the queued uthread waits for the next.
  EXPECT_TRUE(eventually([&] {
    rt.grant(rt.kthreads());
    return done.load();
  }));
  server.join();
}

// The same echo as the first test with self_wake off and a minimal
// allocator thread granting a kthread whenever a line shows load.
TEST(Tcp, AllocatorModeEchoFollowsGrantsFromTheLines) {
  Runtime rt({.kthreads = 2, .self_wake = false});
  std::atomic<bool> stop{false};
  std::thread allocator([&] {
    while (!stop) {
      for (unsigned k = 0; k < rt.kthreads(); ++k) {
        const kairos_queue_state* q = rt.queue_state_line(k);
        const std::uint32_t load =
            (std::atomic_ref<const std::uint32_t>(q->rq_head).load() -
             std::atomic_ref<const std::uint32_t>(q->rq_tail).load()) +
            (std::atomic_ref<const std::uint32_t>(q->rx_head).load() -
             std::atomic_ref<const std::uint32_t>(q->rx_tail).load());
        if (load) rt.grant(1);
      }
      std::this_thread::sleep_for(50us);
    }
  });
  TcpListener l = TcpListener::listen({"127.0.0.1", 0}, 64);
  std::atomic<int> served{0};
  Thread acceptor = rt.spawn([&] { serve_echo(rt, l, served); });
  rt.grant(2);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&] {
      const int fd = plain_connect(l.local_port());
      ASSERT_GE(fd, 0);
      bool good = true;
      for (int i = 0; i < 200; ++i) {
        char out[64], in[64];
        std::memset(out, 'a' + i % 26, sizeof out);
        good &= write(fd, out, sizeof out) == sizeof out;
        std::size_t got = 0;
        while (got < sizeof in) {
          const ssize_t r = read(fd, in + got, sizeof in - got);
          if (r <= 0) break;
          got += static_cast<std::size_t>(r);
        }
        good &= got == sizeof in && std::memcmp(in, out, sizeof in) == 0;
      }
      close(fd);
      if (good) ok.fetch_add(1);
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_TRUE(eventually([&] { return served.load() == 8; }));
  l.close();
  rt.grant(2);
  acceptor.join();
  stop = true;
  allocator.join();
}
