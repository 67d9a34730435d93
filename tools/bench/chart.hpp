// The benchmark's picture: latency distributions of every method, one panel per runtime, as a
// self-contained SVG (no script, no external font or stylesheet), so a reader compares the
// methods at a glance instead of reading sixty table rows.
//
// Each series is drawn as a box plot on a logarithmic time axis (latencies span 2 ms to a few
// hundred): whiskers from p5 to p95, the box from p25 to p75, a bar at the median and a dot at
// p99. Series of one method at different concurrencies share a row, in different colours.
#pragma once

#include <string>
#include <vector>

namespace ignite_bench {

struct ChartSeries {
  std::string runtime;      // the panel
  std::string method;       // the row (its label as the report prints it)
  int concurrency = 1;      // the colour
  std::vector<double> ms;   // successful executions' latencies, any order
};

// The SVG document. Series without samples are left out; an empty input gives a document that
// says there is nothing to show. `title` goes at the top (escaped).
std::string latency_chart_svg(const std::vector<ChartSeries>& series, const std::string& title);

}  // namespace ignite_bench
