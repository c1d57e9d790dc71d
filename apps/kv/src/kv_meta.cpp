// The meta commands of memcached 1.6 (mg, ms, md, ma, mn) on the Session:
// a request is a key and single-letter flags, some with a token ("T30",
// "Oabc"); the reply is a two-letter code and the flags asked back, in the
// order the client wrote them. The rules below are memcached 1.6.38's, read
// off its replies: which flags each command takes, the error string each
// mistake gets, which replies q silences (only the nominal ones: mg's EN,
// the others' HD), and the order-dependence of flags that change the item
// (mg "t T30" reports the TTL before the change, "T30 t" after it).
#include "kv_base64.hpp"
#include "kv_numbers.hpp"
#include "kv_protocol.hpp"

#include <climits>

namespace kairos::kv {

namespace {

// memcached's MFLAG_MAX_OPT_LENGTH (tokens, the terminal one included) and
// MFLAG_MAX_OPAQUE_LENGTH.
constexpr std::size_t kMaxMetaTokens = 20;
constexpr std::size_t kMaxOpaque = 32;

constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format";
constexpr std::string_view kBadToken =
    "CLIENT_ERROR bad token in command line format";
constexpr std::string_view kOpaqueTooLong = "CLIENT_ERROR opaque token too long";

// The request's flags, parsed once before the command runs.
struct MetaFlags {
  std::string key_bytes;  // the decoded key of b
  std::string_view key;
  bool key_binary = false;
  bool vivify = false;      // N
  std::int64_t vivify_ttl = 0;
  bool has_ttl = false;     // T
  std::int64_t ttl = 0;
  std::int64_t recache_ttl = 0;  // R
  bool value = false;       // v
  bool no_update = false;   // u
  bool quiet = false;       // q
  bool remove_value = false;  // x
  bool invalidate = false;    // I
  std::uint32_t client_flags = 0;  // F
  bool has_cas = false;            // C
  std::uint64_t cas = 0;
  bool has_new_cas = false;        // E
  std::uint64_t new_cas = 0;
  char mode = 0;                   // M
  std::uint64_t delta = 1;         // D
  std::uint64_t initial = 0;       // J
};

// memcached's _meta_flag_preparse: flags from t[start] to the terminal
// token. A repeated (or non-ASCII) flag and an unknown one stop at once;
// a bad token is remembered and parsing goes on, the last message winning.
bool preparse(const std::vector<std::string_view>& t, std::size_t nt,
              std::size_t start, MetaFlags* f, std::string_view* err) {
  bool seen[127] = {};
  bool bad = false;
  f->key = t[1];
  for (std::size_t i = start; i + 1 < nt; ++i) {
    const std::string_view tok = t[i];
    const auto o = static_cast<unsigned char>(tok[0]);
    if (o >= 127 || seen[o]) {
      *err = "CLIENT_ERROR duplicate flag";
      return false;
    }
    seen[o] = true;
    const std::string_view arg = tok.substr(1);
    auto ttl = [&](bool* has, std::int64_t* v) {
      std::int32_t n = 0;
      if (!parse_i32(arg, &n)) {
        *err = kBadToken;
        bad = true;
        return;
      }
      if (has) *has = true;
      *v = n;
    };
    auto u64 = [&](bool* has, std::uint64_t* v, std::string_view msg) {
      if (!parse_u64(arg, v)) {
        *err = msg;
        bad = true;
      } else if (has) {
        *has = true;
      }
    };
    switch (o) {
      case 'b':
        if (!base64_decode(t[1], &f->key_bytes)) {
          *err = "CLIENT_ERROR error decoding key";
          bad = true;
          f->key_bytes.clear();
        }
        f->key = f->key_bytes;
        f->key_binary = true;
        break;
      case 'N': ttl(&f->vivify, &f->vivify_ttl); break;
      case 'T': ttl(&f->has_ttl, &f->ttl); break;
      case 'R': ttl(nullptr, &f->recache_ttl); break;
      case 'v': f->value = true; break;
      case 'u': f->no_update = true; break;
      case 'q': f->quiet = true; break;
      case 'x': f->remove_value = true; break;
      case 'I': f->invalidate = true; break;
      case 'O': case 'P': case 'L':
      case 'k': case 's': case 't': case 'c': case 'f': case 'h': case 'l':
        break;
      case 'F':
        // memcached keeps its default message for a bad F.
        if (!parse_flags(arg, &f->client_flags)) bad = true;
        break;
      case 'C': u64(&f->has_cas, &f->cas, kBadToken); break;
      case 'E': u64(&f->has_new_cas, &f->new_cas, kBadToken); break;
      case 'J':
        u64(nullptr, &f->initial, "CLIENT_ERROR invalid numeric initial value");
        break;
      case 'D':
        u64(nullptr, &f->delta, "CLIENT_ERROR invalid numeric delta value");
        break;
      case 'M':
        if (tok.size() != 2) {
          *err = "CLIENT_ERROR incorrect length for M token";
          bad = true;
        } else {
          f->mode = tok[1];
        }
        break;
      default:
        *err = "CLIENT_ERROR invalid flag";
        return false;
    }
  }
  return !bad;
}

void append_flag(std::string& out, char c) {
  out.push_back(' ');
  out.push_back(c);
}

// " k<key>", base64 with a trailing " b" for a binary key.
void append_key(std::string& out, std::string_view key, bool binary) {
  append_flag(out, 'k');
  if (!binary) {
    out.append(key);
    return;
  }
  base64_append(out, key);
  out.append(" b");
}

// " t<seconds left>", -1 for an item that never expires.
void append_ttl(std::string& out, std::int64_t exptime, std::int64_t now) {
  append_flag(out, 't');
  if (exptime == 0) {
    out.append("-1");
  } else {
    // memcached prints it unsigned 32-bit.
    append_number(out, static_cast<std::uint32_t>(exptime - now));
  }
}

// " O<token>" echoed back; false when the token is longer than memcached
// takes.
bool append_opaque(std::string& line, std::string_view tok) {
  if (tok.size() > kMaxOpaque) return false;
  line.push_back(' ');
  line.append(tok);
  return true;
}

// The O and k flags every reply echoes, a miss's included; false when an
// opaque token is too long.
bool append_opaque_and_key(std::string& line,
                           const std::vector<std::string_view>& t,
                           std::size_t nt, const MetaFlags& f) {
  for (std::size_t i = 2; i + 1 < nt; ++i) {
    if (t[i][0] == 'O') {
      if (!append_opaque(line, t[i])) return false;
    } else if (t[i][0] == 'k') {
      append_key(line, f.key, f.key_binary);
    }
  }
  return true;
}

// The checks every meta command starts with, in memcached's order: the
// token count, the key's length, the number of flags, then the flags
// themselves (from token flags_from). Returns the error reply, or an
// empty view when the command may go on. flag_error, when not empty,
// replaces the message of a bad flag (md and ma give one for all).
std::string_view check_request(const std::vector<std::string_view>& t,
                               std::size_t nt, std::size_t flags_from,
                               std::string_view too_long,
                               std::string_view flag_error, MetaFlags* f) {
  if (nt < 3) return "ERROR";
  if (t[1].size() > kMaxKeyLength) return kBadFormat;
  if (nt > kMaxMetaTokens) return too_long;
  std::string_view err = kBadFormat;
  if (!preparse(t, nt, flags_from, f, &err))
    return flag_error.empty() ? err : flag_error;
  return {};
}

constexpr std::string_view kTooLong = "CLIENT_ERROR options flags too long";
constexpr std::string_view kBadFlag = "CLIENT_ERROR invalid or duplicate flag";

}  // namespace

void Session::process_meta(const std::vector<std::string_view>& t,
                           std::size_t nt, std::string& out) {
  // memcached clears noreply before every command; a meta reply that is
  // not silenced must not leave it set for the next one.
  noreply_ = false;
  switch (t[0][1]) {
    case 'g': meta_get(t, nt, out); break;
    case 's': meta_set(t, nt, out); break;
    case 'd': meta_delete(t, nt, out); break;
    case 'a': meta_arith(t, nt, out); break;
    case 'e': meta_debug(t, nt, out); break;
    case 'n':
      out.append("MN\r\n");
      // mn makes memcached write out what it holds.
      unsent_start_ = out.size();
      unsent_requests_ = 0;
      break;
    default: reply(out, "ERROR"); break;
  }
}

// me <key> [b]: what the store holds for a key, without counting as an
// access (no LRU bump, no fetch mark), as memcached's meta debug prints
// it (a key stored binary shown in base64); EN when absent. Other flags are ignored, as memcached does.
// kairos-kv has no slab classes: cls is always 1, and size is what the
// item is charged against -m.
void Session::meta_debug(const std::vector<std::string_view>& t, std::size_t nt,
                         std::string& out) {
  if (nt < 3 || t[1].size() > kMaxKeyLength) return error_reply(out, kBadFormat);
  std::string_view key = t[1];
  std::string decoded;
  for (std::size_t i = 2; i + 1 < nt; ++i)
    if (t[i] == "b") {
      if (!base64_decode(t[1], &decoded) || decoded.empty())
        return error_reply(out, kBadFormat);
      key = decoded;
    }
  const std::int64_t now = ctx_.now();
  std::string line;
  const bool hit = ctx_.store.meta_get(key, now, false, false, 0, [&](MetaItem& it, bool) {
    line.append("ME ");
    // A key stored binary (b) is shown encoded, as memcached does.
    if (it.key_binary())
      base64_append(line, it.key());
    else
      line.append(it.key());
    line.append(" exp=");
    if (it.exptime() == 0)
      line.append("-1");
    else
      line.append(std::to_string(it.exptime() - now));
    line.append(" la=");
    append_number(line, static_cast<std::uint64_t>(now - it.last_access()));
    line.append(" cas=");
    append_number(line, it.cas());
    line.append(it.fetched() ? " fetch=yes" : " fetch=no");
    line.append(" cls=1 size=");
    append_number(line, it.size());
    return false;  // not an access
  });
  if (!hit) return reply(out, "EN");
  reply(out, line);
}

void Session::meta_get(const std::vector<std::string_view>& t, std::size_t nt,
                       std::string& out) {
  MetaFlags f;
  const std::string_view err = check_request(
      t, nt, 2, "CLIENT_ERROR options flags are too long", {}, &f);
  if (!err.empty()) return error_reply(out, err);
  const std::int64_t now = ctx_.now();
  std::string line;
  bool opaque_error = false, ttl_set = false;
  const bool hit = ctx_.store.meta_get(
      f.key, now, !f.no_update, f.vivify,
      f.has_new_cas ? f.new_cas : 0, [&](MetaItem& it, bool created) {
        bool won = false;
        if (f.value) {
          line.append("VA ");
          append_number(line, it.value().size());
        } else {
          line.append("HD");
        }
        for (std::size_t i = 2; i + 1 < nt; ++i) {
          switch (t[i][0]) {
            case 'T':
              ttl_set = true;
              it.set_exptime(f.ttl);
              break;
            case 'N':
              if (created) {
                it.set_exptime(f.vivify_ttl);
                won = true;
              }
              break;
            case 'R': {
              // Win the recache when the TTL left is under the token's.
              const std::int64_t r = absolute_exptime(
                  f.recache_ttl, now, ctx_.store.config().process_start);
              if (!it.token_sent() && !created && it.exptime() != 0 &&
                  it.exptime() < r)
                won = true;
              break;
            }
            case 's':
              append_flag(line, 's');
              append_number(line, it.value().size());
              break;
            case 't': append_ttl(line, it.exptime(), now); break;
            case 'c':
              append_flag(line, 'c');
              append_number(line, it.cas());
              break;
            case 'f':
              append_flag(line, 'f');
              append_number(line, it.flags());
              break;
            case 'l':
              append_flag(line, 'l');
              append_number(line, static_cast<std::uint32_t>(now - it.last_access()));
              break;
            case 'h':
              append_flag(line, 'h');
              line.push_back(it.fetched() ? '1' : '0');
              break;
            case 'O':
              if (!append_opaque(line, t[i])) {
                opaque_error = true;
                return false;
              }
              break;
            case 'k': append_key(line, it.key(), it.key_binary()); break;
          }
        }
        // Z before W: a client never sees both.
        if (it.token_sent()) append_flag(line, 'Z');
        if (it.stale()) {
          append_flag(line, 'X');
          if (!it.token_sent()) won = true;
        }
        if (won) {
          append_flag(line, 'W');
          it.send_token();
        }
        line.append("\r\n");
        if (f.value) {
          line.append(it.value());
          line.append("\r\n");
        }
        return true;
      });
  if (opaque_error) return error_reply(out, kOpaqueTooLong);
  if (hit) {
    if (ttl_set) {
      c_.add(Counter::cmd_touch);
      c_.add(Counter::touch_hits);
    } else {
      c_.add(Counter::cmd_get);
      c_.add(Counter::get_hits);
    }
    out.append(line);
    return;
  }
  c_.add(Counter::cmd_get);
  c_.add(Counter::get_misses);
  line.assign("EN");
  if (!append_opaque_and_key(line, t, nt, f))
    return error_reply(out, kOpaqueTooLong);
  if (f.quiet) return;
  out.append(line);
  out.append("\r\n");
}

void Session::meta_set(const std::vector<std::string_view>& t, std::size_t nt,
                       std::string& out) {
  if (nt < 3) return reply(out, "ERROR");
  if (t[1].size() > kMaxKeyLength || nt == 3)
    return error_reply(out, kBadFormat);
  if (nt > kMaxMetaTokens) return error_reply(out, kTooLong);
  std::int32_t vlen = 0;
  if (!parse_i32(t[2], &vlen) || vlen < 0 || vlen > INT_MAX - 2)
    return error_reply(out, kBadFormat);
  // From here on a mistake swallows the data block, as memcached does.
  auto fail = [&](std::string_view msg) {
    error_reply(out, msg);
    state_ = State::kSwallow;
    swallow_ = static_cast<std::size_t>(vlen) + 2;
  };
  MetaFlags f;
  std::string_view err = kBadFormat;
  if (!preparse(t, nt, 3, &f, &err)) return fail(err);
  std::vector<std::string> returns;
  bool bad_opaque = false;
  for (std::size_t i = 3; i + 1 < nt; ++i) {
    const char c = t[i][0];
    if (c == 'O') {
      if (t[i].size() > kMaxOpaque) bad_opaque = true;
      else returns.emplace_back(t[i]);
    } else if (c == 'k' || c == 'c' || c == 's') {
      returns.emplace_back(1, c);
    }
  }
  StoreMode mode = StoreMode::kSet;
  std::int64_t exptime = f.has_ttl ? f.ttl : 0;
  bool vivify = false;
  switch (f.mode) {
    case 0: case 'S': break;
    case 'E': mode = StoreMode::kAdd; break;
    case 'R': mode = StoreMode::kReplace; break;
    case 'A': case 'P':
      mode = f.mode == 'A' ? StoreMode::kAppend : StoreMode::kPrepend;
      if (f.vivify) {
        vivify = true;
        exptime = f.vivify_ttl;
      }
      break;
    default: return fail("CLIENT_ERROR invalid mode for ms M token");
  }
  // A CAS makes set and replace a cas; add ignores it; append and
  // prepend check it.
  if (f.has_cas && (mode == StoreMode::kSet || mode == StoreMode::kReplace))
    mode = StoreMode::kCas;
  if (bad_opaque) return fail(kOpaqueTooLong);
  if (!ctx_.store.fits(f.key.size(), f.client_flags,
                       static_cast<std::size_t>(vlen))) {
    c_.add(Counter::store_too_large);
    // Whatever the mode, the old value must not outlive a failed write.
    ctx_.store.remove(f.key, ctx_.now());
    return fail("SERVER_ERROR object too large for cache");
  }
  pending_.meta = true;
  pending_.quiet = f.quiet;
  pending_.mode = mode;
  pending_.key.assign(f.key);
  pending_.flags = f.client_flags;
  pending_.exptime = exptime;
  pending_.cas = f.has_cas ? f.cas : 0;
  pending_.length = static_cast<std::size_t>(vlen);
  pending_.opt = StoreOptions{f.has_new_cas ? f.new_cas : 0,
                              f.invalidate && mode == StoreMode::kCas, vivify,
                              f.key_binary};
  pending_.returns = std::move(returns);
  state_ = State::kData;
}

void Session::complete_meta_set(std::string_view block, std::string& out) {
  c_.add(Counter::cmd_set);
  const std::size_t n = pending_.length;
  if (block[n] != '\r' || block[n + 1] != '\n')
    return error_reply(out, "CLIENT_ERROR bad data chunk");
  StoreOutcome done{0, n};
  const StoreResult r = ctx_.store.store(
      pending_.mode, pending_.key, pending_.flags, pending_.exptime,
      block.substr(0, n), pending_.cas, ctx_.now(), pending_.opt, &done);
  if (pending_.mode == StoreMode::kCas) {
    c_.add(r == StoreResult::kStored   ? Counter::cas_hits
           : r == StoreResult::kExists ? Counter::cas_badval
                                       : Counter::cas_misses);
  }
  std::string line;
  switch (r) {
    case StoreResult::kStored:
      if (pending_.quiet) return;
      line = "HD";
      break;
    case StoreResult::kExists: line = "EX"; break;
    case StoreResult::kNotFound: line = "NF"; break;
    case StoreResult::kNotStored: line = "NS"; break;
    case StoreResult::kTooLarge:
      return error_reply(out, "SERVER_ERROR object too large for cache");
  }
  for (const std::string& ret : pending_.returns) {
    switch (ret[0]) {
      case 'O': append_opaque(line, ret); break;  // length checked in ms
      case 'k': append_key(line, pending_.key, pending_.opt.key_binary); break;
      case 'c':
        append_flag(line, 'c');
        append_number(line, r == StoreResult::kStored ? done.cas : 0);
        break;
      case 's':
        append_flag(line, 's');
        append_number(line, done.size);
        break;
    }
  }
  out.append(line);
  out.append("\r\n");
}

void Session::meta_delete(const std::vector<std::string_view>& t,
                          std::size_t nt, std::string& out) {
  MetaFlags f;
  const std::string_view err = check_request(t, nt, 2, kTooLong, kBadFlag, &f);
  if (!err.empty()) return error_reply(out, err);
  std::string flags;
  if (!append_opaque_and_key(flags, t, nt, f))
    return error_reply(out, kOpaqueTooLong);
  const DeleteOptions opt{.compare_cas = f.has_cas ? f.cas : 0,
                          .has_new_cas = f.has_new_cas,
                          .new_cas = f.new_cas,
                          .invalidate = f.invalidate,
                          .has_ttl = f.has_ttl,
                          .ttl = f.ttl,
                          .remove_value = f.remove_value,
                          .flags = f.client_flags};
  std::string_view code;
  switch (ctx_.store.meta_delete(f.key, ctx_.now(), opt)) {
    case DeleteResult::kDeleted:
      if (!f.invalidate) c_.add(Counter::delete_hits);
      if (f.quiet) return;
      code = "HD";
      break;
    case DeleteResult::kExists:
      c_.add(Counter::delete_misses);
      code = "EX";
      break;
    case DeleteResult::kNotFound:
      c_.add(Counter::delete_misses);
      code = "NF";
      break;
    case DeleteResult::kNotStored: code = "NS"; break;
  }
  out.append(code);
  out.append(flags);
  out.append("\r\n");
}

void Session::meta_arith(const std::vector<std::string_view>& t,
                         std::size_t nt, std::string& out) {
  MetaFlags f;
  const std::string_view err = check_request(t, nt, 2, kTooLong, kBadFlag, &f);
  if (!err.empty()) return error_reply(out, err);
  bool incr = true;
  switch (f.mode) {
    case 0: case 'I': case '+': break;
    case 'D': case '-': incr = false; break;
    default: return error_reply(out, "CLIENT_ERROR invalid mode for ma M token");
  }
  const DeltaOptions opt{.compare_cas = f.has_cas ? f.cas : 0,
                         .has_new_cas = f.has_new_cas,
                         .new_cas = f.new_cas,
                         .vivify = f.vivify,
                         .initial = f.initial};
  const std::int64_t now = ctx_.now();
  std::string value, line;
  bool opaque_error = false;
  const DeltaResult r = ctx_.store.meta_delta(
      f.key, incr, f.delta, now, opt, &value,
      [&](MetaItem& it, bool created) {
        if (f.value) {
          line.append("VA ");
          append_number(line, value.size());
        } else {
          line.append("HD");
        }
        for (std::size_t i = 2; i + 1 < nt; ++i) {
          switch (t[i][0]) {
            case 'c':
              append_flag(line, 'c');
              append_number(line, it.cas());
              break;
            case 't': append_ttl(line, it.exptime(), now); break;
            case 'T': it.set_exptime(f.ttl); break;
            case 'N':
              if (created) it.set_exptime(f.vivify_ttl);
              break;
            case 'O':
              if (!append_opaque(line, t[i])) {
                opaque_error = true;
                return;
              }
              break;
            case 'k': append_key(line, f.key, f.key_binary); break;
          }
        }
        if (f.value) {
          line.append("\r\n");
          line.append(value);
        }
      });
  if (opaque_error) return error_reply(out, kOpaqueTooLong);
  switch (r) {
    case DeltaResult::kOk:
      c_.add(incr ? Counter::incr_hits : Counter::decr_hits);
      if (f.quiet) return;  // q silences a success, its value included
      break;
    case DeltaResult::kCreated: break;
    case DeltaResult::kNonNumeric:
      return error_reply(
          out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
    case DeltaResult::kNotFound:
    case DeltaResult::kExists:
      if (r == DeltaResult::kNotFound)
        c_.add(incr ? Counter::incr_misses : Counter::decr_misses);
      line.assign(r == DeltaResult::kNotFound ? "NF" : "EX");
      if (!append_opaque_and_key(line, t, nt, f))
        return error_reply(out, kOpaqueTooLong);
      break;
  }
  out.append(line);
  out.append("\r\n");
}

}  // namespace kairos::kv
