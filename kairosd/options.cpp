#include "options.hpp"

#include <CLI/CLI.hpp>

#include <charconv>

namespace kairos {
namespace {

// A whole decimal number in [lo, hi], else the error kairosd prints. CLI11's
// own range checks word their errors differently for each kind of mistake;
// operators and tests rely on this one sentence.
bool parse_number(const std::string& flag, const std::string& text, long lo, long hi,
                  long* out, std::string* error) {
  long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < lo ||
      v > hi) {
    *error = flag + " wants a number in " + std::to_string(lo) + ".." + std::to_string(hi) +
             ", got '" + text + "'";
    return false;
  }
  *out = v;
  return true;
}

const char* const kFlags[] = {"--no-cgroup-watch", "--no-allocator", "--allocator-low-power",
                              "--allocator-spin", "--no-standby", "--help"};

}  // namespace

std::string kairosd_usage() {
  return "usage: kairosd [options]\n"
         "  --config FILE          settings, app rules, Kubernetes rules and the dataplane\n"
         "                         (/etc/kairos/kairosd.toml; flags override it; SIGHUP\n"
         "                         re-reads it)\n"
         "  --slice-us N           slice of ordinary tasks, 50..100000 us (default 5000)\n"
         "  --lc-slice-us N        slice of LC tasks, 50..100000 us (default 500)\n"
         "  --scan-interval-ms N   how often annotations/tunables/hotplug are followed,\n"
         "                         10..10000 ms (default 200)\n"
         "  --stats-interval-ms N  print statistics every N ms, 0 = only at exit (default 0)\n"
         "  --cgroup-root DIR      cgroup2 mount (default /sys/fs/cgroup)\n"
         "  --status-file PATH     status for 'kairosctl status' (default /run/kairos/status)\n"
         "  --dataplane-config FILE  run the packet relay from the old line-based file\n"
         "                         (deprecated: [dataplane] in --config's file; convert\n"
         "                         with 'kairosctl convert-dataplane'); a bad file stops\n"
         "                         kairosd\n"
         "  --backend auto|sched_ext|kmod  who keeps LC threads ahead (default auto:\n"
         "                         the sched_ext scheduler, else kairos.ko's LC class,\n"
         "                         also after the scheduler exits for good)\n"
         "  --rescan-interval-ms N full rescan of the cgroup tree behind the inotify\n"
         "                         watch, 100..3600000 ms (default 2000)\n"
         "  --no-cgroup-watch      no inotify: rescan the cgroups on every scan\n"
         "  --kairos-dev PATH      kairos.ko's device (default /dev/kairos)\n"
         "  --test-fault-after-ms N  (tests) make the scheduler fail once after N ms,\n"
         "                         to exercise the error exit and the restart\n"
         "  --no-allocator         no allocator: LC apps own their guaranteed cores only\n"
         "  --poll-us N            allocator poll interval, 1..1000000 us (default 5)\n"
         "  --allocator-cpu N      CPU of the allocator's poll loop, never granted (default 0)\n"
         "  --allocator-low-power  sleep between polls (default below 4 online CPUs)\n"
         "  --allocator-spin       spin between polls (default from 4 online CPUs up)\n"
         "  --no-standby           keep no core on standby for an unmodified app's burst\n"
         "                         (default: one each, granted by the scheduler the\n"
         "                         moment the app's work outgrows its cores)\n"
         "  --allocator-rt-priority N  run the poll loop SCHED_FIFO at priority 1..99\n"
         "                         (default 0: an ordinary thread; only with its CPU\n"
         "                         kept free of other work, or tasks pinned there stall)\n"
         "  --metrics-listen WHERE serve Prometheus/OpenMetrics text at /metrics: PORT\n"
         "                         (on 127.0.0.1), ADDR:PORT, [IPV6]:PORT or unix:/PATH\n"
         "                         (default: off)\n"
         "Guard tunables come from /sys/kernel/kairos/{quantum_us,period_us} when\n"
         "kairos.ko is loaded, else 900 us per 1000 us.\n";
}

ParsedKairosdArgs parse_kairosd_args(const std::vector<std::string>& args,
                                     unsigned nr_cpus_conf, const KairosdCommandLine& base) {
  ParsedKairosdArgs out;
  out.cmd = base;
  KairosdCommandLine& c = out.cmd;
  DaemonOptions& d = c.daemon;

  // A switch given a value ("--no-allocator=yes") is a mistake, not "true".
  for (const auto& a : args) {
    if (a == "--") break;
    for (const char* f : kFlags)
      if (a.rfind(std::string(f) + "=", 0) == 0) {
        out.error = std::string("option '") + f + "' doesn't allow an argument";
        out.show_usage = true;
        return out;
      }
  }

  CLI::App app{"kairosd"};
  app.set_help_flag();  // --help is ours: kairosd_usage()
  app.allow_extras();   // reported below in kairosd's words
  // An option given twice: the last one counts (scripts add to a default
  // command line), as getopt did.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string error;    // the first bad value
  auto number = [&](const char* flag, long lo, long hi, auto store) {
    app.add_option_function<std::string>(flag, [&error, flag, lo, hi, store](const std::string& v) {
      long n = 0;
      if (!error.empty()) return;
      if (parse_number(flag, v, lo, hi, &n, &error)) store(n);
    });
  };
  number("--slice-us", 50, 100000, [&](long n) { d.sched.tunables.be_slice_ns = n * 1000; });
  number("--lc-slice-us", 50, 100000, [&](long n) { d.sched.tunables.lc_slice_ns = n * 1000; });
  number("--scan-interval-ms", 10, 10000, [&](long n) { c.scan_ms = n; });
  number("--stats-interval-ms", 0, 3600000, [&](long n) { c.stats_ms = n; });
  number("--test-fault-after-ms", 0, 3600000, [&](long n) { c.fault_ms = n; });
  number("--rescan-interval-ms", 100, 3600000,
         [&](long n) { d.rescan_interval_ms = static_cast<unsigned>(n); });
  number("--poll-us", 1, 1000000,
         [&](long n) { d.allocator.poll_ns = static_cast<std::uint64_t>(n) * 1000; });
  number("--allocator-cpu", 0, nr_cpus_conf > 0 ? nr_cpus_conf - 1 : 0,
         [&](long n) { d.allocator.cpu = static_cast<unsigned>(n); });
  number("--allocator-rt-priority", 0, 99,
         [&](long n) { d.allocator.rt_priority = static_cast<int>(n); });
  app.add_option("--cgroup-root", d.cgroup_root);
  app.add_option("--status-file", d.status_path);
  app.add_option("--dataplane-config", c.dataplane_config);
  app.add_option("--config", c.config_path);
  app.add_option("--kairos-dev", d.kairos_dev);
  std::string backend;
  auto* backend_opt = app.add_option("--backend", backend);
  std::string metrics_listen;
  auto* metrics_opt = app.add_option("--metrics-listen", metrics_listen);
  bool help = false, no_watch = false, no_alloc = false, low_power = false, spin = false,
       no_standby = false;
  app.add_flag("--help,-h", help);
  app.add_flag("--no-cgroup-watch", no_watch);
  app.add_flag("--no-allocator", no_alloc);
  app.add_flag("--no-standby", no_standby);
  app.add_flag("--allocator-low-power", low_power);
  app.add_flag("--allocator-spin", spin);

  try {
    std::vector<std::string> rev(args.rbegin(), args.rend());  // CLI11 parses from the back
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    out.error = e.what();
    out.show_usage = true;
    return out;
  }
  if (help) {
    out.action = ParsedKairosdArgs::Action::kHelp;
    return out;
  }
  if (!error.empty()) {
    out.error = error;
    return out;
  }
  if (!app.remaining().empty()) {
    const std::string x = app.remaining().front();
    out.error = (x.size() > 1 && x[0] == '-' ? "unrecognized option '" : "unexpected argument '") +
                x + "'";
    out.show_usage = true;
    return out;
  }
  if (backend_opt->count()) {
    const auto b = parse_backend(backend);
    if (!b) {
      out.error = "--backend wants auto, sched_ext or kmod, got '" + backend + "'";
      return out;
    }
    d.backend = *b;
  }
  if (metrics_opt->count()) {
    c.metrics_listen = parse_metrics_listen(metrics_listen, &out.error);
    if (!c.metrics_listen) return out;
  }
  if (low_power && spin) {
    out.error = "--allocator-low-power and --allocator-spin exclude each other";
    return out;
  }
  if (low_power) d.allocator.power = AllocatorOptions::Power::kLowPower;
  if (spin) d.allocator.power = AllocatorOptions::Power::kSpin;
  if (no_watch) d.watch_cgroups = false;
  if (no_alloc) d.allocator.enabled = false;
  if (no_standby) d.allocator.standby = false;
  out.action = ParsedKairosdArgs::Action::kRun;
  return out;
}

}  // namespace kairos
