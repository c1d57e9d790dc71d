#include <kairos/relay/service_config.hpp>
#include <kairos/contracts/shm_rings.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

namespace kairos::dp {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  if (auto hash = line.find('#'); hash != std::string_view::npos)
    line = line.substr(0, hash);
  std::vector<std::string_view> w;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') i++;
    if (i > start) w.push_back(line.substr(start, i - start));
  }
  return w;
}

// True when v is one or more '/'-separated parts, none empty, "." or "..",
// whose characters all pass char_ok.
template <typename CharOk>
bool valid_parts(std::string_view v, CharOk char_ok) {
  std::size_t start = 0;
  while (start <= v.size()) {
    std::size_t end = v.find('/', start);
    if (end == std::string_view::npos) end = v.size();
    const std::string_view part = v.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part)
      if (!char_ok(static_cast<unsigned char>(c))) return false;
    start = end + 1;
  }
  return true;
}

// A relative cgroup path: parts of printable characters, no "." / "..".
bool valid_cgroup(std::string_view v) {
  if (v.empty() || v.size() > 4096 || v.front() == '/' || v.back() == '/') return false;
  return valid_parts(v, [](unsigned char c) { return c >= 0x21 && c != 0x7f; });
}

// A pin directory: /sys/fs/bpf/<parts>, parts of [A-Za-z0-9._-], no "."
// or ".." parts (kairosd creates it and removes it again on exit).
bool valid_pin_dir(std::string_view v) {
  constexpr std::string_view root = "/sys/fs/bpf/";
  if (v.size() > 200 || v.substr(0, root.size()) != root || v.back() == '/') return false;
  v.remove_prefix(root.size());
  return valid_parts(v, [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

// queues=LIST of a direct app: "0", "1,3", "0-3", "0-1,4": a bit mask.
// 0 on a syntax error, an empty or reversed range, an id >= kMaxDirectQueue.
std::uint64_t parse_queue_list(std::string_view v) {
  std::uint64_t mask = 0;
  auto num = [](std::string_view t, std::uint32_t& out) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc() && end == t.data() + t.size() && !t.empty() &&
           out < kMaxDirectQueue;
  };
  std::size_t start = 0;
  while (start <= v.size()) {
    std::size_t end = v.find(',', start);
    if (end == std::string_view::npos) end = v.size();
    const std::string_view item = v.substr(start, end - start);
    const auto dash = item.find('-');
    std::uint32_t lo = 0, hi = 0;
    if (dash == std::string_view::npos) {
      if (!num(item, lo)) return 0;
      hi = lo;
    } else if (!num(item.substr(0, dash), lo) || !num(item.substr(dash + 1), hi) || hi < lo) {
      return 0;
    }
    for (std::uint32_t q = lo; q <= hi; q++) mask |= std::uint64_t{1} << q;
    start = end + 1;
  }
  return mask;
}

// The mask of queues 0..n-1 (n <= 64).
std::uint64_t all_queues(std::uint32_t n) {
  return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
}

// The lowest queue id set in both masks.
std::uint32_t first_common(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t both = a & b;
  std::uint32_t q = 0;
  while (!(both >> q & 1)) q++;
  return q;
}

class Parser {
 public:
  explicit Parser(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(unsigned line, const std::string& what) const {
    throw ConfigError(source_ + ":" + std::to_string(line) + ": " + what);
  }
  [[noreturn]] void fail_file(const std::string& what) const {
    throw ConfigError(source_ + ": " + what);
  }

  std::uint32_t number(unsigned line, std::string_view what, std::string_view text,
                       std::uint32_t lo, std::uint32_t hi) const {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
      fail(line, std::string(what) + " wants a number in " + std::to_string(lo) + ".." +
                     std::to_string(hi) + ", got '" + std::string(text) + "'");
    return v;
  }

  // interface, queues, backend: each at most once.
  void once(unsigned line, std::string_view key) {
    auto [it, fresh] = seen_.emplace(std::string(key), line);
    if (!fresh)
      fail(line, "'" + std::string(key) + "' given twice (first on line " +
                     std::to_string(it->second) + ")");
  }

  void parse_line(unsigned line, const std::vector<std::string_view>& w, ServiceConfig& c) {
    const std::string_view key = w[0];
    auto want_one = [&] {
      if (w.size() != 2)
        fail(line, "'" + std::string(key) + "' takes exactly one value");
    };
    if (key == "interface") {
      want_one();
      once(line, key);
      // Linux interface names: 1..15 bytes, no '/' or ':' (IFNAMSIZ).
      if (w[1].size() > 15 || w[1].find_first_of("/:") != std::string_view::npos)
        fail(line, "bad interface name '" + std::string(w[1]) + "'");
      c.ifname = w[1];
    } else if (key == "queues") {
      want_one();
      once(line, key);
      c.queues = number(line, "queues", w[1], 0, 256);
    } else if (key == "backend") {
      want_one();
      once(line, key);
      if (w[1] == "afxdp") c.backend = BackendKind::kAfXdp;
      else if (w[1] == "dpdk") c.backend = BackendKind::kDpdk;
      else if (w[1] == "kernel") c.backend = BackendKind::kKernel;
      else if (w[1] == "auto") c.backend = BackendKind::kAuto;
      else fail(line, "backend wants afxdp, dpdk, kernel or auto, got '" + std::string(w[1]) + "'");
    } else if (key == "dpdk-arg") {
      want_one();
      if (!first_dpdk_arg_) first_dpdk_arg_ = line;
      c.dpdk_args.emplace_back(w[1]);
    } else if (key == "app") {
      c.apps.push_back(parse_app(line, w));
    } else {
      fail(line, "unknown keyword '" + std::string(key) +
                     "' (expected interface, queues, backend, dpdk-arg or app)");
    }
  }

  ServiceAppConfig parse_app(unsigned line, const std::vector<std::string_view>& w) const {
    if (w.size() < 2)
      fail(line, "'app' wants ADDRESS:PORT shm=NAME [kthreads=N] [slots=N] [cgroup=PATH]"
                 " or ADDRESS:PORT mode=direct pin=/sys/fs/bpf/DIR [queues=LIST]");
    ServiceAppConfig a;
    a.line = line;
    auto ep = Endpoint::parse(w[1]);
    if (!ep || ep->port == 0)
      fail(line, "bad app address '" + std::string(w[1]) +
                     "' (want a.b.c.d:port or [v6]:port, port 1..65535)");
    a.listen = *ep;
    std::map<std::string_view, bool> given;
    for (std::size_t i = 2; i < w.size(); i++) {
      const auto eq = w[i].find('=');
      if (eq == std::string_view::npos || eq == 0)
        fail(line, "app option '" + std::string(w[i]) + "' is not KEY=VALUE");
      const std::string_view k = w[i].substr(0, eq), v = w[i].substr(eq + 1);
      if (given[k]) fail(line, "app option '" + std::string(k) + "' given twice");
      given[k] = true;
      if (k == "shm") {
        if (!ShmRegion::valid_name(std::string(v)))
          fail(line, "bad shm name '" + std::string(v) +
                         "' (1..200 of [A-Za-z0-9._-], not starting with '.')");
        a.shm_name = v;
      } else if (k == "kthreads") {
        a.kthreads = number(line, "kthreads", v, 1, KAIROS_DP_MAX_KTHREADS);
      } else if (k == "slots") {
        a.slots = number(line, "slots", v, 2, KAIROS_DP_MAX_SLOTS);
        if (a.slots & (a.slots - 1)) fail(line, "slots must be a power of two");
      } else if (k == "cgroup") {
        if (!valid_cgroup(v))
          fail(line, "bad cgroup '" + std::string(v) +
                         "' (a path under the cgroup root, like kairosctl annotate takes: "
                         "no leading '/', no '.' or '..' parts)");
        a.cgroup = v;
      } else if (k == "mode") {
        if (v == "direct") a.mode = AppMode::kDirect;
        else if (v == "relayed") a.mode = AppMode::kRelayed;
        else fail(line, "mode wants relayed or direct, got '" + std::string(v) + "'");
      } else if (k == "pin") {
        if (!valid_pin_dir(v))
          fail(line, "bad pin directory '" + std::string(v) +
                         "' (want /sys/fs/bpf/DIR, parts of [A-Za-z0-9._-], no '.' or '..')");
        a.pin_dir = v;
      } else if (k == "queues") {
        a.queue_mask = parse_queue_list(v);
        if (!a.queue_mask)
          fail(line, "bad queue list '" + std::string(v) + "' (want ids and ranges below " +
                         std::to_string(kMaxDirectQueue) + ", like 0 or 1,3 or 0-3)");
      } else {
        fail(line, "unknown app option '" + std::string(k) +
                       "' (expected shm, kthreads, slots, cgroup, mode, pin or queues)");
      }
    }
    if (a.mode == AppMode::kDirect) {
      // The app process owns the sockets: none of the ring options apply.
      for (const char* k : {"shm", "kthreads", "slots", "cgroup"})
        if (given[k])
          fail(line, std::string("app option '") + k +
                         "' does not apply to mode=direct (the app owns its queues' sockets)");
      if (a.pin_dir.empty()) fail(line, "mode=direct needs pin=/sys/fs/bpf/DIR");
      return a;
    }
    if (!a.pin_dir.empty()) fail(line, "pin= applies to mode=direct only");
    if (given["queues"])
      fail(line, "queues= applies to mode=direct only (relayed apps share kairosd's sockets "
                 "on the queues no direct app owns)");
    if (a.shm_name.empty()) fail(line, "app needs shm=NAME (its ring region)");
    return a;
  }

  void check_whole(const ServiceConfig& c) const {
    if (c.apps.empty()) fail_file("no 'app' line: nothing to serve");
    std::uint64_t direct_queues = 0;
    for (const auto& a : c.apps) {
      if (a.mode != AppMode::kDirect) continue;
      // The kernel binds one AF_XDP socket per device queue: without
      // queues= the app's process owns every queue of the interface.
      if (!a.queue_mask && c.apps.size() > 1)
        fail(a.line, "a mode=direct app without queues= owns every queue of the interface: "
                     "give it queues=LIST to share the interface with other apps");
      if (c.backend != BackendKind::kAfXdp)
        fail(a.line, std::string("mode=direct needs backend afxdp, not ") +
                         backend_kind_name(c.backend));
      if (c.queues && c.queues < 64 && (a.queue_mask >> c.queues) != 0)
        fail(a.line, "queues= names queue " +
                         std::to_string(first_common(a.queue_mask, ~all_queues(c.queues))) +
                         ", beyond 'queues " + std::to_string(c.queues) + "'");
      direct_queues |= a.queue_mask;
    }
    const bool has_relayed = std::any_of(c.apps.begin(), c.apps.end(),
                                         [](auto& a) { return a.mode == AppMode::kRelayed; });
    if (direct_queues && has_relayed && c.queues && c.queues <= 64 &&
        direct_queues == all_queues(c.queues))
      fail_file("the mode=direct apps own every queue: none is left for kairosd's relayed apps");
    for (std::size_t i = 0; i < c.apps.size(); i++)
      for (std::size_t j = 0; j < i; j++) {
        const auto &a = c.apps[i], &b = c.apps[j];
        if (a.mode == AppMode::kRelayed && b.mode == AppMode::kRelayed &&
            a.shm_name == b.shm_name)
          fail(a.line, "shm name '" + a.shm_name + "' already used on line " +
                           std::to_string(b.line));
        if (a.mode == AppMode::kDirect && b.mode == AppMode::kDirect) {
          if (a.queue_mask & b.queue_mask)
            fail(a.line, "queue " + std::to_string(first_common(a.queue_mask, b.queue_mask)) +
                             " already belongs to the mode=direct app on line " +
                             std::to_string(b.line) + " (one socket per device queue)");
          // Each app's pins go in their own directory, removed on exit.
          const auto nested = [](const std::string& in, const std::string& dir) {
            return in.size() > dir.size() && in.compare(0, dir.size(), dir) == 0 &&
                   in[dir.size()] == '/';
          };
          if (a.pin_dir == b.pin_dir || nested(a.pin_dir, b.pin_dir) ||
              nested(b.pin_dir, a.pin_dir))
            fail(a.line, "pin directory " + a.pin_dir + " collides with " + b.pin_dir +
                             " of the app on line " + std::to_string(b.line));
        }
        // The same port on the same (or a wildcard) address would make the
        // match ambiguous.
        if (a.listen.port == b.listen.port &&
            (a.listen == b.listen || a.listen.is_any() || b.listen.is_any()))
          fail(a.line, "app " + a.listen.str() + " overlaps the app on line " +
                           std::to_string(b.line));
      }
    const bool needs_if = c.backend != BackendKind::kKernel;
    if (needs_if && c.ifname.empty())
      fail_file(std::string("backend ") + backend_kind_name(c.backend) +
                " needs an 'interface' line");
    if (first_dpdk_arg_ && c.backend != BackendKind::kDpdk)
      fail(first_dpdk_arg_, "dpdk-arg given but the backend is not dpdk");
  }

 private:
  const std::string& source_;
  std::map<std::string, unsigned> seen_;
  unsigned first_dpdk_arg_ = 0;
};

}  // namespace

const char* backend_kind_name(BackendKind k) {
  switch (k) {
    case BackendKind::kAfXdp: return "afxdp";
    case BackendKind::kDpdk: return "dpdk";
    case BackendKind::kKernel: return "kernel";
    case BackendKind::kAuto: return "auto";
  }
  return "?";
}

std::vector<std::uint32_t> active_for_grant(unsigned granted, std::uint32_t kthreads) {
  const std::uint32_t n =
      std::max<std::uint32_t>(1, std::min<std::uint32_t>(granted, kthreads));
  std::vector<std::uint32_t> active(n);
  for (std::uint32_t k = 0; k < n; k++) active[k] = k;
  return active;
}

ServiceConfig parse_service_config(std::string_view text, const std::string& source) {
  Parser p(source);
  ServiceConfig c;
  unsigned line = 0;
  while (!text.empty()) {
    line++;
    const auto nl = text.find('\n');
    const std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (l.find('\0') != std::string_view::npos) p.fail(line, "NUL byte in the file");
    const auto w = split_words(l);
    if (!w.empty()) p.parse_line(line, w, c);
  }
  p.check_whole(c);
  return c;
}

struct ServiceConfigBuilder::Impl {
  std::string source;
  Parser parser{source};
  ServiceConfig config;
  explicit Impl(std::string s) : source(std::move(s)) {}
};

ServiceConfigBuilder::ServiceConfigBuilder(std::string source)
    : impl_(std::make_unique<Impl>(std::move(source))) {}

ServiceConfigBuilder::~ServiceConfigBuilder() = default;

void ServiceConfigBuilder::add(unsigned line, const std::vector<std::string>& words) {
  if (words.empty()) return;
  const std::vector<std::string_view> w(words.begin(), words.end());
  impl_->parser.parse_line(line, w, impl_->config);
}

ServiceConfig ServiceConfigBuilder::finish() {
  impl_->parser.check_whole(impl_->config);
  return std::move(impl_->config);
}

ServiceConfig load_service_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the dataplane config");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": read error");
  const std::string text = ss.str();
  if (text.size() > (1u << 20)) throw ConfigError(path + ": larger than 1 MiB");
  return parse_service_config(text, path);
}

}  // namespace kairos::dp
