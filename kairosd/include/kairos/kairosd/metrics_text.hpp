// The snapshot as a Prometheus / OpenMetrics text exposition (pure; what
// kairosd's --metrics-listen endpoint serves). Names follow the Prometheus
// conventions: kairos_ prefix, base units (seconds), counters end in
// _total. The metric list is in kairosd/README.md ("Metrics").
#pragma once

#include <kairos/kairosd/status_snapshot.hpp>

#include <string>

namespace kairos::status {

enum class MetricsFormat {
  kPrometheus,   // text/plain; version=0.0.4
  kOpenMetrics,  // application/openmetrics-text; version=1.0.0 (ends with # EOF)
};

std::string render_metrics(const Snapshot& s, MetricsFormat f);

// The Content-Type header of each format.
const char* metrics_content_type(MetricsFormat f);

// The format a scraper asks for with its Accept header: OpenMetrics when it
// names application/openmetrics-text, else the Prometheus text format.
MetricsFormat negotiate_metrics_format(const std::string& accept);

}  // namespace kairos::status
