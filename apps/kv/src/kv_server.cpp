#include "kv_server.hpp"

#include "kv_udp_frame.hpp"

#include <kairos/abi/runtime_area.h>
#include <kairos/packetio/backends.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <system_error>

namespace kairos::kv {

namespace {
// memcached's read buffer size: what one read takes at most.
constexpr std::size_t kReadSize = 16384;
// A reply buffer that grew for a big multi-get is given back past this.
constexpr std::size_t kKeepReplyCapacity = 1u << 20;
}  // namespace

std::int64_t unix_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return ts.tv_sec;
}

Server::Server(const ServerConfig& cfg)
    : cfg_(cfg),
      store_(StoreConfig{.max_bytes = cfg.max_bytes,
                         .item_size_max = cfg.item_size_max,
                         .shards = 256,
                         // as memcached: a little before now, so an
                         // absolute exptime of "now" is in the past
                         .process_start = unix_now() - 2}) {
  ServerInfo info;
  info.threads = cfg.threads;
  info.max_connections = cfg.max_connections;
  info.udp_port = cfg.udp_port;
  info.listen = cfg.listen;
  info.process_start = store_.config().process_start;
  info.pid = getpid();
  ctx_ = std::unique_ptr<ServerContext>(
      new ServerContext{store_, counters_, info, &unix_now});
  ctx_->verbosity.store(cfg.verbose);

  Config rc;
  rc.kthreads = cfg.threads;
  rc.first_cpu = cfg.first_cpu;
  if (cfg.spin_us >= 0) rc.spin_before_park = std::chrono::microseconds(cfg.spin_us);
  if (cfg.allocator) {
    rc.self_wake = false;
    rc.park = ParkBackend::kDevKairos;  // throws clearly without the module
    rc.shm_name = KAIROS_RUNTIME_AREA_SHM_PREFIX + std::to_string(getpid());
  }
  rt_ = std::make_unique<Runtime>(rc);
  if (cfg.udp_port != 0) {
    auto ep = dp::Endpoint::parse(cfg.listen + ":" + std::to_string(cfg.udp_port));
    if (!ep) throw std::runtime_error("bad listen address for UDP: " + cfg.listen);
    std::vector<std::unique_ptr<dp::Backend>> queues;
    if (cfg.udp_xdp_if.empty()) {
      queues.push_back(dp::make_kernel_udp_backend({*ep}));
    } else {
      // Direct mode: the XDP steering program sends this endpoint's
      // datagrams to one AF_XDP socket per device queue, owned by the
      // kthreads (queue q by kthread q % kthreads).
      if (ep->str().starts_with("0.0.0.0"))
        throw std::runtime_error("--udp-xdp needs a concrete -l address, not " + cfg.listen);
      dp::AfXdpConfig xc;
      xc.ifname = cfg.udp_xdp_if;
      xc.apps = {*ep};
      queues = dp::make_afxdp_direct_backends(xc);
    }
    // The kthreads park on the UDP socket's fd as well as in the TCP
    // netpoller: a datagram wakes the kthread that serves it directly.
    net::StackOptions so;
    so.steered = {*ep};
    udp_stack_ = std::make_unique<net::Stack>(*rt_, std::move(queues), so);
    udp_sock_ = udp_stack_->bind(*ep);
  }
  std::error_code ec;
  listener_ = net::TcpListener::listen({cfg.listen, cfg.tcp_port}, 1024, ec);
  if (ec)
    throw std::runtime_error("failed to listen on TCP port " +
                             std::to_string(cfg.tcp_port) + " of " +
                             cfg.listen + ": " + ec.message());
  tcp_port_ = listener_.local_port();
  ctx_->info.tcp_port = tcp_port_;

  workers_.push_back(rt_->spawn([this] { accept_loop(); }));
  workers_.push_back(rt_->spawn([this] { sweep_loop(); }));
  if (udp_sock_.valid()) {
    for (unsigned i = 0; i < cfg.threads; ++i)
      workers_.push_back(rt_->spawn([this] { serve_udp(udp_sock_); }));
  }
}

Server::~Server() {
  stop();
  udp_stack_.reset();  // before the runtime it runs on
  rt_.reset();         // waits for the detached connection uthreads
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  listener_.close();
  {
    std::lock_guard<std::mutex> g(conns_mu_);
    for (net::TcpStream* s : conns_) s->close();
  }
  if (udp_sock_.valid()) udp_sock_.close();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

bool Server::track(net::TcpStream* s) {
  std::lock_guard<std::mutex> g(conns_mu_);
  if (stopping_.load()) return false;
  conns_.insert(s);
  return true;
}

void Server::untrack(net::TcpStream* s) {
  std::lock_guard<std::mutex> g(conns_mu_);
  conns_.erase(s);
}

void Server::accept_loop() {
  for (;;) {
    std::error_code ec;
    net::TcpStream s = listener_.accept(ec);
    if (ec) {
      if (stopping_.load()) return;
      if (cfg_.verbose)
        std::fprintf(stderr, "kairos-kv: accept: %s\n", ec.message().c_str());
      this_uthread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (counters_.curr_connections.load() >= cfg_.max_connections) {
      // memcached's answer when -c is reached: say so, then hang up.
      static constexpr char kTooMany[] = "ERROR Too many open connections\r\n";
      std::error_code wec;
      s.write_all(kTooMany, sizeof kTooMany - 1, wec);
      counters_.rejected_connections++;
      continue;
    }
    counters_.curr_connections++;
    counters_.total_connections++;
    rt_->spawn_detached([this, st = std::move(s)]() mutable {
      serve(std::move(st));
      counters_.curr_connections--;
    });
  }
}

void Server::serve(net::TcpStream s) {
  if (!track(&s)) return;
  Session session(*ctx_, next_stripe_.fetch_add(1, std::memory_order_relaxed));
  std::unique_ptr<char[]> buf(new char[kReadSize]);
  std::string out;
  for (;;) {
    std::error_code ec;
    const std::size_t n = s.read_some(buf.get(), kReadSize, ec);
    if (ec || n == 0) break;
    const Session::Status st = session.feed(std::string_view(buf.get(), n), out);
    if (!out.empty()) {
      s.write_all(out.data(), out.size(), ec);
      if (ec) break;
      out.clear();
      if (out.capacity() > kKeepReplyCapacity) out.shrink_to_fit();
    }
    if (st == Session::Status::kClose) break;
  }
  untrack(&s);
  s.close();
}

void Server::serve_udp(net::UdpSocket sock) {
  std::string out;
  while (auto d = sock.recv_from()) {
    const auto hdr = parse_udp_header(d->data);
    if (!hdr) continue;  // memcached drops what has no frame header
    out.clear();
    if (hdr->total != 1 || hdr->sequence != 0) {
      out = "SERVER_ERROR multi-packet request not supported\r\n";
    } else {
      // Each datagram is a request on its own: nothing carries over.
      Session session(*ctx_, next_stripe_.fetch_add(1, std::memory_order_relaxed));
      const auto* p = reinterpret_cast<const char*>(d->data.data());
      session.feed(std::string_view(p + kUdpHeaderSize,
                                    d->data.size() - kUdpHeaderSize),
                   out);
    }
    if (out.empty()) continue;
    for (const auto& dg : frame_udp_reply(hdr->request_id, out))
      if (!sock.send_to(d->peer, dg)) return;
  }
}

void Server::sweep_loop() {
  // A quarter of the shards each second: every item is looked at within
  // about four seconds of expiring, however few are read.
  const unsigned per_tick = std::max(1u, store_.shard_count() / 4);
  auto next = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    this_uthread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() < next) continue;
    next += std::chrono::seconds(1);
    store_.sweep(unix_now(), per_tick);
  }
}

}  // namespace kairos::kv
