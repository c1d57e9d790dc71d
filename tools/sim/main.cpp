// kairos-sim: command-line front end of the allocator simulator.
#include "sim_config.hpp"
#include "simulator.hpp"

#include <kairos/version.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (kairos::print_version_if_asked("kairos-sim", argc, argv)) return 0;
  kairos::sim::SimConfig cfg;
  bool help = false;
  if (auto err = kairos::sim::parse_args(argc, argv, cfg, &help)) {
    std::fprintf(stderr, "kairos-sim: %s\n", err->c_str());
    return 2;
  }
  if (help) {
    std::fputs(kairos::sim::usage(), stdout);
    return 0;
  }
  try {
    if (cfg.header) std::puts(kairos::sim::csv_header().c_str());
    for (double load : cfg.loads) {
      auto r = kairos::sim::simulate(cfg, load);
      std::puts(kairos::sim::csv_row(cfg, r).c_str());
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kairos-sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
