#include "kv_protocol.hpp"

#include "kv_numbers.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace kairos::kv {

namespace {

// memcached: a line without a newline past this many bytes is a client
// gone wrong, unless it is a (long) multi-get.
constexpr std::size_t kMaxLineWithoutNewline = 2048;
// Our own bound on a multi-get line (memcached grows its buffer without
// one); past it the connection is dropped.
constexpr std::size_t kMaxGetLine = 1u << 20;
// memcached's tokenizer stops splitting after this many tokens.
constexpr std::size_t kMaxTokens = 24;

}  // namespace

void tokenize(std::string_view line, std::vector<std::string_view>* out) {
  out->clear();
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (i < n) {
    while (i < n && line[i] == ' ') ++i;
    if (i == n) break;
    const std::size_t s = i;
    while (i < n && line[i] != ' ') ++i;
    out->push_back(line.substr(s, i - s));
  }
}

Session::Session(ServerContext& ctx, std::size_t stripe)
    : ctx_(ctx), c_(ctx.counters.stripe(stripe)) {
  tokens_.reserve(kMaxTokens);
}

Session::Status Session::feed(std::string_view in, std::string& out) {
  c_.add(Counter::bytes_read, in.size());
  const std::size_t out_before = out.size();
  unsent_start_ = out.size();
  unsent_requests_ = 0;
  std::size_t pos = 0;
  Status st;
  if (buf_.empty()) {
    // Common case: whole requests in one read, parsed where they lie.
    st = run(in, &pos, out);
    if (st == Status::kOpen) buf_.assign(in.substr(pos));
  } else {
    buf_.append(in);
    st = run(buf_, &pos, out);
    if (st == Status::kOpen) buf_.erase(0, pos);
  }
  if (st == Status::kClose) {
    // A dropped connection (not quit) loses the replies memcached still
    // held: it closes without writing them.
    if (!quit_) out.resize(std::max(out_before, unsent_start_));
    buf_.clear();
  }
  c_.add(Counter::bytes_written, out.size() - out_before);
  return st;
}

Session::Status Session::run(std::string_view data, std::size_t* pos,
                             std::string& out) {
  for (;;) {
    const std::size_t avail = data.size() - *pos;
    switch (state_) {
      case State::kSwallow: {
        const std::size_t n = std::min(avail, swallow_);
        *pos += n;
        swallow_ -= n;
        if (swallow_ > 0) return Status::kOpen;
        state_ = State::kCommand;
        break;
      }
      case State::kData: {
        const std::size_t need = pending_.length + 2;
        if (avail < need) return Status::kOpen;
        complete_data(data.substr(*pos, need), out);
        *pos += need;
        state_ = State::kCommand;
        break;
      }
      case State::kCommand: {
        if (avail == 0) return Status::kOpen;
        const std::string_view rest = data.substr(*pos);
        const std::size_t nl = rest.find('\n');
        if (nl == std::string_view::npos) {
          if (avail > kMaxLineWithoutNewline) {
            std::size_t sp = 0;
            while (sp < rest.size() && rest[sp] == ' ') ++sp;
            const std::string_view r = rest.substr(sp);
            const bool is_get = r.starts_with("get ") || r.starts_with("gets ");
            if (sp > 100 || !is_get || avail > kMaxGetLine)
              return Status::kClose;
          }
          return Status::kOpen;
        }
        std::string_view line = rest.substr(0, nl);
        // memcached strips the CR only when something precedes it.
        if (line.size() > 1 && line.back() == '\r') line.remove_suffix(1);
        *pos += nl + 1;
        if (command(line, out) == Status::kClose) return Status::kClose;
        break;
      }
    }
  }
}

void Session::reply(std::string& out, std::string_view s) {
  if (noreply_) {
    noreply_ = false;
    return;
  }
  out.append(s);
  out.append("\r\n");
}

void Session::set_noreply_maybe(const std::vector<std::string_view>& t,
                                std::size_t nt) {
  // memcached looks at the token before its terminal one.
  const std::size_t i = nt - 2;
  if (i < t.size() && t[i] == "noreply") noreply_ = true;
}

Session::Status Session::command(std::string_view line, std::string& out) {
  // memcached's reqs_per_event: after 20 requests it writes what it holds.
  if (++unsent_requests_ > 20) {
    unsent_start_ = out.size();
    unsent_requests_ = 1;
  }
  tokenize(line, &tokens_);
  const auto& t = tokens_;
  // memcached's token count: at most 23 tokens plus a terminal one.
  const std::size_t nt = std::min(t.size(), kMaxTokens - 1) + 1;
  if (nt < 2 || t[0].size() < 2) {
    reply(out, "ERROR");
    return Status::kOpen;
  }
  const std::string_view cmd = t[0];
  auto want_or = [&](std::size_t a, std::size_t b) {
    if (nt == a || nt == b) return true;
    reply(out, "ERROR");
    return false;
  };
  auto want_range = [&](std::size_t lo, std::size_t hi) {
    if (nt >= lo && nt <= hi) return true;
    reply(out, "ERROR");
    return false;
  };
  auto want_min = [&](std::size_t lo) {
    if (nt >= lo) return true;
    reply(out, "ERROR");
    return false;
  };
  const char first = cmd[0];
  if (first == 'm' && cmd.size() == 2) {
    process_meta(t, nt, out);
  } else if (first == 'g') {
    if (!want_min(3)) return Status::kOpen;
    if (cmd == "get") process_get(t, false, false, out);
    else if (cmd == "gets") process_get(t, true, false, out);
    else if (cmd == "gat") process_get(t, false, true, out);
    else if (cmd == "gats") process_get(t, true, true, out);
    else reply(out, "ERROR");
  } else if (first == 's') {
    if (cmd == "set") {
      if (want_or(6, 7)) process_update(t, nt, StoreMode::kSet, out);
    } else if (cmd == "stats") {
      process_stats(t, nt, out);
    } else if (cmd == "shutdown") {
      reply(out, "ERROR: shutdown not enabled");
    } else {
      reply(out, "ERROR");
    }
  } else if (first == 'a') {
    if (cmd == "add") {
      if (want_or(6, 7)) process_update(t, nt, StoreMode::kAdd, out);
    } else if (cmd == "append") {
      if (want_or(6, 7)) process_update(t, nt, StoreMode::kAppend, out);
    } else {
      reply(out, "ERROR");
    }
  } else if (first == 'c') {
    if (cmd == "cas") {
      if (want_or(7, 8)) process_update(t, nt, StoreMode::kCas, out);
    } else if (cmd == "cache_memlimit") {
      if (want_or(3, 4)) process_memlimit(t, nt, out);
    } else {
      reply(out, "ERROR");
    }
  } else if (first == 'i') {
    if (cmd == "incr") {
      if (want_or(4, 5)) process_arith(t, nt, true, out);
    } else {
      reply(out, "ERROR");
    }
  } else if (first == 'd') {
    if (cmd == "delete") {
      if (want_range(3, 5)) process_delete(t, nt, out);
    } else if (cmd == "decr") {
      if (want_or(4, 5)) process_arith(t, nt, false, out);
    } else {
      reply(out, "ERROR");
    }
  } else if (first == 't') {
    if (cmd == "touch") {
      if (want_or(4, 5)) process_touch(t, nt, out);
    } else {
      reply(out, "ERROR");
    }
  } else if (cmd == "prepend") {
    if (want_or(6, 7)) process_update(t, nt, StoreMode::kPrepend, out);
  } else if (cmd == "replace") {
    if (want_or(6, 7)) process_update(t, nt, StoreMode::kReplace, out);
  } else if (cmd == "bget") {
    if (want_min(3)) process_get(t, false, false, out);
  } else if (cmd == "flush_all") {
    if (want_range(2, 4)) process_flush(t, nt, out);
  } else if (cmd == "version") {
    reply(out, "VERSION " + ctx_.info.version);
  } else if (cmd == "quit") {
    quit_ = true;
    return Status::kClose;
  } else if (cmd == "verbosity") {
    if (want_or(3, 4)) process_verbosity(t, nt, out);
  } else {
    reply(out, "ERROR");
  }
  return Status::kOpen;
}

void Session::process_get(const std::vector<std::string_view>& t, bool cas,
                          bool touch, std::string& out) {
  std::size_t k = 1;
  std::int64_t exptime = 0;
  if (touch) {
    std::int32_t e = 0;
    if (!parse_i32(t[1], &e)) {
      reply(out, "CLIENT_ERROR invalid exptime argument");
      return;
    }
    exptime = e;
    k = 2;
  }
  const std::int64_t now = ctx_.now();
  for (; k < t.size(); ++k) {
    const std::string_view key = t[k];
    if (key.size() > kMaxKeyLength) {
      // memcached drops every reply it has not written yet, those of the
      // requests before this one in the same read included.
      out.resize(unsent_start_);
      reply(out, "CLIENT_ERROR bad command line format");
      return;
    }
    const bool hit = ctx_.store.get(
        key, now,
        [&](const ItemRef& it) {
          out.append("VALUE ");
          out.append(it.key);
          out.push_back(' ');
          append_number(out, it.flags);
          out.push_back(' ');
          append_number(out, it.value.size());
          if (cas) {
            out.push_back(' ');
            append_number(out, it.cas);
          }
          out.append("\r\n");
          out.append(it.value);
          out.append("\r\n");
        },
        touch ? &exptime : nullptr);
    if (touch) {
      c_.add(Counter::cmd_touch);
      c_.add(hit ? Counter::touch_hits : Counter::touch_misses);
    } else {
      c_.add(hit ? Counter::get_hits : Counter::get_misses);
    }
    c_.add(Counter::cmd_get);
  }
  out.append("END\r\n");
}

void Session::process_update(const std::vector<std::string_view>& t,
                             std::size_t nt, StoreMode mode,
                             std::string& out) {
  set_noreply_maybe(t, nt);
  if (t[1].size() > kMaxKeyLength) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  std::uint32_t flags = 0;
  std::int32_t exptime = 0;
  std::int32_t vlen = 0;
  if (!(parse_flags(t[2], &flags) && parse_i32(t[3], &exptime) &&
        parse_i32(t[4], &vlen))) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  std::uint64_t cas = 0;
  if (mode == StoreMode::kCas && !parse_u64(t[5], &cas)) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  if (vlen < 0 || vlen > INT_MAX - 2) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  if (!ctx_.store.fits(t[1].size(), flags, static_cast<std::size_t>(vlen))) {
    reply(out, "SERVER_ERROR object too large for cache");
    c_.add(Counter::store_too_large);
    state_ = State::kSwallow;
    swallow_ = static_cast<std::size_t>(vlen) + 2;
    // A set that fails must not leave the old value readable.
    if (mode == StoreMode::kSet) ctx_.store.remove(t[1], ctx_.now());
    return;
  }
  pending_.meta = false;
  pending_.mode = mode;
  pending_.key.assign(t[1]);
  pending_.flags = flags;
  pending_.exptime = exptime;
  pending_.cas = cas;
  pending_.length = static_cast<std::size_t>(vlen);
  state_ = State::kData;
}

void Session::error_reply(std::string& out, std::string_view s) {
  noreply_ = false;
  out.append(s);
  out.append("\r\n");
}

void Session::complete_data(std::string_view block, std::string& out) {
  if (pending_.meta) {
    complete_meta_set(block, out);
    return;
  }
  c_.add(Counter::cmd_set);
  const std::size_t n = pending_.length;
  if (block[n] != '\r' || block[n + 1] != '\n') {
    reply(out, "CLIENT_ERROR bad data chunk");
    return;
  }
  const StoreResult r =
      ctx_.store.store(pending_.mode, pending_.key, pending_.flags,
                       pending_.exptime, block.substr(0, n), pending_.cas,
                       ctx_.now());
  if (pending_.mode == StoreMode::kCas) {
    c_.add(r == StoreResult::kStored   ? Counter::cas_hits
           : r == StoreResult::kExists ? Counter::cas_badval
                                       : Counter::cas_misses);
  }
  switch (r) {
    case StoreResult::kStored: reply(out, "STORED"); break;
    case StoreResult::kExists: reply(out, "EXISTS"); break;
    case StoreResult::kNotFound: reply(out, "NOT_FOUND"); break;
    case StoreResult::kNotStored: reply(out, "NOT_STORED"); break;
    case StoreResult::kTooLarge:
      reply(out, "SERVER_ERROR object too large for cache");
      break;
  }
}

void Session::process_arith(const std::vector<std::string_view>& t,
                            std::size_t nt, bool incr, std::string& out) {
  set_noreply_maybe(t, nt);
  if (t[1].size() > kMaxKeyLength) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  std::uint64_t delta = 0;
  if (!parse_u64(t[2], &delta)) {
    reply(out, "CLIENT_ERROR invalid numeric delta argument");
    return;
  }
  std::string v;
  switch (ctx_.store.delta(t[1], incr, delta, ctx_.now(), &v)) {
    case DeltaResult::kOk:
      c_.add(incr ? Counter::incr_hits : Counter::decr_hits);
      reply(out, v);
      break;
    case DeltaResult::kNonNumeric:
      reply(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
      break;
    case DeltaResult::kNotFound:
      c_.add(incr ? Counter::incr_misses : Counter::decr_misses);
      reply(out, "NOT_FOUND");
      break;
    case DeltaResult::kExists:   // only with a CAS (ma C)
    case DeltaResult::kCreated:  // only with vivify (ma N)
      break;
  }
}

void Session::process_delete(const std::vector<std::string_view>& t,
                             std::size_t nt, std::string& out) {
  if (nt > 3) {
    const bool hold_is_zero = t[2] == "0";
    set_noreply_maybe(t, nt);
    const bool valid = (nt == 4 && (hold_is_zero || noreply_)) ||
                       (nt == 5 && hold_is_zero && noreply_);
    if (!valid) {
      reply(out,
            "CLIENT_ERROR bad command line format.  "
            "Usage: delete <key> [noreply]");
      return;
    }
  }
  if (t[1].size() > kMaxKeyLength) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  if (ctx_.store.remove(t[1], ctx_.now())) {
    c_.add(Counter::delete_hits);
    reply(out, "DELETED");
  } else {
    c_.add(Counter::delete_misses);
    reply(out, "NOT_FOUND");
  }
}

void Session::process_touch(const std::vector<std::string_view>& t,
                            std::size_t nt, std::string& out) {
  set_noreply_maybe(t, nt);
  if (t[1].size() > kMaxKeyLength) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  std::int32_t e = 0;
  if (!parse_i32(t[2], &e)) {
    reply(out, "CLIENT_ERROR invalid exptime argument");
    return;
  }
  c_.add(Counter::cmd_touch);
  if (ctx_.store.touch(t[1], e, ctx_.now())) {
    c_.add(Counter::touch_hits);
    reply(out, "TOUCHED");
  } else {
    c_.add(Counter::touch_misses);
    reply(out, "NOT_FOUND");
  }
}

void Session::process_flush(const std::vector<std::string_view>& t,
                            std::size_t nt, std::string& out) {
  set_noreply_maybe(t, nt);
  c_.add(Counter::cmd_flush);
  std::int32_t delay = 0;
  if (nt != (noreply_ ? 3u : 2u)) {
    if (!parse_i32(t[1], &delay)) {
      reply(out, "CLIENT_ERROR invalid exptime argument");
      return;
    }
  }
  ctx_.store.flush(delay, ctx_.now());
  reply(out, "OK");
}

void Session::process_verbosity(const std::vector<std::string_view>& t,
                                std::size_t nt, std::string& out) {
  set_noreply_maybe(t, nt);
  std::uint32_t level = 0;
  if (!parse_flags(t[1], &level)) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  ctx_.verbosity.store(std::min(level, 2u), std::memory_order_relaxed);
  reply(out, "OK");
}

void Session::process_memlimit(const std::vector<std::string_view>& t,
                               std::size_t nt, std::string& out) {
  set_noreply_maybe(t, nt);
  std::uint32_t mb = 0;
  if (!parse_flags(t[1], &mb)) {
    reply(out, "CLIENT_ERROR bad command line format");
    return;
  }
  if (mb < 8) {
    reply(out, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
    return;
  }
  ctx_.store.set_max_bytes(static_cast<std::size_t>(mb) << 20);
  reply(out, "OK");
}

void Session::process_stats(const std::vector<std::string_view>& t,
                            std::size_t nt, std::string& out) {
  auto stat = [&](std::string_view name, auto value) {
    out.append("STAT ");
    out.append(name);
    out.push_back(' ');
    if constexpr (std::is_same_v<decltype(value), std::string_view> ||
                  std::is_same_v<decltype(value), std::string>) {
      out.append(value);
    } else {
      append_number(out, value);
    }
    out.append("\r\n");
  };
  const ServerInfo& info = ctx_.info;
  if (nt == 2) {
    const std::int64_t now = ctx_.now();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    char tv[64];
    const StoreCounters sc = ctx_.store.counters();
    const ServerCounters& k = ctx_.counters;
    stat("pid", info.pid);
    stat("uptime", now - info.process_start);
    stat("time", now);
    stat("version", std::string_view(info.version));
    stat("pointer_size", std::int64_t{64});
    std::snprintf(tv, sizeof tv, "%ld.%06ld",
                  static_cast<long>(ru.ru_utime.tv_sec),
                  static_cast<long>(ru.ru_utime.tv_usec));
    stat("rusage_user", std::string_view(tv));
    std::snprintf(tv, sizeof tv, "%ld.%06ld",
                  static_cast<long>(ru.ru_stime.tv_sec),
                  static_cast<long>(ru.ru_stime.tv_usec));
    stat("rusage_system", std::string_view(tv));
    stat("max_connections", std::uint64_t{info.max_connections});
    stat("curr_connections", k.curr_connections.load());
    stat("total_connections", k.total_connections.load());
    stat("rejected_connections", k.rejected_connections.load());
    for (unsigned i = 0; i < static_cast<unsigned>(Counter::kCount); ++i) {
      const auto c = static_cast<Counter>(i);
      if (c == Counter::bytes_read) {
        stat("auth_cmds", std::uint64_t{0});
        stat("auth_errors", std::uint64_t{0});
      }
      stat(kCounterNames[i], k.total(c));
    }
    stat("limit_maxbytes", std::uint64_t{ctx_.store.max_bytes()});
    stat("accepting_conns", std::uint64_t{1});
    stat("threads", std::uint64_t{info.threads});
    stat("conn_yields", std::uint64_t{0});
    stat("bytes", sc.bytes);
    stat("curr_items", sc.curr_items);
    stat("total_items", sc.total_items);
    stat("expired_unfetched", sc.expired_unfetched);
    stat("evicted_unfetched", sc.evicted_unfetched);
    stat("evictions", sc.evictions);
    stat("reclaimed", sc.reclaimed);
    out.append("END\r\n");
    return;
  }
  const std::string_view sub = t[1];
  if (sub == "reset") {
    ctx_.counters.reset();
    reply(out, "RESET");
  } else if (sub == "settings") {
    stat("maxbytes", std::uint64_t{ctx_.store.max_bytes()});
    stat("maxconns", std::uint64_t{info.max_connections});
    stat("tcpport", std::uint64_t{info.tcp_port});
    stat("udpport", std::uint64_t{info.udp_port});
    stat("inter", std::string_view(info.listen));
    stat("verbosity", std::uint64_t{ctx_.verbosity.load()});
    stat("evictions", std::string_view("on"));
    stat("num_threads", std::uint64_t{info.threads});
    stat("cas_enabled", std::string_view("yes"));
    stat("item_size_max", std::uint64_t{ctx_.store.config().item_size_max});
    stat("flush_enabled", std::string_view("yes"));
    out.append("END\r\n");
  } else if (sub == "sizes") {
    stat("sizes_status", std::string_view("disabled"));
    out.append("END\r\n");
  } else if (sub == "detail") {
    reply(out, "CLIENT_ERROR usage: stats detail on|off|dump");
  } else {
    reply(out, "ERROR");
  }
}

}  // namespace kairos::kv
