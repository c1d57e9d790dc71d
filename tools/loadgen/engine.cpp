#include "engine.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace kairos::loadgen {

void Counters::add(const Counters& o) {
  scheduled += o.scheduled;
  sent += o.sent;
  completed += o.completed;
  hits += o.hits;
  misses += o.misses;
  stored += o.stored;
  not_stored += o.not_stored;
  error_replies += o.error_replies;
  timeouts += o.timeouts;
  failed += o.failed;
  unanswered += o.unanswered;
  not_sent += o.not_sent;
  malformed += o.malformed;
  conn_failures += o.conn_failures;
  late += o.late;
  connects += o.connects;
}

namespace {

constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::int64_t kScanNs = 5'000'000;  // timeout and reconnect checks

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kSec + ts.tv_nsec;
}

std::int64_t to_ns(double s) { return static_cast<std::int64_t>(s * 1e9); }

struct Address {
  sockaddr_storage sa{};
  socklen_t len = 0;
  int family = AF_INET;
};

Address resolve(const Config& cfg) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = is_udp(cfg.protocol) ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(cfg.port);
  const int rc = getaddrinfo(cfg.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || !res)
    throw std::runtime_error("cannot resolve '" + cfg.host + "': " + gai_strerror(rc));
  Address a;
  std::memcpy(&a.sa, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  a.family = res->ai_family;
  freeaddrinfo(res);
  return a;
}

// Distinct error messages with counts, shared by the threads (errors are
// rare, so one mutex is fine).
class ErrorLog {
 public:
  void add(const std::string& msg) {
    std::lock_guard<std::mutex> g(mu_);
    if (counts_.size() < 64 || counts_.count(msg)) counts_[msg]++;
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<std::string> out;
    for (const auto& [m, n] : counts_) out.push_back(m + " (x" + std::to_string(n) + ")");
    return out;
  }
  void clear() {
    std::lock_guard<std::mutex> g(mu_);
    counts_.clear();
  }
  std::string first() const {
    std::lock_guard<std::mutex> g(mu_);
    return counts_.empty() ? std::string("no error recorded") : counts_.begin()->first;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> counts_;
};

struct Pending {
  std::int64_t t0;  // scheduled (open loop) or send (closed loop) time
  Op op;
};

struct Conn {
  int fd = -1;
  enum class State { Down, Connecting, Up } state = State::Down;
  std::int64_t retry_at = 0, connect_deadline = 0;
  bool watching_out = false;
  std::string out;  // TCP bytes not yet written, from out_off
  std::size_t out_off = 0;
  std::string in;  // TCP bytes not yet parsed, from in_off
  std::size_t in_off = 0;
  std::deque<Pending> fifo;                            // TCP: replies come in order
  std::unordered_map<std::uint64_t, Pending> inflight;  // UDP: by request id / sequence
  std::uint16_t next_request_id = 0;
  std::uint64_t next_seq = 0;
  UdpReassembler reassembler;
  bool dirty = false;  // TCP: requests appended since the last flush
  std::size_t outstanding() const { return fifo.size() + inflight.size(); }
};

struct Phase {
  bool open = false;
  bool sequential_sets = false;  // warm-up: set keys first..last once, in order
  std::int64_t start = 0, end = 0, drain_end = 0;
  unsigned depth = 1;
};

class Worker {
 public:
  Worker(const Config& cfg, const Address& addr, unsigned index, unsigned nconns,
         std::uint64_t token, ErrorLog& log)
      : cfg_(cfg), addr_(addr), index_(index), token_(token), log_(log), conns_(nconns),
        keys_(cfg.keys, cfg.zipf_s, cfg.seed * 1000003 + index),
        sizes_(cfg.value_size, cfg.key_value() ? cfg.max_value_size() : 1 << 20,
               cfg.seed * 7919 + index),
        rng_(cfg.seed * 31 + index) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  }
  ~Worker() {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    close(ep_);
  }

  // Connects every connection, waiting at most until `deadline`.
  void connect_all(std::int64_t deadline) {
    const std::int64_t now = now_ns();
    for (std::size_t i = 0; i < conns_.size(); i++) start_connect(i, now, deadline);
    while (now_ns() < deadline && std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) {
             return c.state == Conn::State::Connecting;
           }))
      poll_events(deadline);
    for (std::size_t i = 0; i < conns_.size(); i++)
      if (conns_[i].state == Conn::State::Connecting) connect_failed(i, "connect timed out", now_ns());
  }
  unsigned up() const {
    return static_cast<unsigned>(std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) {
      return c.state == Conn::State::Up;
    }));
  }

  void run(const Phase& ph, std::uint64_t first_key, std::uint64_t key_stride) {
    ph_ = ph;
    next_key_ = first_key;
    key_stride_ = key_stride;
    std::unique_ptr<PoissonSchedule> schedule;
    std::int64_t next_arrival = INT64_MAX;
    if (ph.open) {
      schedule = std::make_unique<PoissonSchedule>(cfg_.rate / cfg_.threads,
                                                   cfg_.seed * 2654435761u + index_);
      next_arrival = ph.start + schedule->next_ns();
    }
    std::int64_t next_scan = 0;
    for (;;) {
      std::int64_t now = now_ns();
      if (ph.open) {
        // Everything due goes out now, stamped with its scheduled time.
        while (next_arrival <= now && next_arrival < ph.end) {
          issue_open(next_arrival);
          next_arrival = ph.start + schedule->next_ns();
        }
      } else if (now >= ph.start && now < ph.end) {
        for (std::size_t i = 0; i < conns_.size(); i++) {
          while (conns_[i].state == Conn::State::Up && conns_[i].outstanding() < ph.depth &&
                 keys_left()) {
            c_.scheduled++;
            if (!issue_on(i, now)) break;  // counted not_sent
          }
        }
      }
      flush_dirty();
      if (now >= next_scan) {
        scan(now);
        next_scan = now + kScanNs;
      }
      const bool sending_done = now >= ph.end || !keys_left();
      if (sending_done && (outstanding() == 0 || now >= ph.drain_end)) break;
      std::int64_t wake = next_scan;
      if (ph.open && next_arrival < ph.end) wake = std::min(wake, next_arrival);
      wake = std::min(wake, sending_done ? ph.drain_end : ph.end);
      poll_events(wake);
    }
    finish();
  }

  Counters take_counters() {
    Counters c = c_;
    c_ = {};
    return c;
  }
  Histogram& latency() { return hist_; }
  std::atomic<std::uint64_t> live_sent{0}, live_completed{0}, live_errors{0};

 private:
  bool keys_left() const { return !ph_.sequential_sets || next_key_ < cfg_.keys; }

  std::size_t outstanding() const {
    std::size_t n = 0;
    for (const auto& c : conns_) n += c.outstanding();
    return n;
  }

  void publish() {
    live_sent.store(c_.sent, std::memory_order_relaxed);
    live_completed.store(c_.completed, std::memory_order_relaxed);
    live_errors.store(c_.error_replies + c_.timeouts + c_.failed + c_.not_sent,
                      std::memory_order_relaxed);
  }

  void note_error(const std::string& msg) { log_.add(msg); }

  // ---- connections ----

  void watch(std::size_t i, bool out) {
    Conn& c = conns_[i];
    epoll_event ev{};
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.watching_out = out;
  }

  void start_connect(std::size_t i, std::int64_t now, std::int64_t deadline) {
    Conn& c = conns_[i];
    const bool udp = is_udp(cfg_.protocol);
    c.fd = socket(addr_.family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      connect_failed(i, std::string("socket: ") + std::strerror(errno), now);
      return;
    }
    if (udp) {
      int big = 4 << 20;
      setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    } else {
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.watching_out = true;
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_.sa), addr_.len) == 0) {
      connected(i);
    } else if (errno == EINPROGRESS) {
      c.state = Conn::State::Connecting;
      c.connect_deadline = deadline;
    } else {
      connect_failed(i, std::string("connect to ") + cfg_.server() + ": " + std::strerror(errno),
                     now);
    }
  }

  void connected(std::size_t i) {
    conns_[i].state = Conn::State::Up;
    c_.connects++;
    watch(i, false);
  }

  void drop(std::size_t i, std::int64_t now) {
    Conn& c = conns_[i];
    if (c.fd >= 0) close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.state = Conn::State::Down;
    c.retry_at = now + to_ns(cfg_.reconnect_s);
    c.out.clear();
    c.out_off = 0;
    c.in.clear();
    c.in_off = 0;
  }

  void connect_failed(std::size_t i, const std::string& why, std::int64_t now) {
    c_.conn_failures++;
    note_error(why);
    drop(i, now);
  }

  // A TCP connection broke: every request on it is lost (counted failed).
  void fail_conn(std::size_t i, const std::string& why, std::int64_t now) {
    Conn& c = conns_[i];
    c_.conn_failures++;
    c_.failed += c.fifo.size();
    c.fifo.clear();
    note_error(why);
    drop(i, now);
    publish();
  }

  // ---- sending ----

  void issue_open(std::int64_t t_sched) {
    c_.scheduled++;
    for (std::size_t k = 0; k < conns_.size(); k++) {
      const std::size_t i = rr_;
      rr_ = (rr_ + 1) % conns_.size();
      const Conn& c = conns_[i];
      if (c.state == Conn::State::Up && c.out.size() - c.out_off < cfg_.max_backlog) {
        issue_on(i, t_sched);
        return;
      }
    }
    c_.not_sent++;
    publish();
  }

  // Returns whether the request went out (it is counted either way).
  bool issue_on(std::size_t i, std::int64_t t0) {
    Conn& c = conns_[i];
    bool sent = true;
    Op op = Op::Echo;
    std::uint64_t key = 0;
    std::size_t vsize = 0;
    if (cfg_.key_value()) {
      if (ph_.sequential_sets) {
        op = Op::Set;
        key = next_key_;
        next_key_ += key_stride_;
      } else {
        op = unit_(rng_) < cfg_.get_ratio ? Op::Get : Op::Set;
        key = keys_.next();
      }
      if (op == Op::Set) vsize = sizes_.next();
      key_buf_ = key_name(key, cfg_.key_size);
    }
    switch (cfg_.protocol) {
      case Protocol::Memcached:
      case Protocol::Redis:
        if (cfg_.protocol == Protocol::Memcached)
          encode_memcached(op, key_buf_, vsize, c.out);
        else
          encode_redis(op, key_buf_, vsize, c.out);
        c.fifo.push_back({t0, op});
        c_.sent++;
        if (!c.dirty) {
          c.dirty = true;
          dirty_.push_back(i);
        }
        break;
      case Protocol::MemcachedUdp: {
        const std::uint16_t id = c.next_request_id++;
        if (c.inflight.erase(id)) c_.timeouts++;  // 65536 requests ago: long dead
        dgram_.clear();
        encode_memcached_udp(id, op, key_buf_, vsize, dgram_);
        if (send_datagram(c)) {
          c.inflight[id] = {t0, op};
          c_.sent++;
        } else {
          c_.not_sent++;
          sent = false;
        }
        break;
      }
      case Protocol::UdpEcho: {
        const std::uint64_t seq = c.next_seq++;
        dgram_.clear();
        encode_echo(seq, token_, cfg_.echo_size, dgram_);
        if (send_datagram(c)) {
          c.inflight[seq] = {t0, op};
          c_.sent++;
        } else {
          c_.not_sent++;
          sent = false;
        }
        break;
      }
    }
    publish();
    return sent;
  }

  // Requests issued at one instant leave in one send per connection.
  void flush_dirty() {
    for (std::size_t i : dirty_) {
      conns_[i].dirty = false;
      if (conns_[i].fd >= 0) flush(i);
    }
    dirty_.clear();
  }

  bool send_datagram(Conn& c) {
    // A connected UDP socket reports an earlier ICMP error on the next send
    // and drops that datagram: count the error and try once more.
    for (int attempt = 0; attempt < 2; attempt++) {
      if (send(c.fd, dgram_.data(), dgram_.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return true;
      if (errno == ECONNREFUSED) {
        c_.conn_failures++;
        note_error("server " + cfg_.server() + " unreachable (connection refused)");
        continue;
      }
      note_error(std::string("send: ") + std::strerror(errno));
      return false;
    }
    return false;
  }

  void flush(std::size_t i) {
    Conn& c = conns_[i];
    while (c.out_off < c.out.size()) {
      const ssize_t n =
          send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c.watching_out) watch(i, true);
        if (c.out_off > (64u << 10)) {
          c.out.erase(0, c.out_off);
          c.out_off = 0;
        }
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      fail_conn(i, std::string("send: ") + std::strerror(errno), now_ns());
      return;
    }
    c.out.clear();
    c.out_off = 0;
    if (c.watching_out) watch(i, false);
  }

  // ---- receiving ----

  void poll_events(std::int64_t until) {
    const std::int64_t wait = std::max<std::int64_t>(0, until - now_ns());
    const timespec ts{static_cast<time_t>(wait / kSec), static_cast<long>(wait % kSec)};
    epoll_event evs[64];
    const int n = epoll_pwait2(ep_, evs, 64, &ts, nullptr);
    for (int k = 0; k < n; k++) handle(static_cast<std::size_t>(evs[k].data.u64), evs[k].events);
  }

  void handle(std::size_t i, std::uint32_t events) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;  // dropped earlier in this batch
    if (c.state == Conn::State::Connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0 && (events & EPOLLOUT))
        connected(i);
      else if (err != 0 || (events & (EPOLLERR | EPOLLHUP)))
        connect_failed(i, "connect to " + cfg_.server() + ": " + std::strerror(err ? err : ECONNREFUSED),
                       now_ns());
      return;
    }
    if (is_udp(cfg_.protocol)) {
      if (events & (EPOLLIN | EPOLLERR)) read_datagrams(i);
      return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      read_stream(i);
      if (conns_[i].fd < 0) return;
    }
    if (events & EPOLLOUT) flush(i);
  }

  void read_stream(std::size_t i) {
    Conn& c = conns_[i];
    std::string closed;
    if (c.in_off > 0 && c.in_off == c.in.size()) {
      c.in.clear();
      c.in_off = 0;
    } else if (c.in_off > (64u << 10)) {
      c.in.erase(0, c.in_off);
      c.in_off = 0;
    }
    for (;;) {
      const ssize_t n = recv(c.fd, rbuf_, sizeof rbuf_, MSG_DONTWAIT);
      if (n > 0) {
        c.in.append(rbuf_, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof rbuf_) break;  // drained; epoll says if not
        continue;
      }
      if (n == 0) closed = "server " + cfg_.server() + " closed the connection";
      else if (errno == EINTR) continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK)
        closed = std::string("recv from ") + cfg_.server() + ": " + std::strerror(errno);
      break;
    }
    const std::int64_t now = now_ns();
    // Replies that arrived before a close still count.
    while (c.in_off < c.in.size()) {
      const std::string_view buf(c.in.data() + c.in_off, c.in.size() - c.in_off);
      if (c.fifo.empty()) {
        c_.malformed++;
        fail_conn(i, "reply without a request from " + cfg_.server(), now);
        return;
      }
      const ParseResult r = cfg_.protocol == Protocol::Redis ? parse_redis_reply(buf)
                                                              : parse_memcached_reply(buf);
      if (r.status == ParseStatus::NeedMore) break;
      if (r.status == ParseStatus::Malformed) {
        c_.malformed++;
        fail_conn(i, "malformed reply: " + r.error, now);
        return;
      }
      const Pending p = c.fifo.front();
      if (!reply_answers(p.op, r.reply.kind)) {
        c_.malformed++;
        fail_conn(i, std::string("reply does not answer a ") + (p.op == Op::Get ? "get" : "set"),
                  now);
        return;
      }
      c.fifo.pop_front();
      c.in_off += r.consumed;
      account(p, r.reply, now);
    }
    if (!closed.empty()) fail_conn(i, closed, now);
  }

  void read_datagrams(std::size_t i) {
    Conn& c = conns_[i];
    char* buf = rbuf_;
    for (;;) {
      const ssize_t n = recv(c.fd, buf, sizeof rbuf_, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNREFUSED) {
          c_.conn_failures++;
          note_error("server " + cfg_.server() + " unreachable (connection refused)");
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          note_error(std::string("recv: ") + std::strerror(errno));
        return;
      }
      const std::int64_t now = now_ns();
      const std::string_view d(buf, static_cast<std::size_t>(n));
      if (cfg_.protocol == Protocol::UdpEcho) {
        std::uint64_t seq, token;
        if (!parse_echo(d, seq, token)) {
          c_.malformed++;
          note_error("echo reply shorter than 16 bytes");
          continue;
        }
        auto it = c.inflight.find(seq);
        if (token != token_ || it == c.inflight.end()) {
          c_.late++;
          continue;
        }
        const Pending p = it->second;
        c.inflight.erase(it);
        account(p, Reply{ReplyKind::Value, 0, {}}, now);
        continue;
      }
      std::uint16_t id = 0;
      std::string error;
      const auto st = c.reassembler.add(d, id, payload_, error);
      if (st == UdpReassembler::Status::Malformed) {
        c_.malformed++;
        note_error("malformed UDP frame: " + error);
        continue;
      }
      if (st == UdpReassembler::Status::Partial) continue;
      auto it = c.inflight.find(id);
      if (it == c.inflight.end()) {
        c_.late++;
        continue;
      }
      const Pending p = it->second;
      c.inflight.erase(it);
      const ParseResult r = parse_memcached_reply(payload_);
      std::string why;
      if (r.status == ParseStatus::Malformed) why = r.error;
      else if (r.status == ParseStatus::NeedMore || r.consumed != payload_.size())
        why = "reply datagrams do not hold exactly one reply";
      else if (!reply_answers(p.op, r.reply.kind))
        why = std::string("reply does not answer a ") + (p.op == Op::Get ? "get" : "set");
      if (!why.empty()) {
        c_.malformed++;
        c_.failed++;
        note_error("malformed reply: " + why);
        publish();
        continue;
      }
      account(p, r.reply, now);
    }
  }

  void account(const Pending& p, const Reply& r, std::int64_t now) {
    if (r.kind == ReplyKind::ServerError) {
      c_.error_replies++;
      note_error("server error reply: " + r.message);
    } else {
      c_.completed++;
      hist_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - p.t0)));
      switch (r.kind) {
        case ReplyKind::Value: c_.hits++; break;
        case ReplyKind::Miss: c_.misses++; break;
        case ReplyKind::Stored: c_.stored++; break;
        case ReplyKind::NotStored: c_.not_stored++; break;
        default: break;
      }
    }
    publish();
  }

  // ---- timeouts, reconnects, the end ----

  void scan(std::int64_t now) {
    const std::int64_t timeout = to_ns(cfg_.timeout_s);
    for (std::size_t i = 0; i < conns_.size(); i++) {
      Conn& c = conns_[i];
      switch (c.state) {
        case Conn::State::Down:
          if (now >= c.retry_at && now < ph_.end) start_connect(i, now, now + to_ns(cfg_.connect_timeout_s));
          break;
        case Conn::State::Connecting:
          if (now >= c.connect_deadline) connect_failed(i, "connect to " + cfg_.server() + " timed out", now);
          break;
        case Conn::State::Up:
          if (!c.fifo.empty() && now - c.fifo.front().t0 > timeout) {
            // In-order replies: the head is overdue, so the connection is
            // stuck. Give up on it; the requests behind the head are lost.
            c_.timeouts++;
            c.fifo.pop_front();
            fail_conn(i, "no reply within " + std::to_string(cfg_.timeout_s) + " s", now);
          }
          for (auto it = c.inflight.begin(); it != c.inflight.end();) {
            if (now - it->second.t0 > timeout) {
              c_.timeouts++;
              c.reassembler.forget(static_cast<std::uint16_t>(it->first));
              it = c.inflight.erase(it);
            } else {
              ++it;
            }
          }
          break;
      }
    }
    publish();
  }

  void finish() {
    const std::int64_t now = now_ns();
    for (std::size_t i = 0; i < conns_.size(); i++) {
      Conn& c = conns_[i];
      c_.unanswered += c.outstanding();
      c.inflight.clear();
      if (!c.fifo.empty()) {
        // Replies still in flight would be read as answers to the next
        // phase's requests: start that phase on a fresh connection.
        c.fifo.clear();
        drop(i, now);
        c.retry_at = now;
      }
    }
    publish();
  }

  const Config& cfg_;
  const Address& addr_;
  unsigned index_;
  std::uint64_t token_;
  ErrorLog& log_;
  std::vector<Conn> conns_;
  int ep_ = -1;
  KeyChooser keys_;
  ValueSizer sizes_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0, 1};
  Phase ph_;
  std::uint64_t next_key_ = 0, key_stride_ = 1;
  std::size_t rr_ = 0;
  Counters c_;
  Histogram hist_;
  std::string key_buf_, dgram_, payload_;
  std::vector<std::size_t> dirty_;
  char rbuf_[65536];
};

}  // namespace

RunResult run(const Config& cfg, const ProgressFn& progress) {
  if (cfg.threads == 0 || cfg.connections < cfg.threads)
    throw std::invalid_argument("need 1 <= threads <= connections");
  const Address addr = resolve(cfg);
  prctl(PR_SET_TIMERSLACK, 1UL);  // sleeps until the next arrival end on time
  ErrorLog log;
  const std::uint64_t token =
      std::random_device{}() ^ (static_cast<std::uint64_t>(now_ns()) << 1);
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < cfg.threads; t++) {
    const unsigned n = cfg.connections / cfg.threads + (t < cfg.connections % cfg.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(cfg, addr, t, n, token, log));
  }
  for (auto& w : workers) w->connect_all(now_ns() + to_ns(cfg.connect_timeout_s));
  unsigned up = 0;
  for (auto& w : workers) up += w->up();
  if (up == 0)
    throw std::runtime_error("cannot connect to " + cfg.server() + ": " + log.first());

  auto run_phase = [&](const Phase& ph, bool report) {
    std::vector<std::thread> threads;
    std::atomic<unsigned> running{static_cast<unsigned>(workers.size())};
    for (unsigned t = 0; t < workers.size(); t++)
      threads.emplace_back([&, t] {
        workers[t]->run(ph, t, workers.size());
        running--;
      });
    std::int64_t next_report = ph.start + kSec;
    while (running.load() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (report && progress && now_ns() >= next_report) {
        ProgressSample s{(now_ns() - ph.start) / 1e9, 0, 0, 0};
        for (auto& w : workers) {
          s.sent += w->live_sent.load(std::memory_order_relaxed);
          s.completed += w->live_completed.load(std::memory_order_relaxed);
          s.errors += w->live_errors.load(std::memory_order_relaxed);
        }
        progress(s);
        next_report += kSec;
      }
    }
    for (auto& t : threads) t.join();
  };

  RunResult res;
  if (cfg.warmup && cfg.key_value()) {
    // Set every key once, depth 16 per connection, bounded by a deadline
    // generous for any keyspace a loopback server can hold.
    Phase w;
    w.sequential_sets = true;
    w.depth = 16;
    w.start = now_ns();
    w.end = w.start + kSec * 30 + to_ns(cfg.keys / 20000.0);
    w.drain_end = w.end + to_ns(cfg.timeout_s);
    run_phase(w, false);
    for (auto& w2 : workers) {
      res.warmup.add(w2->take_counters());
      w2->latency().clear();
    }
    res.warmup_errors = log.lines();
    log.clear();
  }

  Phase ph;
  ph.open = cfg.mode == Mode::Open;
  ph.depth = cfg.depth;
  ph.start = now_ns() + 2'000'000;  // 2 ms for the threads to get going
  ph.end = ph.start + to_ns(cfg.duration_s);
  ph.drain_end = ph.end + to_ns(cfg.drain_s);
  run_phase(ph, true);
  res.elapsed_s = (now_ns() - ph.start) / 1e9;
  res.duration_s = cfg.duration_s;
  for (auto& w : workers) {
    res.counters.add(w->take_counters());
    res.latency.merge(w->latency());
  }
  res.errors = log.lines();
  return res;
}

}  // namespace kairos::loadgen
