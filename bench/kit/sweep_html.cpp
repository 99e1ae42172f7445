#include "bench/kit/sweep_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "bench/kit/failover_html.h"
#include "bench/kit/svg_chart.h"
#include "bench/kit/units.h"

namespace shmraft::bench {

namespace {

using svg::color;
using svg::dash;
using svg::escape;
using svg::Frame;
using svg::LegendEntry;

// Configurations that differ only in clients, in first-seen order, each sorted by clients.
std::vector<std::vector<const SweepPoint*>> group_by_series(std::span<const SweepPoint> points) {
  std::vector<std::vector<const SweepPoint*>> groups;
  std::map<std::string, std::size_t> index;
  for (const SweepPoint& p : points) {
    const auto [it, added] = index.emplace(p.config.series_label(), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(&p);
  }
  for (auto& g : groups) {
    std::stable_sort(g.begin(), g.end(),
                     [](auto* a, auto* b) { return a->config.clients < b->config.clients; });
  }
  return groups;
}

std::string throughput_chart(const std::vector<std::vector<const SweepPoint*>>& groups) {
  std::vector<uint32_t> clients;
  double max_throughput = 0;
  double min_throughput = 0;  // lowest positive
  for (const auto& g : groups) {
    for (const SweepPoint* p : g) {
      clients.push_back(p->config.clients);
      const double t = p->result.run.throughput_ops_per_s();
      max_throughput = std::max(max_throughput, t);
      if (t > 0 && (min_throughput == 0 || t < min_throughput)) min_throughput = t;
    }
  }
  std::sort(clients.begin(), clients.end());
  clients.erase(std::unique(clients.begin(), clients.end()), clients.end());
  Frame f{960, 440};
  f.x_log = true;
  f.x_min = clients.front() / 1.5;
  f.x_max = clients.back() * 1.5;
  std::string s = svg::open_svg(f, "clients (log scale)", "throughput (ops/s)");
  for (uint32_t c : clients) s += svg::x_tick(f, c, std::to_string(c), true);
  // Configurations that flush to a device commit orders of magnitude fewer ops than those that do not:
  // a log scale keeps both readable once they span more than a factor of 20.
  f.y_log = min_throughput > 0 && max_throughput / min_throughput > 20;
  if (f.y_log) {
    f.y_min = std::pow(10, std::floor(std::log10(min_throughput)));
    f.y_max = std::pow(10, std::ceil(std::log10(max_throughput)));
    s += svg::log_y_ticks(f, [](double y) { return format_count(y); });
  } else {
    const double top = max_throughput > 0 ? max_throughput : 1;
    const double step = svg::nice_step(top, 6);
    f.y_min = 0;
    f.y_max = std::ceil(top / step) * step;
    for (double y = 0; y <= f.y_max + step / 2; y += step) s += svg::y_tick(f, y, format_count(y));
  }
  std::vector<LegendEntry> entries;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    std::string line;
    std::string dots;
    for (const SweepPoint* p : groups[i]) {
      const double x = f.px(p->config.clients);
      const double y = f.py(std::max(p->result.run.throughput_ops_per_s(), f.y_log ? f.y_min : 0.0));
      line += fmt::format("{:.1f},{:.1f} ", x, y);
      dots += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"><title>{}: {} clients, {} ops/s, p50 "
          "{}</title>"
          "</circle>\n",
          x, y, color(i), escape(groups[i].front()->config.series_label()), p->config.clients,
          format_count(p->result.run.throughput_ops_per_s()),
          format_ns(static_cast<double>(p->result.run.latency.value_at_percentile(50))));
    }
    s += fmt::format(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-dasharray=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n",
        color(i), dash(i), line);
    s += dots;
    entries.push_back({groups[i].front()->config.series_label(), color(i), dash(i)});
  }
  return s + "</svg>\n" + svg::legend(entries);
}

// Where percentile `fraction` (0..1) sits on the x axis of a percentile plot: 1 / (1 - fraction), so
// every further nine (90 %, 99 %, 99.9 %, ...) takes as much room as the one before.
double percentile_x(double fraction, double x_max) {
  return fraction >= 1 ? x_max : std::min(x_max, 1 / (1 - fraction));
}

// "90%", "99.9%": the label of the percentile at x = 10^nines.
std::string nines_label(int nines) {
  if (nines == 0) return "0%";
  if (nines <= 2) return fmt::format("{}%", 100 - std::pow(10, 2 - nines));
  return fmt::format("99.{}%", std::string(static_cast<std::size_t>(nines - 2), '9'));
}

// Commit latency against percentile, HdrHistogram style: x = percentile on a log scale of 1/(1-p), so
// the tail (p99.9, p99.99) is as visible as the median; y = latency on a log scale. Each curve is a
// staircase: from one bucket's percentile to the next, the latency is that bucket's.
std::string percentile_chart(const std::vector<const SweepPoint*>& group, double y_min, double y_max,
                             int nines) {
  Frame f{560, 320};
  f.right = 30;  // room for the last percentile's label
  f.x_log = true;
  f.x_min = 1;
  f.x_max = std::pow(10, nines);
  f.y_log = true;
  f.y_min = y_min;
  f.y_max = y_max;
  std::string s = svg::open_svg(f, "percentile (log scale of 1 / (1 - p))", "commit latency (log scale)");
  for (int n = 0; n <= nines; ++n) s += svg::x_tick(f, std::pow(10, n), nines_label(n), true);
  s += svg::x_tick(f, 2, "50%", false);
  s += svg::log_y_ticks(f, [](double y) { return format_ns(y); });
  std::vector<LegendEntry> entries;
  for (std::size_t i = 0; i < group.size(); ++i) {
    const Histogram& h = group[i]->result.run.latency;
    if (h.empty()) continue;
    std::string line;
    double from = 1;
    for (const CdfPoint& point : h.cdf()) {
      const double y = f.py(std::clamp<double>(static_cast<double>(point.value_ns), y_min, y_max));
      const double to = percentile_x(point.fraction, f.x_max);
      line += fmt::format("{:.1f},{:.1f} {:.1f},{:.1f} ", f.px(from), y, f.px(to), y);
      from = to;
    }
    s += fmt::format(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-dasharray=\"{}\" stroke-width=\"1.8\" "
        "points=\"{}\"><title>{} clients: p50 {}, p99 {}, p99.9 {}, p99.99 {}, max {}</title></polyline>\n",
        color(i), dash(i), line, group[i]->config.clients,
        format_ns(static_cast<double>(h.value_at_percentile(50))),
        format_ns(static_cast<double>(h.value_at_percentile(99))),
        format_ns(static_cast<double>(h.value_at_percentile(99.9))),
        format_ns(static_cast<double>(h.value_at_percentile(99.99))),
        format_ns(static_cast<double>(h.max())));
    entries.push_back(
        {fmt::format("{} client{}", group[i]->config.clients, group[i]->config.clients == 1 ? "" : "s"),
         color(i), dash(i)});
  }
  return s + "</svg>\n" + svg::legend(entries);
}

std::string table(std::span<const SweepPoint> points) {
  std::string s =
      "<table>\n<tr><th>nodes</th><th>clients</th><th>pipeline</th><th>payload</th><th>fsync</th><th>wait</"
      "th>"
      "<th>transport</th><th>ops</th><th>ops/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</"
      "th><th>max</th>"
      "<th>CPU/op</th><th>cores</th></tr>\n";
  for (const SweepPoint& p : points) {
    const BenchConfig& c = p.config;
    const Histogram& h = p.result.run.latency;
    const auto ns = [&](double pct) { return format_ns(static_cast<double>(h.value_at_percentile(pct))); };
    const std::string cpu_per_op =
        p.result.node_cpu ? format_ns(p.result.node_cpu->cpu_s_per_op(p.result.run.ops) * 1e9) : "";
    const std::string cores = p.result.node_cpu ? fmt::format("{:.2f}", p.result.node_cpu->cores()) : "";
    s += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{} "
        "B</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        p.result.run.interrupted ? " class=\"interrupted\"" : "", c.nodes, c.clients, c.pipeline,
        c.payload_bytes, escape(c.fsync), escape(c.wait), escape(c.transport), p.result.run.ops,
        format_count(p.result.run.throughput_ops_per_s()), ns(50), ns(90), ns(99), ns(99.9),
        format_ns(static_cast<double>(h.max())), cpu_per_op, cores);
  }
  return s + "</table>\n";
}

}  // namespace

void write_sweep_html(std::ostream& out, std::span<const SweepPoint> points, const std::string& subtitle) {
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<title>shmraft bench sweep</title>\n<style>\n"
         "body{font-family:sans-serif;margin:24px;color:#222}\n"
         "h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px} "
         "h3{font-size:13px;margin:4px 0}\n"
         ".sub{color:#666;margin-top:0}\n"
         ".grid{display:flex;flex-wrap:wrap;gap:18px}\n"
         ".chart{border:1px solid #ddd;padding:8px;box-sizing:border-box;max-width:100%}\n"
         ".grid .chart{flex:1 1 420px;min-width:0;max-width:760px}\n"
         ".wide{overflow-x:auto}\n"
         ".legend{font-size:12px;margin:4px 0 0 60px;max-width:900px}\n"
         ".legend span{display:inline-block;margin-right:14px;white-space:nowrap}\n"
         "table{border-collapse:collapse;font-size:12px}\n"
         "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}\n"
         "tr.interrupted td{color:#b00}\n"
         "</style>\n</head>\n<body>\n<h1>shmraft bench — sweep</h1>\n";
  if (!subtitle.empty()) out << "<p class=\"sub\">" << escape(subtitle) << "</p>\n";
  if (points.empty()) {
    out << "<p>No configuration was measured.</p>\n</body>\n</html>\n";
    return;
  }
  const auto groups = group_by_series(points);
  out << "<h2>Throughput against clients</h2>\n<div class=\"chart\">\n"
      << throughput_chart(groups) << "</div>\n";

  // One latency axis and one percentile axis for every chart, so the charts compare at a glance; the
  // percentile axis goes as far as the largest sample count resolves (one nine per decade of samples).
  uint64_t lowest = UINT64_MAX, highest = 0, most_samples = 0;
  for (const SweepPoint& p : points) {
    if (p.result.run.latency.empty()) continue;
    lowest = std::min(lowest, p.result.run.latency.min());
    highest = std::max(highest, p.result.run.latency.max());
    most_samples = std::max(most_samples, p.result.run.latency.count());
  }
  out << "<h2>Commit latency by percentile per configuration</h2>\n";
  if (highest == 0) {
    out << "<p>No latency was recorded.</p>\n";
  } else {
    const double y_min = std::pow(10, std::floor(std::log10(std::max<double>(lowest, 1))));
    const double y_max =
        std::max(y_min * 10, std::pow(10, std::ceil(std::log10(static_cast<double>(highest) + 1))));
    const int nines =
        std::clamp(static_cast<int>(std::ceil(std::log10(static_cast<double>(most_samples)))), 2, 6);
    out << "<div class=\"grid\">\n";
    for (const auto& group : groups) {
      out << "<div class=\"chart\"><h3>" << escape(group.front()->config.series_label()) << "</h3>\n"
          << percentile_chart(group, y_min, y_max, nines) << "</div>\n";
    }
    out << "</div>\n";
  }
  out << failover_section(points);
  out << "<h2>All figures</h2>\n<div class=\"wide\">" << table(points) << "</div>\n</body>\n</html>\n";
}

}  // namespace shmraft::bench
