// A run's result as text (for people), JSON (everything, with the
// histogram's non-empty buckets so results can be merged later) and CSV
// (one header and one row, for spreadsheets and plot scripts).
#pragma once

#include "config.hpp"
#include "engine.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace kairos::loadgen {

std::string summary_text(const Config& cfg, const RunResult& r);
nlohmann::json to_json(const Config& cfg, const RunResult& r);
std::string csv_header();
std::string csv_row(const Config& cfg, const RunResult& r);
std::string progress_line(const Config& cfg, const ProgressSample& s);

}  // namespace kairos::loadgen
