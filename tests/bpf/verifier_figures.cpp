#include "verifier_figures.hpp"

#include <cstdio>
#include <map>
#include <sstream>

namespace kairos::verifier {
namespace {

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(line);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

bool to_long(const std::string& s, long* v) {
  if (s.empty()) return false;
  std::size_t used = 0;
  try {
    *v = std::stol(s, &used);
  } catch (...) {
    return false;
  }
  return used == s.size();
}

std::string key(const std::string& file, const std::string& prog) {
  return file + " " + prog;
}

const Figure* find_figure(const std::vector<Figure>& figures, const ProgStats& s) {
  for (const auto& f : figures)
    if (f.file == s.file && f.prog == s.prog) return &f;
  return nullptr;
}

}  // namespace

std::vector<ProgStats> parse_veristat_csv(const std::string& csv, std::string* err) {
  std::vector<ProgStats> rows;
  std::istringstream in(csv);
  std::string line;
  std::map<std::string, std::size_t> col;
  const char* need[] = {"file_name", "prog_name",    "verdict",    "duration",
                        "total_insns", "total_states", "peak_states"};
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto cells = split(line, ',');
    if (col.empty()) {
      for (std::size_t i = 0; i < cells.size(); ++i) col[cells[i]] = i;
      for (const char* n : need)
        if (!col.count(n)) {
          *err = std::string("veristat's CSV has no column ") + n + ": " + line;
          return rows;
        }
      continue;
    }
    if (cells.size() != col.size()) {
      *err = "veristat CSV line with " + std::to_string(cells.size()) + " cells, not " +
             std::to_string(col.size()) + ": " + line;
      return rows;
    }
    ProgStats s;
    s.file = cells[col["file_name"]];
    s.prog = cells[col["prog_name"]];
    s.verified = cells[col["verdict"]] == "success";
    if (!to_long(cells[col["duration"]], &s.duration_us) ||
        !to_long(cells[col["total_insns"]], &s.insns) ||
        !to_long(cells[col["total_states"]], &s.states) ||
        !to_long(cells[col["peak_states"]], &s.peak_states)) {
      *err = "veristat CSV line with a non-number: " + line;
      return rows;
    }
    rows.push_back(s);
  }
  if (col.empty()) *err = "veristat printed no CSV header";
  return rows;
}

std::vector<Figure> parse_figures(const std::string& text, std::string* err) {
  std::vector<Figure> figures;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    Figure f;
    std::string count, extra;
    if (!(words >> f.file)) continue;  // blank or comment
    if (!(words >> f.prog >> count) || (words >> extra) || !to_long(count, &f.insns) ||
        f.insns <= 0) {
      *err = "line " + std::to_string(n) + " is not 'OBJECT PROGRAM INSNS': " + line;
      return figures;
    }
    figures.push_back(f);
  }
  return figures;
}

std::vector<std::string> compare(const std::vector<ProgStats>& stats,
                                 const std::vector<Figure>& figures, double max_growth) {
  std::vector<std::string> problems;
  std::map<std::string, bool> seen;
  for (const auto& s : stats) {
    seen[key(s.file, s.prog)] = true;
    if (!s.verified) {
      problems.push_back(s.file + " " + s.prog + " failed verification");
      continue;
    }
    const Figure* f = find_figure(figures, s);
    if (!f) {
      problems.push_back(s.file + " " + s.prog + " (" + std::to_string(s.insns) +
                         " processed insns) has no line in bpf/verifier-figures.txt; add it");
      continue;
    }
    const double growth = static_cast<double>(s.insns - f->insns) / f->insns;
    if (growth > max_growth) {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.0f %%", growth * 100);
      problems.push_back(s.file + " " + s.prog + ": processed insns grew from " +
                         std::to_string(f->insns) + " to " + std::to_string(s.insns) + " (+" +
                         pct + ", more than the " +
                         std::to_string(static_cast<int>(max_growth * 100 + 0.5)) +
                         " % allowed); update bpf/verifier-figures.txt if the growth "
                         "is intended");
    }
  }
  for (const auto& f : figures)
    if (!seen.count(key(f.file, f.prog)))
      problems.push_back("bpf/verifier-figures.txt names " + f.file + " " + f.prog +
                         ", which veristat did not report; remove its line if the "
                         "program is gone");
  return problems;
}

std::string format_table(const std::vector<ProgStats>& stats,
                         const std::vector<Figure>& figures) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %-26s %-8s %9s %7s %7s %9s %9s\n", "object", "program",
                "verdict", "insns", "states", "peak", "time(us)", "figure");
  out += line;
  for (const auto& s : stats) {
    const Figure* f = find_figure(figures, s);
    std::snprintf(line, sizeof line, "%-22s %-26s %-8s %9ld %7ld %7ld %9ld %9s\n",
                  s.file.c_str(), s.prog.c_str(), s.verified ? "success" : "FAILURE", s.insns,
                  s.states, s.peak_states, s.duration_us,
                  f ? std::to_string(f->insns).c_str() : "-");
    out += line;
  }
  return out;
}

}  // namespace kairos::verifier
