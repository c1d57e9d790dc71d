#include "config_file.hpp"

#include <toml++/toml.hpp>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

namespace kairos {
namespace {

// Reads one parsed document, checking as it goes; fail() throws with the
// place of the offending node.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(unsigned line, const std::string& what) const {
    throw ConfigFileError(source_ + ":" + std::to_string(line) + ": " + what);
  }
  [[noreturn]] void fail(const toml::node& n, const std::string& what) const {
    fail(line_of(n), what);
  }
  static unsigned line_of(const toml::node& n) { return n.source().begin.line; }

  // Every key of t must be one of known.
  void only(const toml::table& t, const std::string& section,
            std::initializer_list<std::string_view> known) const {
    for (auto&& [key, node] : t) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      fail(key.source().begin.line ? key.source().begin.line : line_of(node),
           "unknown key '" + std::string(key.str()) + "' in " + section + " (expected " +
               list + ")");
    }
  }

  const toml::table* table(const toml::table& parent, std::string_view key,
                           const std::string& name) const {
    const toml::node* n = parent.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(*n, name + " must be a table ([" + name + "])");
    return n->as_table();
  }

  std::optional<long> integer(const toml::table& t, std::string_view key,
                              const std::string& section, long lo, long hi) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const auto v = n->value_exact<std::int64_t>();
    if (!v || !n->is_integer())
      fail(*n, section + " " + std::string(key) + " wants an integer, got " + type(*n));
    if (*v < lo || *v > hi)
      fail(*n, section + " " + std::string(key) + " wants a number in " + std::to_string(lo) +
                   ".." + std::to_string(hi) + ", got " + std::to_string(*v));
    return static_cast<long>(*v);
  }

  std::optional<bool> boolean(const toml::table& t, std::string_view key,
                              const std::string& section) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean())
      fail(*n, section + " " + std::string(key) + " wants true or false, got " + type(*n));
    return n->value<bool>();
  }

  std::optional<std::string> string(const toml::table& t, std::string_view key,
                                    const std::string& section) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_string())
      fail(*n, section + " " + std::string(key) + " wants a string, got " + type(*n));
    std::string s = *n->value<std::string>();
    if (s.find('\0') != std::string::npos)
      fail(*n, section + " " + std::string(key) + " holds a NUL byte");
    return s;
  }

  // A string key that must be present.
  std::string required_string(const toml::table& t, std::string_view key,
                              const std::string& section) const {
    auto s = string(t, key, section);
    if (!s) fail(line_of(t), section + " needs " + std::string(key) + " = \"...\"");
    return *s;
  }

  unsigned line_of_key(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    return n ? line_of(*n) : line_of(t);
  }

  static std::string type(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::table: return "a table";
      case toml::node_type::array: return "an array";
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      case toml::node_type::boolean: return "a boolean";
      default: return "a date or time";
    }
  }

 private:
  const std::string& source_;
};

std::string absolute_path(const Reader& r, const toml::table& t, std::string_view key,
                          const std::string& section, std::optional<std::string> v) {
  if (v && (v->empty() || v->front() != '/'))
    r.fail(r.line_of_key(t, key),
           section + " " + std::string(key) + " wants an absolute path, got '" + *v + "'");
  return v ? *v : std::string();
}

void read_daemon(const Reader& r, const toml::table& t, KairosdConfigFile& c) {
  const std::string s = "[daemon]";
  r.only(t, s, {"scan_interval_ms", "rescan_interval_ms", "stats_interval_ms", "slice_us",
                "lc_slice_us", "cgroup_root", "status_file", "kairos_dev", "backend",
                "cgroup_watch"});
  // The ranges of the matching flags (options.cpp).
  c.scan_interval_ms = r.integer(t, "scan_interval_ms", s, 10, 10000);
  c.rescan_interval_ms = r.integer(t, "rescan_interval_ms", s, 100, 3600000);
  c.stats_interval_ms = r.integer(t, "stats_interval_ms", s, 0, 3600000);
  c.slice_us = r.integer(t, "slice_us", s, 50, 100000);
  c.lc_slice_us = r.integer(t, "lc_slice_us", s, 50, 100000);
  for (auto [key, field] : {std::pair{"cgroup_root", &c.cgroup_root},
                            std::pair{"status_file", &c.status_file},
                            std::pair{"kairos_dev", &c.kairos_dev}})
    if (auto v = r.string(t, key, s)) *field = absolute_path(r, t, key, s, v);
  if (auto b = r.string(t, "backend", s)) {
    c.backend = parse_backend(*b);
    if (!c.backend)
      r.fail(r.line_of_key(t, "backend"),
             "[daemon] backend wants auto, sched_ext or kmod, got '" + *b + "'");
  }
  c.cgroup_watch = r.boolean(t, "cgroup_watch", s);
}

void read_allocator(const Reader& r, const toml::table& t, unsigned nr_cpus,
                    KairosdConfigFile& c) {
  const std::string s = "[allocator]";
  r.only(t, s, {"enabled", "poll_us", "cpu", "power", "rt_priority", "standby"});
  c.allocator_enabled = r.boolean(t, "enabled", s);
  c.standby = r.boolean(t, "standby", s);
  c.poll_us = r.integer(t, "poll_us", s, 1, 1000000);
  c.allocator_cpu = r.integer(t, "cpu", s, 0, nr_cpus > 0 ? nr_cpus - 1 : 0);
  c.rt_priority = r.integer(t, "rt_priority", s, 0, 99);
  if (auto p = r.string(t, "power", s)) {
    if (*p == "auto") c.power = AllocatorOptions::Power::kAuto;
    else if (*p == "low-power") c.power = AllocatorOptions::Power::kLowPower;
    else if (*p == "spin") c.power = AllocatorOptions::Power::kSpin;
    else
      r.fail(r.line_of_key(t, "power"),
             "[allocator] power wants auto, low-power or spin, got '" + *p + "'");
  }
}

void read_guard(const Reader& r, const toml::table& t, KairosdConfigFile& c) {
  const std::string s = "[guard]";
  r.only(t, s, {"quantum_us", "period_us"});
  // The bounds kairosd accepts from kairos.ko (tunables.cpp).
  const auto q = r.integer(t, "quantum_us", s, 1, 10000000);
  const auto p = r.integer(t, "period_us", s, 1, 10000000);
  const std::uint64_t quantum = q ? *q : kDefaultQuantumUs, period = p ? *p : kDefaultPeriodUs;
  if (quantum > period)
    r.fail(r.line_of_key(t, q ? "quantum_us" : "period_us"),
           "[guard] quantum_us (" + std::to_string(quantum) + ") must not exceed period_us (" +
               std::to_string(period) + ")");
  if (q) c.quantum_us = static_cast<std::uint64_t>(*q);
  if (p) c.period_us = static_cast<std::uint64_t>(*p);
}

// class + guaranteed + burstable, as kairosctl annotate takes them; the
// checks that need the machine (cores of all apps, CPU count) are made
// per cgroup by kairosd, which reports what it ignores.
Annotation read_class(const Reader& r, const toml::table& t, const std::string& s) {
  Annotation a;
  const std::string cls = r.required_string(t, "class", s);
  const auto parsed = parse_class(cls);
  if (!parsed) r.fail(r.line_of_key(t, "class"), s + " class wants lc or be, got '" + cls + "'");
  a.cls = *parsed.value;
  const auto g = r.integer(t, "guaranteed", s, 0, 4096);
  const auto b = r.integer(t, "burstable", s, 0, 4096);
  if (a.cls == AppClass::be) {
    if ((g && *g) || (b && *b))
      r.fail(r.line_of_key(t, g && *g ? "guaranteed" : "burstable"),
             s + ": a be app cannot have guaranteed or burstable cores");
    return a;
  }
  a.guaranteed = g ? static_cast<unsigned>(*g) : 0;
  // burstable defaults to max(guaranteed, 1): an LC app may always burst
  // to one core.
  a.burstable = b ? static_cast<unsigned>(*b) : std::max(a.guaranteed, 1u);
  if (a.burstable == 0)
    r.fail(r.line_of_key(t, "burstable"), s + ": an lc app needs burstable of at least 1");
  if (a.burstable < a.guaranteed)
    r.fail(r.line_of_key(t, "burstable"),
           s + ": burstable (" + std::to_string(a.burstable) +
               ") must be at least guaranteed (" + std::to_string(a.guaranteed) + ")");
  return a;
}

void read_rules(const Reader& r, const toml::node& n, KairosdConfigFile& c) {
  if (!n.is_array_of_tables())
    r.fail(n, "rule must be an array of tables ([[rule]])");
  std::map<std::string, unsigned> patterns;
  for (const auto& item : *n.as_array()) {
    const auto& t = *item.as_table();
    const std::string s = "[[rule]]";
    r.only(t, s, {"match", "class", "guaranteed", "burstable"});
    AppRule rule;
    rule.line = Reader::line_of(t);
    rule.pattern = r.required_string(t, "match", s);
    if (const std::string why = check_pattern(rule.pattern); !why.empty())
      r.fail(r.line_of_key(t, "match"), "[[rule]] match '" + rule.pattern + "': " + why);
    if (auto [it, fresh] = patterns.emplace(rule.pattern, r.line_of_key(t, "match")); !fresh)
      r.fail(r.line_of_key(t, "match"), "[[rule]] match '" + rule.pattern +
                                            "' already given on line " +
                                            std::to_string(it->second) +
                                            " (the first rule that matches wins)");
    rule.annotation = read_class(r, t, s);
    c.rules.push_back(std::move(rule));
  }
}

void read_kubernetes(const Reader& r, const toml::table& t, KairosdConfigFile& c) {
  r.only(t, "[kubernetes]", {"enabled", "burstable"});
  c.kubernetes.enabled = r.boolean(t, "enabled", "[kubernetes]").value_or(false);
  if (const auto* b = r.table(t, "burstable", "kubernetes.burstable")) {
    const std::string s = "[kubernetes.burstable]";
    r.only(*b, s, {"class", "guaranteed", "burstable"});
    // class = "none": Burstable pods are left alone (the default).
    if (r.string(*b, "class", s) == std::optional<std::string>("none")) {
      if (b->get("guaranteed") || b->get("burstable"))
        r.fail(*b, s + ": class none takes no cores");
      c.kubernetes.burstable.reset();
    } else {
      c.kubernetes.burstable = read_class(r, *b, s);
    }
  }
}

// A [dataplane] value as a word of the old line format: no whitespace or
// '#' (that format could not hold them, and no valid value has them).
std::string word(const Reader& r, const toml::table& t, std::string_view key,
                 const std::string& s, const std::string& v) {
  if (v.empty() || v.find_first_of(" \t\r\n#") != std::string::npos)
    r.fail(r.line_of_key(t, key), s + " " + std::string(key) +
                                      " must be non-empty, without spaces or '#', got '" + v +
                                      "'");
  return v;
}

void read_dataplane(const Reader& r, const toml::table& t, const std::string& source,
                    KairosdConfigFile& c) {
  const std::string s = "[dataplane]";
  r.only(t, s, {"interface", "queues", "backend", "dpdk_args", "app"});
  dp::ServiceConfigBuilder b(source);
  try {
    if (auto v = r.string(t, "interface", s))
      b.add(r.line_of_key(t, "interface"), {"interface", word(r, t, "interface", s, *v)});
    if (auto q = r.integer(t, "queues", s, 0, 256))
      b.add(r.line_of_key(t, "queues"), {"queues", std::to_string(*q)});
    if (auto v = r.string(t, "backend", s))
      b.add(r.line_of_key(t, "backend"), {"backend", word(r, t, "backend", s, *v)});
    if (const toml::node* n = t.get("dpdk_args")) {
      if (!n->is_array()) r.fail(*n, s + " dpdk_args wants an array of strings");
      for (const auto& a : *n->as_array()) {
        if (!a.is_string()) r.fail(a, s + " dpdk_args wants strings, got " + Reader::type(a));
        const std::string v = *a.value<std::string>();
        if (v.empty() || v.find_first_of(" \t\r\n") != std::string::npos)
          r.fail(a, s + " dpdk_args: one EAL argument per string, without spaces");
        b.add(Reader::line_of(a), {"dpdk-arg", v});
      }
    }
    const toml::node* apps = t.get("app");
    if (!apps || !apps->is_array_of_tables() || apps->as_array()->empty())
      r.fail(apps ? Reader::line_of(*apps) : Reader::line_of(t),
             s + " needs at least one [[dataplane.app]]: nothing to serve");
    if (t.get("backend") == nullptr || *t.get("backend")->value<std::string>() != "kernel")
      if (!t.get("interface"))
        r.fail(t, s + " needs interface = \"...\" (every backend but kernel uses a device)");
    for (const auto& item : *apps->as_array()) {
      const auto& a = *item.as_table();
      const std::string as = "[[dataplane.app]]";
      r.only(a, as, {"listen", "shm", "kthreads", "slots", "cgroup", "mode", "pin", "queues"});
      std::vector<std::string> w{"app", word(r, a, "listen", as, r.required_string(a, "listen", as))};
      for (const char* key : {"shm", "cgroup", "mode", "pin", "queues"})
        if (auto v = r.string(a, key, as)) w.push_back(std::string(key) + "=" + word(r, a, key, as, *v));
      for (const char* key : {"kthreads", "slots"})
        if (auto v = r.integer(a, key, as, 0, 1L << 30))
          w.push_back(std::string(key) + "=" + std::to_string(*v));
      b.add(Reader::line_of(a), w);
    }
    c.dataplane = b.finish();
  } catch (const dp::ConfigError& e) {
    // Already "FILE:LINE: what" (or "FILE: what" for the whole section).
    throw ConfigFileError(e.what());
  }
}

}  // namespace

KairosdConfigFile parse_config_file(std::string_view text, const std::string& source,
                                    unsigned nr_cpus) {
  KairosdConfigFile c;
  c.path = source;
  Reader r(source);
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    r.fail(e.source().begin.line, std::string(e.description()));
  }
  r.only(doc, "the file", {"daemon", "allocator", "guard", "rule", "kubernetes", "dataplane"});
  if (const auto* t = r.table(doc, "daemon", "daemon")) read_daemon(r, *t, c);
  if (const auto* t = r.table(doc, "allocator", "allocator")) read_allocator(r, *t, nr_cpus, c);
  if (const auto* t = r.table(doc, "guard", "guard")) read_guard(r, *t, c);
  if (const toml::node* n = doc.get("rule")) read_rules(r, *n, c);
  if (const auto* t = r.table(doc, "kubernetes", "kubernetes")) read_kubernetes(r, *t, c);
  if (const auto* t = r.table(doc, "dataplane", "dataplane")) read_dataplane(r, *t, source, c);
  return c;
}

KairosdConfigFile load_config_file(const std::string& path, unsigned nr_cpus) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigFileError(path + ": cannot read the configuration file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigFileError(path + ": read error");
  const std::string text = ss.str();
  if (text.size() > (1u << 20)) throw ConfigFileError(path + ": larger than 1 MiB");
  return parse_config_file(text, path, nr_cpus);
}

void apply_config_file(const KairosdConfigFile& f, KairosdCommandLine& cmd) {
  DaemonOptions& d = cmd.daemon;
  if (f.scan_interval_ms) cmd.scan_ms = *f.scan_interval_ms;
  if (f.stats_interval_ms) cmd.stats_ms = *f.stats_interval_ms;
  if (f.rescan_interval_ms) d.rescan_interval_ms = static_cast<unsigned>(*f.rescan_interval_ms);
  if (f.slice_us) d.sched.tunables.be_slice_ns = static_cast<std::uint64_t>(*f.slice_us) * 1000;
  if (f.lc_slice_us)
    d.sched.tunables.lc_slice_ns = static_cast<std::uint64_t>(*f.lc_slice_us) * 1000;
  if (f.cgroup_root) d.cgroup_root = *f.cgroup_root;
  if (f.status_file) d.status_path = *f.status_file;
  if (f.kairos_dev) d.kairos_dev = *f.kairos_dev;
  if (f.backend) d.backend = *f.backend;
  if (f.cgroup_watch) d.watch_cgroups = *f.cgroup_watch;
  if (f.allocator_enabled) d.allocator.enabled = *f.allocator_enabled;
  if (f.poll_us) d.allocator.poll_ns = static_cast<std::uint64_t>(*f.poll_us) * 1000;
  if (f.allocator_cpu) d.allocator.cpu = static_cast<unsigned>(*f.allocator_cpu);
  if (f.rt_priority) d.allocator.rt_priority = static_cast<int>(*f.rt_priority);
  if (f.power) d.allocator.power = *f.power;
  if (f.standby) d.allocator.standby = *f.standby;
  apply_reloadable(f, d);
}

void apply_reloadable(const KairosdConfigFile& f, DaemonOptions& d) {
  d.guard_defaults = GuardTunables{};
  if (f.quantum_us) d.guard_defaults.quantum_us = *f.quantum_us;
  if (f.period_us) d.guard_defaults.period_us = *f.period_us;
  d.rules = f.rules;
  d.kubernetes = f.kubernetes;
}

}  // namespace kairos
