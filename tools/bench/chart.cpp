#include "tools/bench/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace ignite_bench {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Colours per concurrency level, in the order the levels sort (colour-blind safe).
const char* kColours[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"};

constexpr double kLeft = 250;    // label column
constexpr double kPlotW = 600;   // plot width
constexpr double kRight = 30;
constexpr double kRowH = 24;
constexpr double kPanelHead = 26;
constexpr double kAxisH = 34;

}  // namespace

std::string latency_chart_svg(const std::vector<ChartSeries>& input, const std::string& title) {
  std::vector<ChartSeries> series;
  for (const auto& s : input) {
    if (!s.ms.empty()) series.push_back(s);
  }
  for (auto& s : series) std::sort(s.ms.begin(), s.ms.end());

  // Panels and rows in order of first appearance; concurrency levels sorted.
  std::vector<std::string> runtimes;
  std::map<std::string, std::vector<std::string>> methods;
  std::set<int> levels;
  double lo = 1e300, hi = 0;
  for (const auto& s : series) {
    if (std::find(runtimes.begin(), runtimes.end(), s.runtime) == runtimes.end()) runtimes.push_back(s.runtime);
    auto& m = methods[s.runtime];
    if (std::find(m.begin(), m.end(), s.method) == m.end()) m.push_back(s.method);
    levels.insert(s.concurrency);
    lo = std::min(lo, std::max(quantile(s.ms, 0.05), 0.1));
    hi = std::max(hi, quantile(s.ms, 0.99));
  }
  const std::vector<int> level_list(levels.begin(), levels.end());

  const double width = kLeft + kPlotW + kRight;
  double height = 70;
  for (const auto& rt : runtimes) height += kPanelHead + kRowH * static_cast<double>(methods[rt].size());
  height += kAxisH;

  std::ostringstream o;
  o << R"(<svg xmlns="http://www.w3.org/2000/svg" width=")" << width << R"(" height=")" << height
    << R"(" viewBox="0 0 )" << width << " " << height
    << R"(" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">)" << "\n";
  o << R"(<rect width="100%" height="100%" fill="#ffffff"/>)" << "\n";
  o << R"(<text x="10" y="20" font-size="15" font-weight="bold">)" << escape(title) << "</text>\n";
  if (series.empty()) {
    o << R"(<text x="10" y="50">no successful executions to show</text>)" << "\n</svg>\n";
    return o.str();
  }

  // Log axis from a 1-2-5 step below the fastest p5 to one above the slowest p99.
  const auto floor125 = [](double v) {
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    return v >= 5 * p ? 5 * p : v >= 2 * p ? 2 * p : p;
  };
  const auto ceil125 = [](double v) {
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
  };
  const double x_lo = floor125(lo), x_hi = ceil125(std::max(hi, x_lo * 2));
  const auto x = [&](double ms) {
    const double v = std::clamp(ms, x_lo, x_hi);
    return kLeft + kPlotW * (std::log(v / x_lo) / std::log(x_hi / x_lo));
  };

  // Legend.
  double lx = 10;
  o << R"(<text x=")" << lx << R"(" y="42" fill="#444">box p25–p75, bar median, whiskers p5–p95, dot p99; ms, log scale</text>)"
    << "\n";
  lx = kLeft;
  for (std::size_t i = 0; i < level_list.size(); ++i) {
    const char* colour = kColours[i % std::size(kColours)];
    o << R"(<rect x=")" << lx << R"(" y="50" width="12" height="8" fill=")" << colour << R"("/>)"
      << R"(<text x=")" << lx + 16 << R"(" y="58">c=)" << level_list[i] << "</text>\n";
    lx += 60;
  }

  // Grid lines at 1-2-5 steps.
  std::vector<double> ticks;
  for (double p = std::pow(10.0, std::floor(std::log10(x_lo))); p <= x_hi * 1.0001; p *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double t = p * m;
      if (t >= x_lo * 0.9999 && t <= x_hi * 1.0001) ticks.push_back(t);
    }
  }
  const double plot_top = 70, plot_bottom = height - kAxisH;
  for (double t : ticks) {
    o << R"(<line x1=")" << num(x(t)) << R"(" y1=")" << plot_top << R"(" x2=")" << num(x(t)) << R"(" y2=")"
      << plot_bottom << R"(" stroke="#dddddd"/>)"
      << R"(<text x=")" << num(x(t)) << R"(" y=")" << plot_bottom + 16 << R"(" text-anchor="middle" fill="#444">)"
      << (t >= 1 ? num(t).substr(0, num(t).find('.')) : num(t)) << "</text>\n";
  }
  o << R"(<text x=")" << kLeft + kPlotW / 2 << R"(" y=")" << plot_bottom + 30
    << R"(" text-anchor="middle" fill="#444">latency per execution (ms)</text>)" << "\n";

  double y = plot_top;
  for (const auto& rt : runtimes) {
    o << R"(<rect x="0" y=")" << y << R"(" width=")" << width << R"(" height=")" << kPanelHead - 4
      << R"(" fill="#f2f2f2"/>)" << R"(<text x="10" y=")" << y + 16 << R"(" font-weight="bold">)" << escape(rt)
      << "</text>\n";
    y += kPanelHead;
    for (const auto& m : methods[rt]) {
      o << R"(<text x=")" << kLeft - 8 << R"(" y=")" << y + kRowH / 2 + 4 << R"(" text-anchor="end">)"
        << escape(m) << "</text>\n";
      // One lane per concurrency level that this row has.
      std::vector<const ChartSeries*> lanes;
      for (int c : level_list) {
        for (const auto& s : series) {
          if (s.runtime == rt && s.method == m && s.concurrency == c) lanes.push_back(&s);
        }
      }
      const double lane_h = (kRowH - 6) / static_cast<double>(std::max<std::size_t>(lanes.size(), 1));
      for (std::size_t i = 0; i < lanes.size(); ++i) {
        const ChartSeries& s = *lanes[i];
        const auto level = std::find(level_list.begin(), level_list.end(), s.concurrency) - level_list.begin();
        const char* colour = kColours[static_cast<std::size_t>(level) % std::size(kColours)];
        const double top = y + 3 + lane_h * static_cast<double>(i);
        const double mid = top + lane_h / 2;
        const double p5 = quantile(s.ms, 0.05), p25 = quantile(s.ms, 0.25), p50 = quantile(s.ms, 0.5),
                     p75 = quantile(s.ms, 0.75), p95 = quantile(s.ms, 0.95), p99 = quantile(s.ms, 0.99);
        o << "<g><title>" << escape(rt + ", " + m + ", c=" + std::to_string(s.concurrency)) << ": n=" << s.ms.size()
          << ", p5 " << num(p5) << ", p25 " << num(p25) << ", median " << num(p50) << ", p75 " << num(p75)
          << ", p95 " << num(p95) << ", p99 " << num(p99) << " ms</title>";
        o << R"(<line x1=")" << num(x(p5)) << R"(" y1=")" << num(mid) << R"(" x2=")" << num(x(p95)) << R"(" y2=")"
          << num(mid) << R"(" stroke=")" << colour << R"("/>)";
        o << R"(<rect x=")" << num(x(p25)) << R"(" y=")" << num(top + 1) << R"(" width=")"
          << num(std::max(x(p75) - x(p25), 1.0)) << R"(" height=")" << num(std::max(lane_h - 2, 2.0))
          << R"(" fill=")" << colour << R"(" fill-opacity="0.35" stroke=")" << colour << R"("/>)";
        o << R"(<line x1=")" << num(x(p50)) << R"(" y1=")" << num(top) << R"(" x2=")" << num(x(p50)) << R"(" y2=")"
          << num(top + lane_h) << R"(" stroke=")" << colour << R"(" stroke-width="2.5"/>)";
        o << R"(<circle cx=")" << num(x(p99)) << R"(" cy=")" << num(mid) << R"(" r="2" fill=")" << colour
          << R"("/>)";
        o << "</g>\n";
      }
      y += kRowH;
    }
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace ignite_bench
