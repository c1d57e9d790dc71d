#include "sim_config.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace kairos::sim {

double ServiceSpec::mean_ns() const {
  return kind == Kind::kBimodal ? p * a_ns + (1 - p) * b_ns : a_ns;
}

std::string ServiceSpec::describe() const {
  std::ostringstream o;
  switch (kind) {
    case Kind::kConst: o << "const:" << a_ns / 1000 << "us"; break;
    case Kind::kExp: o << "exp:" << a_ns / 1000 << "us"; break;
    case Kind::kBimodal:
      o << "bimodal:" << p << ":" << a_ns / 1000 << "us:" << b_ns / 1000 << "us";
      break;
  }
  return o.str();
}

namespace {

std::optional<double> parse_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parse_uint(const std::string& s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    return std::nullopt;
  return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

std::optional<Nanos> parse_duration(const std::string& s) {
  static const std::pair<const char*, double> units[] = {
      {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  for (const auto& [u, mult] : units) {
    const std::string suf(u);
    if (s.size() > suf.size() && s.ends_with(suf)) {
      // "ms" also ends with "s": only accept a numeric prefix.
      auto v = parse_double(s.substr(0, s.size() - suf.size()));
      if (!v) continue;
      if (*v < 0 || *v * mult > 1e15) return std::nullopt;
      return static_cast<Nanos>(std::llround(*v * mult));
    }
  }
  auto v = parse_uint(s);
  if (v && *v <= 1'000'000'000'000'000ull) return v;
  return std::nullopt;
}

std::optional<ServiceSpec> parse_service(const std::string& s, std::string* err) {
  auto fail = [&](const std::string& why) -> std::optional<ServiceSpec> {
    *err = "--service '" + s + "': " + why +
           " (expected exp:MEAN, const:MEAN or bimodal:P:A:B, e.g. exp:10us)";
    return std::nullopt;
  };
  const auto parts = split(s, ':');
  ServiceSpec sp;
  auto positive = [](std::optional<Nanos> d) { return d && *d > 0; };
  if ((parts[0] == "exp" || parts[0] == "const") && parts.size() == 2) {
    auto d = parse_duration(parts[1]);
    if (!positive(d)) return fail("mean must be a positive duration");
    sp.kind = parts[0] == "exp" ? ServiceSpec::Kind::kExp : ServiceSpec::Kind::kConst;
    sp.a_ns = static_cast<double>(*d);
    return sp;
  }
  if (parts[0] == "bimodal" && parts.size() == 4) {
    auto p = parse_double(parts[1]);
    auto a = parse_duration(parts[2]);
    auto b = parse_duration(parts[3]);
    if (!p || *p <= 0 || *p >= 1) return fail("P must be in (0, 1)");
    if (!positive(a) || !positive(b)) return fail("A and B must be positive durations");
    sp.kind = ServiceSpec::Kind::kBimodal;
    sp.p = *p;
    sp.a_ns = static_cast<double>(*a);
    sp.b_ns = static_cast<double>(*b);
    return sp;
  }
  return fail("unknown form");
}

const char* usage() {
  return R"(usage: kairos-sim [FLAGS]
Discrete-event simulation of Kairos core allocation, driving the real
allocator policy (kairosd/allocator). Prints one CSV row per load.

  --cores N            cores of the machine, 1..256 (default 16)
  --load L[,L...]      LC load as a fraction of all cores, each in (0, 1)
  --service SPEC       exp:MEAN | const:MEAN | bimodal:P:A:B (default exp:10us)
  --mode M             policy (allocator grants cores) | static (fixed cores)
  --interval DUR       allocator poll interval (default 5us; e.g. 100ms)
  --park-spin DUR      idle spin of a kthread before it parks (default 2us)
  --wake-latency DUR   grant until the kthread runs (default 1us)
  --queues Q           single | partitioned | stealing (default stealing)
  --static-cores N     cores of the static partition (default: all)
  --apps N             LC apps sharing the load, 1..16 (default 1)
  --app-kind K         runtime (per-kthread queue lines) | unmodified
                       (one BPF-side queue per app; implies --queues single)
  --guaranteed N       guaranteed cores per app (default 0)
  --burstable N        burstable cores per app (default: the rest)
  --grants-per-poll N  most cores one app gains per poll (default 1)
  --smt on|off         cores 2k and 2k+1 are hyperthread siblings (default on)
  --be on|off          best-effort work on every free core (default on)
  --duration DUR       simulated time per load (default 200ms)
  --warmup DUR         not measured, at the start (default 20ms)
  --seed N             random seed (default 1)
  --label TEXT         first CSV column (default: derived from the flags)
  --no-header          omit the CSV header line
DUR is a number with ns, us, ms or s.
)";
}

std::optional<std::string> parse_args(int argc, const char* const* argv,
                                      SimConfig& cfg, bool* help) {
  *help = false;
  std::optional<unsigned> static_cores;
  bool queues_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      *help = true;
      return std::nullopt;
    }
    if (flag == "--no-header") {
      cfg.header = false;
      continue;
    }
    if (!flag.starts_with("--")) return "unexpected argument '" + flag + "'";
    if (i + 1 >= argc) return flag + " needs a value";
    const std::string v = argv[++i];
    auto uint_in = [&](unsigned lo, unsigned hi) -> std::optional<unsigned> {
      auto n = parse_uint(v);
      if (!n || *n < lo || *n > hi) return std::nullopt;
      return static_cast<unsigned>(*n);
    };
    auto range_err = [&](unsigned lo, unsigned hi) {
      return flag + " must be an integer in " + std::to_string(lo) + ".." +
             std::to_string(hi) + ", got '" + v + "'";
    };
    auto dur_err = [&] {
      return flag + " must be a duration like 5us or 100ms, got '" + v + "'";
    };
    auto on_off = [&](bool& out) -> std::optional<std::string> {
      if (v == "on") out = true;
      else if (v == "off") out = false;
      else return flag + " must be on or off, got '" + v + "'";
      return std::nullopt;
    };
    if (flag == "--cores") {
      auto n = uint_in(1, 256);
      if (!n) return range_err(1, 256);
      cfg.cores = *n;
    } else if (flag == "--load") {
      cfg.loads.clear();
      for (const auto& part : split(v, ',')) {
        auto l = parse_double(part);
        if (!l || *l <= 0 || *l >= 1)
          return "--load values must be numbers in (0, 1), got '" + part + "'";
        cfg.loads.push_back(*l);
      }
    } else if (flag == "--service") {
      std::string err;
      auto s = parse_service(v, &err);
      if (!s) return err;
      cfg.service = *s;
    } else if (flag == "--mode") {
      if (v == "policy") cfg.mode = Mode::kPolicy;
      else if (v == "static") cfg.mode = Mode::kStatic;
      else return "--mode must be policy or static, got '" + v + "'";
    } else if (flag == "--queues") {
      queues_set = true;
      if (v == "single") cfg.queues = Queues::kSingle;
      else if (v == "partitioned") cfg.queues = Queues::kPartitioned;
      else if (v == "stealing") cfg.queues = Queues::kStealing;
      else return "--queues must be single, partitioned or stealing, got '" + v + "'";
    } else if (flag == "--interval" || flag == "--park-spin" ||
               flag == "--wake-latency" || flag == "--duration" ||
               flag == "--warmup") {
      auto d = parse_duration(v);
      if (!d) return dur_err();
      if (flag == "--interval") {
        if (*d < 100 || *d > 10'000'000'000ull)
          return "--interval must be between 100ns and 10s, got '" + v + "'";
        cfg.interval_ns = *d;
      } else if (flag == "--park-spin") {
        cfg.park_spin_ns = *d;
      } else if (flag == "--wake-latency") {
        cfg.wake_latency_ns = *d;
      } else if (flag == "--duration") {
        if (*d == 0 || *d > 100'000'000'000ull)
          return "--duration must be between 1ns and 100s, got '" + v + "'";
        cfg.duration_ns = *d;
      } else {
        cfg.warmup_ns = *d;
      }
    } else if (flag == "--app-kind") {
      if (v == "runtime") cfg.unmodified = false;
      else if (v == "unmodified") cfg.unmodified = true;
      else return "--app-kind must be runtime or unmodified, got '" + v + "'";
    } else if (flag == "--static-cores") {
      auto n = uint_in(1, 256);
      if (!n) return range_err(1, 256);
      static_cores = *n;
    } else if (flag == "--apps") {
      auto n = uint_in(1, 16);
      if (!n) return range_err(1, 16);
      cfg.apps = *n;
    } else if (flag == "--guaranteed") {
      auto n = uint_in(0, 256);
      if (!n) return range_err(0, 256);
      cfg.guaranteed = *n;
    } else if (flag == "--burstable") {
      auto n = uint_in(0, 256);
      if (!n) return range_err(0, 256);
      cfg.burstable = *n;
    } else if (flag == "--grants-per-poll") {
      auto n = uint_in(1, 256);
      if (!n) return range_err(1, 256);
      cfg.grants_per_poll = *n;
    } else if (flag == "--seed") {
      auto n = parse_uint(v);
      if (!n) return "--seed must be a non-negative integer, got '" + v + "'";
      cfg.seed = *n;
    } else if (flag == "--smt") {
      if (auto e = on_off(cfg.smt)) return e;
    } else if (flag == "--be") {
      if (auto e = on_off(cfg.be)) return e;
    } else if (flag == "--label") {
      if (v.find_first_of(",\n\"") != std::string::npos)
        return "--label must not contain commas, quotes or newlines";
      cfg.label = v;
    } else {
      return "unknown flag '" + flag + "' (see --help)";
    }
  }
  // Cross-flag checks.
  if (cfg.warmup_ns >= cfg.duration_ns)
    return "--warmup must be shorter than --duration";
  if (cfg.smt && cfg.cores % 2 != 0) cfg.smt = false;  // odd count: no pairs
  if (static_cores) {
    if (*static_cores > cfg.cores)
      return "--static-cores (" + std::to_string(*static_cores) +
             ") exceeds --cores (" + std::to_string(cfg.cores) + ")";
    cfg.static_cores = *static_cores;
  }
  if (cfg.static_cores == 0) cfg.static_cores = cfg.cores;
  if (cfg.unmodified) {
    if (queues_set && cfg.queues != Queues::kSingle)
      return "--app-kind unmodified has one BPF queue per app: only --queues single";
    cfg.queues = Queues::kSingle;
  }
  if (cfg.mode == Mode::kStatic && cfg.apps != 1)
    return "--mode static simulates one app; use --apps 1";
  if (cfg.apps > cfg.cores)
    return "--apps (" + std::to_string(cfg.apps) + ") exceeds --cores";
  if (cfg.guaranteed * cfg.apps > cfg.cores)
    return "--guaranteed x --apps exceeds --cores";
  const unsigned burst =
      cfg.burstable.value_or(cfg.cores - cfg.guaranteed);
  if (cfg.guaranteed + burst == 0)
    return "--guaranteed + --burstable must be at least 1";
  if (cfg.guaranteed + burst > cfg.cores)
    return "--guaranteed + --burstable exceeds --cores";
  cfg.burstable = burst;
  return std::nullopt;
}

}  // namespace kairos::sim
