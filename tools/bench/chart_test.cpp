// The benchmark's SVG: well formed, one box per non-empty series at the right place on the log
// axis, labels escaped, and a clear document when there is nothing to draw.
#include "tools/bench/chart.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>

using ignite_bench::ChartSeries;
using ignite_bench::latency_chart_svg;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + what.size())) ++n;
  return n;
}

// The x of the median bar of the box whose tooltip starts with `who`.
double median_x(const std::string& svg, const std::string& who) {
  const auto g = svg.find("<g><title>" + who);
  EXPECT_NE(g, std::string::npos) << who;
  const auto end = svg.find("</g>", g);
  const std::string group = svg.substr(g, end - g);
  const std::smatch m = [&] {
    std::smatch r;
    std::regex_search(group, r, std::regex(R"re(<line x1="([0-9.]+)"[^>]*stroke-width="2.5")re"));
    return r;
  }();
  EXPECT_FALSE(m.empty()) << group;
  return m.empty() ? -1 : std::stod(m[1]);
}

}  // namespace

TEST(Chart, OneBoxPerSeriesOnALogAxis) {
  std::vector<ChartSeries> s = {
      {"node", "docker run --rm (CLI)", 1, {200, 210, 190, 205, 220}},
      {"node", "Ignite warm pool, burst", 1, {10, 9, 11, 10, 12}},
      {"node", "Ignite warm pool, burst", 4, {20, 22, 19, 21}},
      {"quickjs", "Ignite warm pool, burst", 1, {2, 2.5, 3}},
      {"quickjs", "never succeeded", 1, {}},
  };
  const std::string svg = latency_chart_svg(s, "bench <run>");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count(svg, "<g>"), 4u);  // the empty series is left out
  EXPECT_EQ(count(svg, "<g>"), count(svg, "</g>"));
  EXPECT_NE(svg.find("bench &lt;run&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("never succeeded"), std::string::npos);
  // Medians 205, 10, 21 and 2.5 ms: on a log axis 10 -> 205 spans more than 2.5 -> 10.
  const double dr = median_x(svg, "node, docker run --rm (CLI), c=1");
  const double pool = median_x(svg, "node, Ignite warm pool, burst, c=1");
  const double pool4 = median_x(svg, "node, Ignite warm pool, burst, c=4");
  const double qjs = median_x(svg, "quickjs, Ignite warm pool, burst, c=1");
  EXPECT_LT(qjs, pool);
  EXPECT_LT(pool, pool4);
  EXPECT_LT(pool4, dr);
  EXPECT_GT(dr - pool, pool - qjs);
  // Equal ratios are equal distances: 10 -> 21 ms vs 2.5 -> 5.25 would match; check the scale is
  // logarithmic with two known points instead: x(205)-x(10) vs x(10)-x(2.5) = log(20.5)/log(4).
  EXPECT_NEAR((dr - pool) / (pool - qjs), std::log(20.5) / std::log(4.0), 0.05);
  // Both concurrency levels are in the legend.
  EXPECT_NE(svg.find(">c=1</text>"), std::string::npos);
  EXPECT_NE(svg.find(">c=4</text>"), std::string::npos);
}

TEST(Chart, NothingToShowSaysSo) {
  const std::string svg = latency_chart_svg({{"node", "m", 1, {}}}, "empty");
  EXPECT_NE(svg.find("no successful executions"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}
