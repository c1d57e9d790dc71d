// kairos-kv against the real memcached 1.6: the same seeded random
// operations go to both, and every reply is compared. Well-formed
// operations go through libmemcached (return codes, values, flags, CAS
// round trips); the malformed part (bad commands, over-long keys,
// oversized values, bad data chunks, wrong token counts, noreply,
// pipelines, requests split across writes) goes through raw sockets and
// is compared byte for byte, after normalising what legitimately differs
// (CAS ids, stats values, the version string).
#include "kv_server_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <libmemcached/memcached.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace kairos::kv::test {
namespace {

std::vector<std::string> memcached_argv() {
  return {"memcached", "-U", "0", "-m", "64", "-I", "1m", "-t", "2", "-u", "root"};
}
std::vector<std::string> kv_argv() {
  return {KAIROS_KV_BIN, "-U", "0", "-m", "64", "-I", "1m", "-t", "2"};
}

// ---------------------------------------------------------------------------
// libmemcached: the well-formed part.

struct Client {
  memcached_st* m;
  explicit Client(std::uint16_t port) : m(memcached_create(nullptr)) {
    memcached_server_add(m, "127.0.0.1", port);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
  }
  ~Client() { memcached_free(m); }
};

std::string rc_name(memcached_st* m, memcached_return_t rc) {
  return memcached_strerror(m, rc);
}

// One step of the script, run against one server; returns its transcript
// line. The random draws depend only on the seed, never on replies.
class Script {
 public:
  explicit Script(std::uint32_t seed) : rng_(seed) {}

  std::string key() {
    if (pick(40) == 0) return std::string(251, 'L');  // over-long
    return "key" + std::to_string(pick(8));
  }
  std::string value() {
    switch (pick(10)) {
      case 0: case 9: return std::to_string(pick(1000));  // a counter
      case 1: return "18446744073709551615";
      case 2: return "";
      case 3:
        if (pick(8) == 0) return std::string(1048600, 'z');  // too large
        return std::string(pick(5000), 'b');
      default: {
        std::string v(pick(60), 'x');
        for (char& c : v) c = static_cast<char>('a' + pick(26));
        return v;
      }
    }
  }
  std::uint32_t pick(std::uint32_t n) { return n ? rng_() % n : 0; }

 private:
  std::mt19937 rng_;
};

std::string run_step(Script& s, memcached_st* m, std::map<std::string, std::uint64_t>& cas) {
  std::ostringstream t;
  const std::uint32_t op = s.pick(14);
  const std::string k = s.key();
  const std::uint32_t flags = s.pick(3) == 0 ? s.pick(1u << 16) : 0;
  const time_t exp = s.pick(10) == 0 ? -1 : (s.pick(5) == 0 ? 100000 : 0);
  memcached_return_t rc;
  switch (op) {
    case 0: case 1: case 2: case 3: case 4: {
      const std::string v = s.value();
      static const char* names[] = {"set", "add", "replace", "append", "prepend"};
      using Fn = memcached_return_t (*)(memcached_st*, const char*, size_t,
                                        const char*, size_t, time_t, uint32_t);
      static const Fn fns[] = {memcached_set, memcached_add, memcached_replace,
                               memcached_append, memcached_prepend};
      rc = fns[op](m, k.data(), k.size(), v.data(), v.size(), exp, flags);
      t << names[op] << " " << k.substr(0, 8) << " len=" << v.size() << " -> "
        << rc_name(m, rc);
      break;
    }
    case 5: case 6: {
      size_t len = 0;
      uint32_t f = 0;
      char* v = memcached_get(m, k.data(), k.size(), &len, &f, &rc);
      t << "get " << k.substr(0, 8) << " -> " << rc_name(m, rc);
      if (v) {
        t << " flags=" << f << " value=" << std::string(v, len).substr(0, 64)
          << " len=" << len;
        free(v);
      }
      break;
    }
    case 7: {  // gets of several keys; remember the CAS ids
      std::vector<std::string> keys;
      for (std::uint32_t i = 0, n = 1 + s.pick(5); i < n; ++i) keys.push_back(s.key());
      std::vector<const char*> kp;
      std::vector<size_t> kl;
      for (auto& x : keys) {
        kp.push_back(x.data());
        kl.push_back(x.size());
      }
      rc = memcached_mget(m, kp.data(), kl.data(), kp.size());
      t << "mget n=" << keys.size() << " -> " << rc_name(m, rc);
      std::map<std::string, std::string> got;
      if (rc == MEMCACHED_SUCCESS) {
        memcached_result_st* r;
        memcached_return_t frc;
        while ((r = memcached_fetch_result(m, nullptr, &frc)) != nullptr) {
          const std::string kk(memcached_result_key_value(r), memcached_result_key_length(r));
          cas[kk] = memcached_result_cas(r);
          got[kk] = std::to_string(memcached_result_flags(r)) + ":" +
                    std::string(memcached_result_value(r), memcached_result_length(r)).substr(0, 64);
          memcached_result_free(r);
        }
      }
      for (auto& [kk, vv] : got) t << " [" << kk.substr(0, 8) << "=" << vv << "]";
      break;
    }
    case 8: {  // cas with the id last seen (or a stale one)
      // A key whose CAS id was seen (the same key on both servers: the
      // maps hold the same keys while the replies agree).
      std::string ck = k;
      if (!cas.empty() && s.pick(4) != 0) {
        auto it = cas.begin();
        std::advance(it, s.pick(static_cast<std::uint32_t>(cas.size())));
        ck = it->first;
      }
      // gets it first (mostly), so the id is fresh.
      if (s.pick(4) != 0) {
        const char* kp[] = {ck.data()};
        const size_t kl[] = {ck.size()};
        if (memcached_mget(m, kp, kl, 1) == MEMCACHED_SUCCESS) {
          memcached_result_st* r;
          memcached_return_t frc;
          while ((r = memcached_fetch_result(m, nullptr, &frc)) != nullptr) {
            cas[ck] = memcached_result_cas(r);
            memcached_result_free(r);
          }
        }
      }
      const std::string v = s.value();
      const bool stale = s.pick(3) == 0;
      const std::uint64_t id = cas.count(ck) ? cas[ck] : 1;
      rc = memcached_cas(m, ck.data(), ck.size(), v.data(), v.size(), exp, flags,
                         stale ? id + 1000000 : id);
      t << "cas " << ck.substr(0, 8) << (stale ? " stale" : "") << " -> " << rc_name(m, rc);
      break;
    }
    case 9: {
      rc = memcached_delete(m, k.data(), k.size(), 0);
      t << "delete " << k.substr(0, 8) << " -> " << rc_name(m, rc);
      break;
    }
    case 10: case 11: {
      uint64_t out = 0;
      const uint32_t by = s.pick(4) == 0 ? 4000000000u : s.pick(100);
      rc = op == 10 ? memcached_increment(m, k.data(), k.size(), by, &out)
                    : memcached_decrement(m, k.data(), k.size(), by, &out);
      t << (op == 10 ? "incr " : "decr ") << k.substr(0, 8) << " " << by << " -> "
        << rc_name(m, rc);
      if (rc == MEMCACHED_SUCCESS) t << " " << out;
      break;
    }
    case 12: {
      rc = memcached_touch(m, k.data(), k.size(), exp);
      t << "touch " << k.substr(0, 8) << " " << exp << " -> " << rc_name(m, rc);
      break;
    }
    default: {
      if (s.pick(10) == 0) {
        rc = memcached_flush(m, 0);
        t << "flush -> " << rc_name(m, rc);
      } else {
        t << "nop";
      }
      break;
    }
  }
  return t.str();
}

TEST(KvDifferential, LibmemcachedOperationsGiveTheSameResults) {
  ServerProcess ref(memcached_argv());
  ServerProcess kv(kv_argv());
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    Client a(ref.port()), b(kv.port());
    memcached_flush(a.m, 0);
    memcached_flush(b.m, 0);
    Script sa(seed), sb(seed);
    std::map<std::string, std::uint64_t> ca, cb;
    std::map<std::string, int> outcomes;  // the script must reach many paths
    for (int i = 0; i < 600; ++i) {
      const std::string ra = run_step(sa, a.m, ca);
      const std::string rb = run_step(sb, b.m, cb);
      ASSERT_EQ(rb, ra) << "seed " << seed << " step " << i;
      const auto arrow = ra.find(" -> ");
      if (arrow != std::string::npos)
        outcomes[ra.substr(0, ra.find(' ')) + ":" + ra.substr(arrow + 4)]++;
    }
    for (const char* must : {"get:SUCCESS", "get:NOT FOUND", "set:SUCCESS", "add:NOT STORED",
                             "cas:SUCCESS", "cas:CONNECTION DATA EXISTS", "cas:NOT FOUND", "incr:SUCCESS", "decr:SUCCESS", "delete:SUCCESS", "touch:SUCCESS",
                             "incr:CLIENT ERROR", ":ITEM TOO BIG", ":A BAD KEY"})
      EXPECT_TRUE(std::any_of(outcomes.begin(), outcomes.end(),
                              [&](const auto& o) {
                                // ":X": outcome X of any operation
                                return must[0] == ':' ? o.first.find(must) != std::string::npos
                                                      : o.first.starts_with(must);
                              }))
          << must << " never happened for seed " << seed;
    if (HasFailure())
      for (auto& [k, v] : outcomes) std::cerr << k.substr(0, 40) << " = " << v << "\n";
  }
}

// ---------------------------------------------------------------------------
// Raw sockets: the malformed part, byte for byte.

class RawScript {
 public:
  explicit RawScript(std::uint32_t seed) : rng_(seed) {}
  std::uint32_t pick(std::uint32_t n) { return rng_() % n; }
  std::string word(std::size_t n) {
    std::string w(n, 'a');
    for (char& c : w) c = static_cast<char>('a' + pick(26));
    return w;
  }
  std::string key() {
    switch (pick(12)) {
      case 0: return std::string(251, 'K');
      case 1: return std::string(250, 'K');
      default: return "k" + std::to_string(pick(12));
    }
  }
  std::string num() {
    static const char* odd[] = {"-1", "abc", "1.5", "4294967296", "2147483648",
                                "01", "", "18446744073709551616", "+5", " 7"};
    if (pick(5) == 0) return odd[pick(10)];
    return std::to_string(pick(100));
  }
  // An exptime whose outcome does not depend on when the second ticks
  // (the two servers' clocks tick at different moments): never, expired
  // at once, far away, or malformed.
  std::string exptime() {
    static const char* e[] = {"0", "-1", "1000", "100000", "abc", "1.5", "2147483648",
                              "4294967296", "", "-100"};
    return e[pick(10)];
  }
  std::string noreply() { return pick(5) == 0 ? " noreply" : ""; }

  // One self-contained request (it never leaves the server waiting for
  // bytes that are not sent).
  std::string request() {
    static const char* store_cmds[] = {"set", "add", "replace", "append", "prepend", "cas"};
    switch (pick(16)) {
      case 0: case 1: case 2: case 3: {  // storage command, maybe broken
        const std::string cmd = store_cmds[pick(6)];
        std::string v = pick(4) == 0 ? std::to_string(pick(50)) : word(pick(40));
        const std::string k = key();
        std::string line = cmd + " " + k + " " + std::to_string(pick(3) ? 0 : pick(100000)) +
                           " " + (pick(8) == 0 ? "-1" : "0") + " " + std::to_string(v.size());
        if (cmd == "cas") line += " " + std::to_string(pick(40));
        line += noreply();
        switch (pick(8)) {
          case 0:  // bad data chunk: the announced length + 2 bytes, wrong end
            return line + "\r\n" + v + word(2) + "\r\n";
          case 1:  // bad token in the command line: the data becomes a command
            return cmd + " " + k + " " + num() + " " + exptime() + " " +
                   std::to_string(v.size()) + noreply() + "\r\n" + v + "\r\n";
          case 2:  // too large: swallowed
            if (pick(6) == 0) {
              const std::string big(1048600, 'q');
              return cmd + " k" + std::to_string(pick(12)) + " 0 0 " +
                     std::to_string(big.size()) + (cmd == "cas" ? " 1" : "") + noreply() +
                     "\r\n" + big + "\r\n";
            }
            return line + "\r\n" + v + "\r\n";
          case 3:  // too many or too few tokens
            return cmd + " " + k + (pick(2) ? " 0 0" : " 0 0 1 2 3 4 5 6") + "\r\n" + v + "\r\n";
          default:
            return line + "\r\n" + v + "\r\n";
        }
      }
      case 4: case 5: {
        std::string line = pick(4) == 0 ? "gets" : (pick(6) == 0 ? "bget" : "get");
        if (pick(6) == 0) line = (pick(2) ? "gat " : "gats ") + exptime();
        for (std::uint32_t i = 0, n = pick(5); i < n; ++i) line += " " + key();
        if (pick(10) == 0) line += "  ";
        return line + "\r\n";
      }
      case 6:
        return (pick(2) ? "incr " : "decr ") + key() + " " + num() + noreply() +
               (pick(10) == 0 ? " extra" : "") + "\r\n";
      case 7: {
        std::string line = "delete " + key();
        switch (pick(5)) {
          case 0: line += " 0"; break;
          case 1: line += " " + num(); break;
          case 2: line += " 0 noreply"; break;
          default: break;
        }
        return line + noreply() + "\r\n";
      }
      case 8:
        return "touch " + key() + " " + exptime() + noreply() + "\r\n";
      case 9: {
        static const char* lines[] = {"flush_all", "flush_all 0", "flush_all noreply",
                                      "flush_all x", "flush_all 0 noreply", "version",
                                      "verbosity 1", "verbosity", "verbosity x noreply",
                                      "stats", "stats bogus", "stats detail", "shutdown",
                                      "verbosity 1 2 3", "stats reset"};
        return std::string(lines[pick(15)]) + "\r\n";
      }
      case 10:  // unknown or malformed command lines
        switch (pick(6)) {
          case 0: return "\r\n";
          case 1: return word(1 + pick(10)) + "\r\n";
          case 2: return "   \r\n";
          case 3: return "GET k1\r\n";
          case 4: return word(3) + " " + word(3) + " noreply\r\n";
          default: return "set\r\n";
        }
      case 11:  // bare LF line ends
        return "set " + key() + " 0 0 1\nz\r\nget " + key() + "\n";
      default: {
        const std::string k = key();
        const std::string v = std::to_string(pick(1000));
        return "set " + k + " " + std::to_string(pick(5)) + " 0 " + std::to_string(v.size()) +
               "\r\n" + v + "\r\n";
      }
    }
  }

  // One meta request (mg, ms, md, ma, mn), well-formed or not. Keys
  // collide on purpose (k0..k5, and the same keys base64-encoded); CAS
  // values come from E tokens the script chose, so C can match; TTLs are
  // far from any second boundary.
  std::string meta_request() {
    static const char* b64[] = {"azA=", "azE=", "azI=", "AQIgeA==", "a", "====", "!!"};
    const bool binary = pick(5) == 0;
    std::string key = binary ? b64[pick(7)] : (pick(20) == 0 ? std::string(251, 'K')
                                                             : "k" + std::to_string(pick(6)));
    static const char* ttls[] = {"0", "-1", "1000", "100000", "abc", ""};
    auto ttl = [&] { return std::string(ttls[pick(6)]); };
    auto cas = [&] { return std::to_string(100 + pick(4)); };
    std::vector<std::string> pool;
    std::string cmd;
    switch (pick(9)) {
      case 0: case 1: case 2:
        cmd = "mg";
        pool = {"v", "k", "s", "t", "c", "f", "h", "l", "q", "u", "Oop" + word(3),
                "T" + ttl(), "N" + ttl(), "R" + (pick(2) ? std::string("30") : "2000"),
                "E" + cas(), "v"};
        break;
      case 3: case 4:
        cmd = "ms";
        pool = {"c", "k", "s", "q", "O" + word(2), "T" + ttl(), "F" + num(), "C" + cas(),
                "E" + cas(), "I", "M" + std::string(1, "SEAPRX"[pick(6)]), "N" + ttl()};
        break;
      case 5:
        cmd = "md";
        pool = {"q", "C" + cas(), "E" + cas(), "I", "T" + ttl(), "x", "k", "O" + word(2),
                "F" + num()};
        break;
      case 6: case 7:
        cmd = "ma";
        pool = {"q", "C" + cas(), "E" + cas(), "N" + ttl(), "J" + num(), "D" + num(), "T" + ttl(),
                "M" + std::string(1, "I+D-x"[pick(5)]), "t", "c", "v", "k", "O" + word(2)};
        break;
      default:
        return pick(2) ? "mn\r\n" : (pick(2) ? "mz k1\r\n" : "mg\r\n");
    }
    std::string line = cmd + " " + key;
    std::string value;
    if (cmd == "ms") {
      value = pick(3) == 0 ? std::to_string(pick(30)) : word(pick(12));
      switch (pick(12)) {
        case 0: line += " abc"; break;  // the value becomes a command
        case 1:  // a bad chunk: two bytes where its CRLF should be
          line += " " + std::to_string(value.size());
          value += word(2);
          break;
        case 2:
          if (pick(4) == 0) {
            // Too large: swallowed, the old value gone. Only where the
            // line itself is sound, or the value would become a command.
            value.assign(1048600, 'q');
            line = "ms k" + std::to_string(pick(6));
          }
          line += " " + std::to_string(value.size());
          break;
        default: line += " " + std::to_string(value.size()); break;
      }
    }
    const bool huge = value.size() > 4096;
    if (binary && !huge) line += " b";
    for (std::uint32_t i = 0, n = pick(5); i < n; ++i) line += " " + pool[pick(pool.size())];
    switch (huge ? 13 : pick(14)) {  // one malformed flag now and then
      case 0: line += " z"; break;
      case 1: line += " O" + std::string(33, 'o'); break;
      case 2: line += " O" + std::string(31, 'o'); break;
      case 3: line += " \x80"; break;
      case 4: line += " Mxy"; break;
      case 5: line += " Tx"; break;
      case 6: line += " Cx"; break;
      case 7:
        for (int i = 0; i < 19; ++i) line += " k";
        break;
      default: break;
    }
    line += "\r\n";
    if (cmd == "ms") line += value + "\r\n";
    return line;
  }

 private:
  std::mt19937 rng_;
};

// A meta reply's flags that legitimately differ: CAS ids (c), seconds left
// (t, unless -1) and seconds since the last access (l).
// me's line: the numbers that differ between the servers (CAS ids, the
// item's size, seconds that may straddle a tick) blanked; the key, a TTL
// of -1 and fetch= stay.
std::string normalise_debug_line(const std::string& line) {
  std::istringstream in(line);
  std::string w, out;
  while (in >> w) {
    if (!out.empty()) out += ' ';
    for (const char* k : {"cas=", "size=", "la=", "exp="})
      if (w.starts_with(k) && w != "exp=-1") w = std::string(k) + "<n>";
    out += w;
  }
  return out;
}

std::string normalise_meta_line(const std::string& line) {
  std::istringstream in(line);
  std::string w, out;
  while (in >> w) {
    if (!out.empty()) out += ' ';
    if (w.size() > 1 && w[0] == 'c' && std::isdigit(static_cast<unsigned char>(w[1]))) w = "c<cas>";
    else if (w.size() > 1 && w[0] == 't' && w != "t-1" && std::isdigit(static_cast<unsigned char>(w[1]))) w = "t<ttl>";
    else if (w.size() > 1 && w[0] == 'l' && std::isdigit(static_cast<unsigned char>(w[1]))) w = "l<la>";
    out += w;
  }
  return out;
}

// CAS ids differ between servers, stats values and the version string
// too: blank them. Every other byte stays.
std::string normalise(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t e = s.find("\r\n", i);
    if (e == std::string::npos) e = s.size();
    std::string line = s.substr(i, e - i);
    i = std::min(s.size(), e + 2);
    if (line.starts_with("STAT ")) continue;
    if (line.starts_with("VERSION ")) line = "VERSION <v>";
    static const char* meta[] = {"HD", "EN", "NF", "NS", "EX", "VA "};
    if (std::any_of(std::begin(meta), std::end(meta),
                    [&](const char* m) { return line.starts_with(m); }))
      line = normalise_meta_line(line);
    if (line.starts_with("ME ")) line = normalise_debug_line(line);
    if (line.starts_with("VA ")) {
      // VA bytes flags...: the payload follows.
      out += line + "\r\n";
      const std::size_t n = std::stoul(line.substr(3));
      out += s.substr(i, n + 2);
      i += n + 2;
      continue;
    }
    if (line.starts_with("VALUE ")) {
      // VALUE key flags bytes [cas]: keep the payload aligned.
      std::istringstream in(line);
      std::string w, key, flags, bytes, cas;
      in >> w >> key >> flags >> bytes >> cas;
      if (!cas.empty()) line = "VALUE " + key + " " + flags + " " + bytes + " <cas>";
      out += line + "\r\n";
      const std::size_t n = std::stoul(bytes);
      out += s.substr(i, n + 2);
      i += n + 2;
      continue;
    }
    out += line + "\r\n";
  }
  return out;
}

std::size_t count_line_starts(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = 0; (i = s.find(what, i)) != std::string::npos; ++i)
    if (i == 0 || s[i - 1] == '\n') ++n;
  return n;
}

// Sends one batch plus a trailing "version" and reads the replies up to
// that VERSION line (counting the batch's own version requests).
std::string exchange(RawClient& c, const std::string& batch, RawScript& split) {
  const std::string all = batch + "version\r\n";
  const std::size_t versions = count_line_starts(all, "version\r\n");
  if (split.pick(4) == 0) {
    // Split at a random point, the second part sent once the server has
    // read the first: requests across reads.
    const std::size_t at = split.pick(static_cast<std::uint32_t>(all.size()));
    c.send(all.substr(0, at));
    // The server must read the first part on its own: how memcached
    // answers a bad line depends on where its reads end. A fixed pause
    // is not enough on a loaded host.
    if (!c.wait_server_read()) ADD_FAILURE() << "the server did not read the first part";
    c.send(all.substr(at));
  } else {
    c.send(all);
  }
  std::string got;
  while (!(got.ends_with("\r\n") && count_line_starts(got, "VERSION ") >= versions)) {
    if (!c.read_some(&got)) {
      ADD_FAILURE() << "no complete reply to batch:\n" << batch.substr(0, 2000)
                    << "\ngot:\n" << got.substr(0, 2000);
      return got;
    }
  }
  return got;
}

// Runs batches of script requests against both servers from a flushed
// start, one script per seed, and requires the same bytes back.
template <typename Request>
void compare_batches(RawClient& a, RawClient& b, std::uint32_t seed, int batches,
                     Request request) {
  a.send("flush_all\r\n");
  b.send("flush_all\r\n");
  std::string ga, gb;
  ASSERT_TRUE(a.read_until_tail("OK\r\n", &ga));
  ASSERT_TRUE(b.read_until_tail("OK\r\n", &gb));
  RawScript s(seed), split_a(seed * 7), split_b(seed * 7);
  for (int batch = 0; batch < batches; ++batch) {
    std::string reqs;
    for (std::uint32_t i = 0, n = 1 + s.pick(6); i < n; ++i) reqs += request(s);
    const std::string ra = normalise(exchange(a, reqs, split_a));
    const std::string rb = normalise(exchange(b, reqs, split_b));
    ASSERT_EQ(rb, ra) << "seed " << seed << " batch " << batch << " requests:\n"
                      << reqs.substr(0, 3000);
  }
}

TEST(KvDifferential, RawRequestsIncludingBadInputGiveTheSameBytes) {
  ServerProcess ref(memcached_argv());
  ServerProcess kv(kv_argv());
  for (std::uint32_t seed : {11u, 12u, 13u, 14u}) {
    RawClient a(ref.port()), b(kv.port());
    compare_batches(a, b, seed, 150, [](RawScript& s) { return s.request(); });
    if (HasFatalFailure()) return;
    // quit closes both, after the replies before it.
    a.send("get k1\r\nquit\r\n");
    b.send("get k1\r\nquit\r\n");
    std::string ea, eb;
    EXPECT_TRUE(a.read_to_eof(&ea));
    EXPECT_TRUE(b.read_to_eof(&eb));
    EXPECT_EQ(ea, eb);
  }
}

// The meta protocol (mg/ms/md/ma/mn), mixed with classic requests on the
// same keys: stale and win tokens, vivify, base64 keys, CAS from E, q,
// and its error replies, byte for byte.
TEST(KvDifferential, MetaRequestsGiveTheSameBytes) {
  ServerProcess ref(memcached_argv());
  ServerProcess kv(kv_argv());
  for (std::uint32_t seed : {21u, 22u, 23u, 24u}) {
    RawClient a(ref.port()), b(kv.port());
    compare_batches(a, b, seed, 200, [](RawScript& s) {
      return s.pick(5) == 0 ? s.request() : s.meta_request();
    });
    if (HasFatalFailure()) return;
  }
}

// me (meta debug) on the same items: the same lines but for the numbers
// that differ between the servers (normalise_debug_line), and me counts as
// no access (fetch= stays no until a get).
TEST(KvDifferential, MetaDebugGivesTheSameLinesButItsNumbers) {
  ServerProcess ref(memcached_argv());
  ServerProcess kv(kv_argv());
  RawClient a(ref.port()), b(kv.port());
  const std::vector<std::string> reqs = {
      "set k 5 0 2\r\nhi\r\n", "me k\r\n", "me k\r\n", "get k\r\n", "me k\r\n",
      "set t 0 100 3\r\nabc\r\n", "me t\r\n", "me nokey\r\n", "me\r\n", "me k b\r\n",
      "me aw== b\r\n", "me " + std::string(251, 'K') + "\r\n", "me k q\r\n", "me k x T9\r\n",
      "ms AQIgeA== 1 b\r\nz\r\n", "me AQIgeA== b\r\n", "delete k\r\n", "me k\r\n"};
  RawScript split_a(5), split_b(5);
  for (const std::string& req : reqs) {
    const std::string ra = normalise(exchange(a, req, split_a));
    const std::string rb = normalise(exchange(b, req, split_b));
    EXPECT_EQ(rb, ra) << req.substr(0, 40);
  }
}

TEST(KvDifferential, LongLineWithoutNewlineClosesBoth) {
  ServerProcess ref(memcached_argv());
  ServerProcess kv(kv_argv());
  RawClient a(ref.port()), b(kv.port());
  const std::string junk = "version\r\nset " + std::string(251, 'K') + " 0 0 1\r\n" +
                           std::string(5000, 'q');
  a.send(junk);
  b.send(junk);
  std::string ea, eb;
  EXPECT_TRUE(a.read_to_eof(&ea));
  EXPECT_TRUE(b.read_to_eof(&eb));
  EXPECT_EQ(eb, ea);
}

TEST(KvDifferential, StatsNamesAreMemcachedsNames) {
  ServerProcess ref(memcached_argv());
  ServerProcess kv(kv_argv());
  RawClient a(ref.port()), b(kv.port());
  std::string ga, gb;
  a.send("stats\r\n");
  b.send("stats\r\n");
  ASSERT_TRUE(a.read_until_tail("END\r\n", &ga));
  ASSERT_TRUE(b.read_until_tail("END\r\n", &gb));
  auto names = [](const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line))
      if (line.starts_with("STAT ")) v.push_back(line.substr(5, line.find(' ', 5) - 5));
    return v;
  };
  const auto na = names(ga), nb = names(gb);
  for (const char* must : {"pid", "uptime", "time", "version", "curr_items", "total_items",
                           "bytes", "curr_connections", "total_connections", "cmd_get",
                           "cmd_set", "get_hits", "get_misses", "evictions",
                           "limit_maxbytes", "threads"})
    EXPECT_NE(std::find(nb.begin(), nb.end(), must), nb.end()) << must;
  for (const auto& n : nb)
    EXPECT_NE(std::find(na.begin(), na.end(), n), na.end()) << n << " is not a memcached stat";
}

// A fresh socket per request; every datagram until the server is quiet,
// so that a stray one shows. Every request here has a reply: wait long
// for its first datagram (a loaded host may not run the server for a
// while), not for more.
UdpReply udp_request(std::uint16_t port, std::uint16_t id, const std::string& req) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  UdpReply r;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
    r = udp_exchange(fd, id, req, std::chrono::milliseconds(5000),
                     std::chrono::milliseconds(150), false);
  close(fd);
  return r;
}

// memcached's UDP protocol: the same requests, framed, to both; replies
// compared by their joined payloads (where a reply is cut into datagrams
// is each server's own: memcached also sends the parts of one multi-get
// as separate messages). Request datagrams stay small: the runtime's UDP
// path takes datagrams up to its slot size, memcached's up to 64 KiB.
TEST(KvDifferential, UdpRepliesMatch) {
  const std::uint16_t mu = free_port(), ku = free_port();
  std::vector<std::string> margv = {"memcached", "-U", std::to_string(mu), "-m", "64", "-t", "2",
                                    "-u", "root"};
  std::vector<std::string> kargv = {KAIROS_KV_BIN, "-U", std::to_string(ku), "-m", "64", "-t", "2"};
  ServerProcess ref(margv);
  ServerProcess kv(kargv);
  // A value that needs several datagrams, stored over TCP.
  for (std::uint16_t port : {ref.port(), kv.port()}) {
    RawClient c(port);
    std::string got;
    c.send("set big 7 0 5000\r\n" + std::string(5000, 'v') + "\r\n");
    ASSERT_TRUE(c.read_until_tail("STORED\r\n", &got));
  }
  const std::vector<std::string> reqs = {
      "set a 0 0 3\r\nabc\r\n", "get a\r\n", "get a zz a\r\n", "bogus\r\n",
      "get big a\r\n", "incr a 1\r\n", "set n 0 0 1\r\n5\r\n", "incr n 10\r\n",
      "delete a\r\n", "get a\r\n", "set x 0 0 1 noreply\r\ny\r\nget x\r\n",
      "set a 0 0 3\r\nabcde\r\n", "version\r\n",
      // meta commands: the same engine over UDP
      "ms m 2 T0 F3 k s\r\nhi\r\n", "mg m v k f t\r\n", "mg big s v\r\n",
      "ma cnt N0 J5 v\r\n", "md m k\r\n", "mg m k O9\r\n", "mn\r\n", "mg m z\r\n"};
  std::uint16_t id = 100;
  for (const auto& req : reqs) {
    const UdpReply ra = udp_request(mu, id, req), rb = udp_request(ku, id, req);
    ASSERT_FALSE(rb.ids.empty()) << "no reply to " << req;
    for (auto x : rb.ids) EXPECT_EQ(x, id);
    if (req.starts_with("version"))
      EXPECT_TRUE(rb.payload.starts_with("VERSION ")) << rb.payload;
    else
      EXPECT_EQ(rb.payload, ra.payload) << req.substr(0, 40);
    // kairos-kv numbers one reply's datagrams 0..total-1.
    std::vector<std::uint16_t> want(rb.total);
    for (std::uint16_t i = 0; i < rb.total; ++i) want[i] = i;
    EXPECT_EQ(rb.seqs, want) << req.substr(0, 40);
    ++id;
  }
  const UdpReply big = udp_request(ku, 7, "get big\r\n");
  EXPECT_GT(big.total, 3);
  EXPECT_EQ(big.payload, "VALUE big 7 5000\r\n" + std::string(5000, 'v') + "\r\nEND\r\n");
}

TEST(KvDifferential, StopsCleanlyOnSigterm) {
  ServerProcess kv(kv_argv());
  RawClient idle(kv.port());  // an open connection must not hold it up
  EXPECT_EQ(kv.stop(), 0);
}

}  // namespace
}  // namespace kairos::kv::test
