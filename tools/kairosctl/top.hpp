// `kairosctl top`: the live terminal view (FTXUI) over top_model.
#pragma once

#include <string>

namespace kairos::ctl {

// Runs until q (or Ctrl-C); returns the exit status.
int run_top(const std::string& status_file, unsigned interval_ms);

}  // namespace kairos::ctl
