// The memcached ASCII protocol engine of kairos-kv: pure (no I/O). A
// Session is one connection's parser state; feed() takes the bytes of one
// read, however they are split (a request across reads, many pipelined
// requests in one read), runs every complete request against the Store in
// order and appends all their replies to one output buffer, so a read's
// replies go out in one write.
//
// Replies follow memcached 1.6 byte for byte, its quirks included (the
// tokenizer splits on spaces only; the counts of tokens each command
// accepts; 'noreply' read from the last token and silencing the next
// reply, errors included; a bad data chunk swallowing exactly the
// announced length plus two bytes; a line of more than 2048 bytes with no
// newline closing the connection unless it is a get; a get with an
// over-long key discarding the replies not yet written). The meta commands
// mg, ms, md, ma and mn follow memcached 1.6's meta protocol, flags,
// replies and error strings included (kv_meta.cpp); me (debug) answers
// ERROR.
#pragma once

#include "kv_stats.hpp"
#include "kv_store.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kairos::kv {

// What `stats` and `version` report and what the engine enforces.
struct ServerInfo {
  std::string version = "1.6.38-kairos-kv";
  unsigned threads = 1;
  unsigned max_connections = 1024;
  unsigned tcp_port = 11211;
  unsigned udp_port = 0;
  std::string listen = "0.0.0.0";
  std::int64_t process_start = 0;  // unix seconds
  std::int64_t pid = 0;
};

// Everything the sessions of one server share.
struct ServerContext {
  Store& store;
  ServerCounters& counters;
  ServerInfo info;
  // Unix seconds now; the server passes a cheap coarse clock, tests a fake.
  std::function<std::int64_t()> now;
  std::atomic<unsigned> verbosity{0};
};

class Session {
 public:
  enum class Status { kOpen, kClose };

  Session(ServerContext& ctx, std::size_t stripe);
  // Consumes in (all of it: an incomplete request is kept for the next
  // call) and appends replies to out. kClose: the client sent quit or a
  // line that memcached would drop the connection for (then, as with
  // memcached, the replies to this read's earlier requests are dropped
  // too; quit keeps them).
  Status feed(std::string_view in, std::string& out);
  // Bytes held for an incomplete request.
  std::size_t buffered() const { return buf_.size(); }

 private:
  enum class State { kCommand, kData, kSwallow };
  struct Pending {
    StoreMode mode = StoreMode::kSet;
    std::string key;
    std::uint32_t flags = 0;
    std::int64_t exptime = 0;
    std::uint64_t cas = 0;
    std::size_t length = 0;  // value bytes, without the CRLF
    // ms: what the reply reports (O, k, c, s tokens, in order), q, and
    // the meta store options.
    bool meta = false;
    bool quiet = false;
    StoreOptions opt;
    std::vector<std::string> returns;
  };

  // Processes data[*pos...]; false when it needs more bytes or closes.
  Status run(std::string_view data, std::size_t* pos, std::string& out);
  Status command(std::string_view line, std::string& out);
  void reply(std::string& out, std::string_view s);
  void process_get(const std::vector<std::string_view>& t, bool cas,
                   bool touch, std::string& out);
  void process_update(const std::vector<std::string_view>& t, std::size_t nt,
                      StoreMode mode, std::string& out);
  void complete_data(std::string_view block, std::string& out);
  void process_arith(const std::vector<std::string_view>& t, std::size_t nt,
                     bool incr, std::string& out);
  void process_delete(const std::vector<std::string_view>& t, std::size_t nt,
                      std::string& out);
  void process_touch(const std::vector<std::string_view>& t, std::size_t nt,
                     std::string& out);
  void process_flush(const std::vector<std::string_view>& t, std::size_t nt,
                     std::string& out);
  void process_verbosity(const std::vector<std::string_view>& t,
                         std::size_t nt, std::string& out);
  void process_memlimit(const std::vector<std::string_view>& t,
                        std::size_t nt, std::string& out);
  void process_stats(const std::vector<std::string_view>& t, std::size_t nt,
                     std::string& out);
  void set_noreply_maybe(const std::vector<std::string_view>& t,
                         std::size_t nt);
  // Meta commands (kv_meta.cpp).
  void process_meta(const std::vector<std::string_view>& t, std::size_t nt,
                    std::string& out);
  void meta_get(const std::vector<std::string_view>& t, std::size_t nt,
                std::string& out);
  void meta_set(const std::vector<std::string_view>& t, std::size_t nt,
                std::string& out);
  void meta_delete(const std::vector<std::string_view>& t, std::size_t nt,
                   std::string& out);
  void meta_arith(const std::vector<std::string_view>& t, std::size_t nt,
                  std::string& out);
  void meta_debug(const std::vector<std::string_view>& t, std::size_t nt,
                  std::string& out);
  void complete_meta_set(std::string_view block, std::string& out);
  // An error reply: shown even under noreply or q.
  void error_reply(std::string& out, std::string_view s);

  ServerContext& ctx_;
  CounterStripe& c_;
  State state_ = State::kCommand;
  Pending pending_;
  std::size_t swallow_ = 0;
  bool noreply_ = false;
  bool quit_ = false;
  std::string buf_;  // bytes of an incomplete request
  // Where the replies memcached would still hold (not yet written) start
  // in the output, and how many requests ran since: memcached writes its
  // stacked replies when a read is used up or after 20 requests, and a
  // get with an over-long key throws away every reply it still holds.
  std::size_t unsent_start_ = 0;
  unsigned unsent_requests_ = 0;
  std::vector<std::string_view> tokens_;
};

// Splits a command line on spaces as memcached's tokenizer does (runs of
// spaces separate, other bytes, tabs included, belong to tokens).
void tokenize(std::string_view line, std::vector<std::string_view>* out);

}  // namespace kairos::kv
