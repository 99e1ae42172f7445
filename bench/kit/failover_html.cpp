#include "bench/kit/failover_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "bench/kit/svg_chart.h"
#include "bench/kit/units.h"

namespace shmraft::bench {

namespace {

// The three figures of an event, in the order they happen.
struct Figure {
  const char* name;
  std::optional<uint64_t> FailoverEvent::*member;
};
constexpr std::array<Figure, 3> kFigures{{{"detect", &FailoverEvent::detect_ns},
                                          {"elect", &FailoverEvent::elect_ns},
                                          {"window", &FailoverEvent::window_ns}}};

std::string point_label(const BenchConfig& c) {
  std::string label = fmt::format("{}n {}c", c.nodes, c.clients);
  if (c.pipeline != 1) label += fmt::format("×{}", c.pipeline);
  if (c.fsync != "none") label += " " + c.fsync;
  return label;
}

// One mark per figure: a thick bar from p50 to p99, a thin line on to the max, a dot at p50.
std::string range_mark(const svg::Frame& f, double x, const FailoverPercentiles& p, const char* colour,
                       const std::string& title) {
  const auto y = [&](double us) { return f.py(std::clamp(us * 1000, f.y_min, f.y_max)); };
  return fmt::format(
      "<g><title>{5}</title>"
      "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{2:.1f}\" y2=\"{3:.1f}\" stroke=\"{1}\" "
      "stroke-width=\"1.5\"/>"
      "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{4:.1f}\" y2=\"{2:.1f}\" stroke=\"{1}\" stroke-width=\"7\" "
      "stroke-opacity=\"0.55\"/>"
      "<circle cx=\"{0:.1f}\" cy=\"{4:.1f}\" r=\"3.5\" fill=\"{1}\"/></g>\n",
      x, colour, y(p.p99), y(p.max), y(p.p50), svg::escape(title));
}

std::string chart(const std::vector<const SweepPoint*>& points) {
  double lowest = 0, highest = 0;
  for (const SweepPoint* p : points) {
    for (const Figure& fig : kFigures) {
      for (const FailoverEvent& e : p->failover->events) {
        if (!(e.*fig.member)) continue;
        const auto ns = static_cast<double>(std::max<uint64_t>(*(e.*fig.member), 1));
        lowest = lowest == 0 ? ns : std::min(lowest, ns);
        highest = std::max(highest, ns);
      }
    }
  }
  if (highest == 0) return "<p>No fail-over figure was recorded.</p>\n";
  svg::Frame f{960, 400};
  f.bottom = 70;  // room for slanted labels
  f.x_min = 0.5;
  f.x_max = static_cast<double>(points.size()) + 0.5;
  f.y_log = true;
  f.y_min = std::pow(10, std::floor(std::log10(lowest)));
  f.y_max = std::max(f.y_min * 10, std::pow(10, std::ceil(std::log10(highest * 1.001))));
  std::string s = svg::open_svg(f, "sweep point (nodes, clients × pipeline)", "signal to … (log scale)");
  s += svg::log_y_ticks(f, [](double ns) { return format_ns(ns); });
  for (std::size_t i = 0; i < points.size(); ++i) {
    const double x = f.px(static_cast<double>(i) + 1);
    s += fmt::format("<text transform=\"translate({:.1f},{}) rotate(-30)\" text-anchor=\"end\">{}</text>\n",
                     x, f.height - f.bottom + 14, svg::escape(point_label(points[i]->config)));
    const std::vector<FailoverEvent>& events = points[i]->failover->events;
    for (std::size_t k = 0; k < kFigures.size(); ++k) {
      const auto p = failover_percentiles(events, kFigures[k].member);
      if (!p) continue;
      const double offset = (static_cast<double>(k) - 1) * 0.22;
      const std::string title =
          fmt::format("{}: {} over {} events: p50 {}, p90 {}, p99 {}, max {}", points[i]->config.describe(),
                      kFigures[k].name, p->events, format_ns(p->p50 * 1000), format_ns(p->p90 * 1000),
                      format_ns(p->p99 * 1000), format_ns(p->max * 1000));
      s += range_mark(f, f.px(static_cast<double>(i) + 1 + offset), *p, svg::color(k), title);
    }
  }
  std::vector<svg::LegendEntry> entries;
  for (std::size_t k = 0; k < kFigures.size(); ++k) entries.push_back({kFigures[k].name, svg::color(k), ""});
  return s + "</svg>\n" + svg::legend(entries);
}

std::string table(const std::vector<const SweepPoint*>& points) {
  std::string s =
      "<table>\n<tr><th>configuration, clients × "
      "pipeline</th><th>events</th><th>signal</th><th>victim</th><th>window p50</th>"
      "<th>p99</th><th>max</th><th>detect p50</th><th>elect p50</th><th>worst op max</th><th>failed</th>"
      "<th>in doubt</th><th>lost</th></tr>\n";
  const auto cell = [](const std::optional<FailoverPercentiles>& p, double FailoverPercentiles::*at) {
    return p ? format_ns(*p.*at * 1000) : std::string("—");
  };
  for (const SweepPoint* point : points) {
    const FailoverResult& r = *point->failover;
    const auto window = failover_percentiles(r.events, &FailoverEvent::window_ns);
    const auto detect = failover_percentiles(r.events, &FailoverEvent::detect_ns);
    const auto elect = failover_percentiles(r.events, &FailoverEvent::elect_ns);
    const auto worst = worst_op_percentiles(r.events);
    s += fmt::format(
        "<tr{}><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        r.interrupted ? " class=\"interrupted\"" : "",
        svg::escape(fmt::format("{}, {} × {}", point->config.series_label(), point->config.clients,
                                point->config.pipeline)),
        r.events.size(), r.events_asked, svg::escape(r.signal), svg::escape(r.victim),
        cell(window, &FailoverPercentiles::p50), cell(window, &FailoverPercentiles::p99),
        cell(window, &FailoverPercentiles::max), cell(detect, &FailoverPercentiles::p50),
        cell(elect, &FailoverPercentiles::p50), cell(worst, &FailoverPercentiles::max), r.failed_ops,
        r.in_doubt_ops, r.checked ? std::to_string(r.lost_ops) : "not checked");
  }
  return s + "</table>\n";
}

}  // namespace

std::string failover_section(std::span<const SweepPoint> points) {
  std::vector<const SweepPoint*> measured;
  for (const SweepPoint& p : points)
    if (p.failover) measured.push_back(&p);
  if (measured.empty()) return {};
  return "<h2>Fail-over: signal to detection, election and the first acknowledged write</h2>\n"
         "<p class=\"sub\">Per sweep point: dot p50, thick bar to p99, thin line to the max over its "
         "events.</p>\n"
         "<div class=\"chart\">\n" +
         chart(measured) + "</div>\n<div class=\"wide\">" + table(measured) + "</div>\n";
}

}  // namespace shmraft::bench
