// kairos-loadgen: load against memcached (TCP or UDP), Redis or a UDP echo
// server; see README.md. Exit codes: 0 done (failures are in the counters),
// 1 the run could not start or nothing was answered, 2 bad command line.
#include "config.hpp"
#include "engine.hpp"
#include "report.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>

namespace {

bool write_to(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text << std::flush;
    return true;
  }
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) {
    std::cerr << "kairos-loadgen: cannot write " << path << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kairos::loadgen;
  Config cfg;
  if (const int rc = parse_cli(argc, argv, cfg, std::cout, std::cerr); rc >= 0) return rc;
  const bool show_progress =
      cfg.progress == Progress::On || (cfg.progress == Progress::Auto && cfg.duration_s >= 5);
  RunResult r;
  try {
    r = run(cfg, [&](const ProgressSample& s) {
      if (show_progress) std::fprintf(stderr, "%s\n", progress_line(cfg, s).c_str());
    });
  } catch (const std::exception& e) {
    std::cerr << "kairos-loadgen: " << e.what() << "\n";
    return 1;
  }
  bool ok = true;
  if (!cfg.quiet) std::cout << summary_text(cfg, r) << std::flush;
  if (!cfg.json_path.empty()) ok &= write_to(cfg.json_path, to_json(cfg, r).dump(2) + "\n");
  if (!cfg.csv_path.empty())
    ok &= write_to(cfg.csv_path, csv_header() + "\n" + csv_row(cfg, r) + "\n");
  if (r.counters.completed == 0) {
    std::cerr << "kairos-loadgen: no request was answered by " << cfg.server() << "\n";
    return 1;
  }
  return ok ? 0 : 1;
}
