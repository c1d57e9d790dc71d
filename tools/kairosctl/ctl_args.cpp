#include "ctl_args.hpp"

#include <map>
#include <optional>

namespace kairos::ctl {

std::string usage_text() {
  return "usage: kairosctl [--cgroup-root DIR] [--status-file PATH] COMMAND\n"
         "  annotate CGROUP --class lc|be [--guaranteed N] [--burstable M]\n"
         "      mark a cgroup (path under the cgroup root, or absolute) as an app;\n"
         "      lc: N cores always owned (default 0), up to M in all (default N,\n"
         "      at least 1); be: no cores (N = M = 0). Stored as the cgroup's\n"
         "      trusted.kairos.app extended attribute (administrators only);\n"
         "      replaces an older annotation.\n"
         "  annotate CGROUP --clear\n"
         "      remove the annotation\n"
         "  migrate\n"
         "      move annotations stored as user.kairos.app (which kairosd ignores:\n"
         "      delegated cgroups' owners can write user.* attributes) to\n"
         "      trusted.kairos.app, each checked like a new annotation\n"
         "  status [--json]\n"
         "      apps, their cores and grants, queueing delay (from kairosd);\n"
         "      --json: the same as a JSON document (schema kairos.status, version 1)\n"
         "  top [--interval-ms N]\n"
         "      live view: CPUs by owner, per-app queueing delay and grants per\n"
         "      second, allocator cost, guard throttles; refreshed every N ms\n"
         "      (100..60000, default 1000); keys: s sort, q quit\n"
         "  convert-dataplane FILE\n"
         "      print the old dataplane file (kairosd --dataplane-config) as the\n"
         "      [dataplane] section of kairosd.toml\n";
}

namespace {

ParsedCmd fail(std::string why) {
  ParsedCmd p;
  p.error = std::move(why);
  return p;
}

}  // namespace

ParsedCmd parse_args(const std::vector<std::string>& args, unsigned max_cpus) {
  ParsedCmd out;
  std::size_t i = 0;
  // Global options come before the command.
  for (; i < args.size() && args[i].rfind("--", 0) == 0; ++i) {
    const std::string& a = args[i];
    if (a == "--help") {
      out.cmd = HelpCmd{};
      return out;
    }
    if (a != "--cgroup-root" && a != "--status-file")
      return fail("unknown option '" + a + "'");
    if (i + 1 >= args.size()) return fail(a + " needs a value");
    (a == "--cgroup-root" ? out.global.cgroup_root : out.global.status_file) =
        args[++i];
    if (args[i].empty()) return fail(a + " needs a non-empty value");
  }
  if (i >= args.size()) return fail("no command given");
  const std::string verb = args[i++];
  if (verb == "help") {
    out.cmd = HelpCmd{};
    return out;
  }
  if (verb == "status") {
    StatusCmd st;
    for (; i < args.size(); ++i) {
      if (args[i] != "--json") return fail("status takes only --json, got '" + args[i] + "'");
      if (st.json) return fail("--json given twice");
      st.json = true;
    }
    out.cmd = st;
    return out;
  }
  if (verb == "top") {
    TopCmd t;
    bool have = false;
    for (; i < args.size(); ++i) {
      if (args[i] != "--interval-ms") return fail("top takes only --interval-ms N, got '" + args[i] + "'");
      if (have) return fail("--interval-ms given twice");
      if (i + 1 >= args.size()) return fail("--interval-ms needs a value");
      auto v = parse_count("--interval-ms", args[++i], 60000);
      if (!v || *v.value < 100)
        return fail("--interval-ms wants a number in 100..60000, got '" + args[i] + "'");
      t.interval_ms = *v.value;
      have = true;
    }
    out.cmd = t;
    return out;
  }
  if (verb == "migrate") {
    if (i != args.size()) return fail("migrate takes no arguments");
    out.cmd = MigrateCmd{};
    return out;
  }
  if (verb == "convert-dataplane") {
    if (i + 1 != args.size()) return fail("convert-dataplane takes one FILE");
    out.cmd = ConvertDataplaneCmd{args[i]};
    return out;
  }
  if (verb != "annotate") return fail("unknown command '" + verb + "'");

  AnnotateCmd cmd;
  std::map<std::string, std::string> flags;
  bool have_cgroup = false;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--clear") {
      if (cmd.clear) return fail("--clear given twice");
      cmd.clear = true;
    } else if (a == "--class" || a == "--guaranteed" || a == "--burstable") {
      if (i + 1 >= args.size()) return fail(a + " needs a value");
      if (flags.count(a)) return fail(a + " given twice");
      flags[a] = args[++i];
    } else if (a.rfind("-", 0) == 0) {
      return fail("unknown option '" + a + "'");
    } else if (have_cgroup) {
      return fail("more than one cgroup given ('" + cmd.cgroup + "', '" + a + "')");
    } else {
      cmd.cgroup = a;
      have_cgroup = true;
    }
  }
  if (!have_cgroup || cmd.cgroup.empty()) return fail("annotate needs a cgroup");
  if (cmd.clear) {
    if (!flags.empty()) return fail("--clear cannot be combined with other options");
    out.cmd = cmd;
    return out;
  }
  if (!flags.count("--class")) return fail("annotate needs --class lc|be (or --clear)");
  auto cls = parse_class(flags["--class"]);
  if (!cls) return fail(cls.error);
  cmd.annotation.cls = *cls.value;
  std::optional<unsigned> g, b;
  if (flags.count("--guaranteed")) {
    auto v = parse_count("--guaranteed", flags["--guaranteed"], max_cpus);
    if (!v) return fail(v.error + " (this machine has " + std::to_string(max_cpus) + " CPUs)");
    g = *v.value;
  }
  if (flags.count("--burstable")) {
    auto v = parse_count("--burstable", flags["--burstable"], max_cpus);
    if (!v) return fail(v.error + " (this machine has " + std::to_string(max_cpus) + " CPUs)");
    b = *v.value;
  }
  cmd.annotation.guaranteed = g.value_or(0);
  cmd.annotation.burstable =
      b.value_or(cmd.annotation.cls == AppClass::lc ? std::max(1u, cmd.annotation.guaranteed) : 0);
  out.cmd = cmd;
  return out;
}

}  // namespace kairos::ctl
