// Verifier statistics of the BPF objects (veristat's CSV output) checked
// against the committed figures in bpf/verifier-figures.txt, so that a change
// that makes the verifier work much harder is seen in review.
#pragma once

#include <string>
#include <vector>

namespace kairos::verifier {

// One program as veristat reports it.
struct ProgStats {
  std::string file;  // object file name, without its directory
  std::string prog;
  bool verified = false;
  long duration_us = 0;
  long insns = 0;  // instructions processed by the verifier
  long states = 0;
  long peak_states = 0;
};

// One committed line: object, program, processed instructions.
struct Figure {
  std::string file;
  std::string prog;
  long insns = 0;
};

// Rows of `veristat -o csv -e file,prog,verdict,duration,insns,states,peak_states`.
// Sets *err (and returns what it parsed so far) on a malformed line.
std::vector<ProgStats> parse_veristat_csv(const std::string& csv, std::string* err);

// "OBJECT PROGRAM INSNS" lines; '#' starts a comment. Sets *err on a bad line.
std::vector<Figure> parse_figures(const std::string& text, std::string* err);

// One message per problem: a program that failed verification, one with no
// figure, a figure with no program, or processed instructions that grew by
// more than max_growth (0.25: 25 %) over the figure. Empty when all is well.
std::vector<std::string> compare(const std::vector<ProgStats>& stats,
                                 const std::vector<Figure>& figures, double max_growth);

// A table of the statistics beside the committed figures, for the log.
std::string format_table(const std::vector<ProgStats>& stats,
                         const std::vector<Figure>& figures);

}  // namespace kairos::verifier
