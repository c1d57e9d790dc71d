#include "report.hpp"

#include <cstdio>

namespace kairos::loadgen {

namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9};

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string mode_name(Mode m) { return m == Mode::Open ? "open" : "closed"; }

nlohmann::json counters_json(const Counters& c) {
  return {{"scheduled", c.scheduled},         {"sent", c.sent},
          {"completed", c.completed},         {"hits", c.hits},
          {"misses", c.misses},               {"stored", c.stored},
          {"not_stored", c.not_stored},       {"error_replies", c.error_replies},
          {"timeouts", c.timeouts},           {"failed", c.failed},
          {"unanswered", c.unanswered},       {"not_sent", c.not_sent},
          {"malformed", c.malformed},         {"connection_failures", c.conn_failures},
          {"late", c.late},                   {"connects", c.connects}};
}

}  // namespace

std::string summary_text(const Config& cfg, const RunResult& r) {
  const Counters& c = r.counters;
  const Histogram& h = r.latency;
  char b[1024];
  std::string out;
  std::snprintf(b, sizeof b,
                "%s %s loop against %s: %u connections, %u threads, %.1f s\n",
                protocol_name(cfg.protocol), mode_name(cfg.mode).c_str(), cfg.server().c_str(),
                cfg.connections, cfg.threads, r.duration_s);
  out += b;
  std::snprintf(b, sizeof b, "  rate      offered %.0f/s  achieved %.0f/s\n", r.offered_rate(),
                r.achieved_rate());
  out += b;
  std::snprintf(b, sizeof b,
                "  requests  scheduled %llu  sent %llu  completed %llu (hits %llu, misses %llu, "
                "stored %llu, not stored %llu)\n",
                (unsigned long long)c.scheduled, (unsigned long long)c.sent,
                (unsigned long long)c.completed, (unsigned long long)c.hits,
                (unsigned long long)c.misses, (unsigned long long)c.stored,
                (unsigned long long)c.not_stored);
  out += b;
  std::snprintf(b, sizeof b,
                "  failures  error replies %llu  timeouts %llu  failed %llu  unanswered %llu  "
                "not sent %llu  (malformed %llu, connection failures %llu, late %llu)\n",
                (unsigned long long)c.error_replies, (unsigned long long)c.timeouts,
                (unsigned long long)c.failed, (unsigned long long)c.unanswered,
                (unsigned long long)c.not_sent, (unsigned long long)c.malformed,
                (unsigned long long)c.conn_failures, (unsigned long long)c.late);
  out += b;
  std::snprintf(b, sizeof b,
                "  latency   us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
                us(h.percentile(50)), us(h.percentile(90)), us(h.percentile(99)),
                us(h.percentile(99.9)), us(h.max()), h.mean() / 1000.0);
  out += b;
  if (r.warmup.scheduled) {
    std::snprintf(b, sizeof b, "  warm-up   %llu sets, %llu stored, %llu not answered or failed\n",
                  (unsigned long long)r.warmup.scheduled, (unsigned long long)r.warmup.stored,
                  (unsigned long long)(r.warmup.scheduled - r.warmup.stored));
    out += b;
  }
  for (const auto& e : r.errors) out += "  error: " + e + "\n";
  for (const auto& e : r.warmup_errors) out += "  warm-up error: " + e + "\n";
  return out;
}

nlohmann::json to_json(const Config& cfg, const RunResult& r) {
  const Histogram& h = r.latency;
  nlohmann::json lat = {{"count", h.count()},
                        {"min_us", us(h.min())},
                        {"mean_us", h.mean() / 1000.0},
                        {"p50_us", us(h.percentile(50))},
                        {"p90_us", us(h.percentile(90))},
                        {"p99_us", us(h.percentile(99))},
                        {"p999_us", us(h.percentile(99.9))},
                        {"max_us", us(h.max())}};
  nlohmann::json buckets = nlohmann::json::array();
  for (const auto& bk : h.nonempty()) buckets.push_back({bk.lower, bk.width, bk.count});
  lat["buckets_ns"] = {{"columns", {"lower", "width", "count"}}, {"rows", buckets}};
  return {
      {"config",
       {{"protocol", protocol_name(cfg.protocol)},
        {"server", cfg.server()},
        {"mode", mode_name(cfg.mode)},
        {"rate", cfg.mode == Mode::Open ? nlohmann::json(cfg.rate) : nlohmann::json(nullptr)},
        {"duration_s", cfg.duration_s},
        {"connections", cfg.connections},
        {"threads", cfg.threads},
        {"depth", cfg.depth},
        {"get_ratio", cfg.get_ratio},
        {"keys", cfg.keys},
        {"key_size", cfg.key_size},
        {"key_dist", cfg.zipf_s > 0 ? "zipf:" + std::to_string(cfg.zipf_s) : "uniform"},
        {"value_size", cfg.value_size.str()},
        {"echo_size", cfg.echo_size},
        {"timeout_s", cfg.timeout_s},
        {"drain_s", cfg.drain_s},
        {"warmup", cfg.warmup},
        {"seed", cfg.seed}}},
      {"offered_rate", r.offered_rate()},
      {"achieved_rate", r.achieved_rate()},
      {"elapsed_s", r.elapsed_s},
      {"counters", counters_json(r.counters)},
      {"latency", lat},
      {"errors", r.errors},
      {"warmup", {{"counters", counters_json(r.warmup)}, {"errors", r.warmup_errors}}}};
}

std::string csv_header() {
  return "protocol,mode,server,connections,threads,depth,duration_s,offered_rate,achieved_rate,"
         "scheduled,sent,completed,hits,misses,error_replies,timeouts,failed,unanswered,not_sent,"
         "malformed,connection_failures,p50_us,p90_us,p99_us,p999_us,max_us,mean_us";
}

std::string csv_row(const Config& cfg, const RunResult& r) {
  const Counters& c = r.counters;
  const Histogram& h = r.latency;
  char b[1024];
  std::snprintf(b, sizeof b,
                "%s,%s,%s,%u,%u,%u,%.3f,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
                "%llu,%llu,%llu,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f",
                protocol_name(cfg.protocol), mode_name(cfg.mode).c_str(), cfg.server().c_str(),
                cfg.connections, cfg.threads, cfg.depth, r.duration_s, r.offered_rate(),
                r.achieved_rate(), (unsigned long long)c.scheduled, (unsigned long long)c.sent,
                (unsigned long long)c.completed, (unsigned long long)c.hits,
                (unsigned long long)c.misses, (unsigned long long)c.error_replies,
                (unsigned long long)c.timeouts, (unsigned long long)c.failed,
                (unsigned long long)c.unanswered, (unsigned long long)c.not_sent,
                (unsigned long long)c.malformed, (unsigned long long)c.conn_failures,
                us(h.percentile(50)), us(h.percentile(90)), us(h.percentile(99)),
                us(h.percentile(99.9)), us(h.max()), h.mean() / 1000.0);
  return b;
}

std::string progress_line(const Config& cfg, const ProgressSample& s) {
  char b[256];
  std::snprintf(b, sizeof b, "[%5.1fs / %gs] sent %llu  completed %llu (%.0f/s)  errors %llu",
                s.elapsed_s, cfg.duration_s, (unsigned long long)s.sent,
                (unsigned long long)s.completed,
                s.elapsed_s > 0 ? static_cast<double>(s.completed) / s.elapsed_s : 0.0,
                (unsigned long long)s.errors);
  return b;
}

}  // namespace kairos::loadgen
