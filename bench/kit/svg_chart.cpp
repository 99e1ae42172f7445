#include "bench/kit/svg_chart.h"

#include <fmt/format.h>

#include <iterator>

namespace shmraft::bench::svg {

namespace {

constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
}  // namespace

const char* color(std::size_t i) {
  return kPalette[i % std::size(kPalette)];
}

std::string escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

const char* dash(std::size_t i) {
  constexpr const char* kDashes[] = {"", "6,3", "2,3"};
  return kDashes[(i / std::size(kPalette)) % std::size(kDashes)];
}

double nice_step(double max, int target) {
  const double raw = max / target;
  const double decade = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * decade >= raw) return m * decade;
  }
  return 10 * decade;
}

std::string open_svg(const Frame& f, const std::string& x_label, const std::string& y_label) {
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" preserveAspectRatio=\"xMinYMin "
      "meet\" "
      "style=\"width:100%;height:auto;display:block\" font-family=\"sans-serif\" font-size=\"11\">\n",
      f.width, f.height);
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#999\"/>\n",
                   f.left, f.top, f.width - f.left - f.right, f.height - f.top - f.bottom);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                   (f.left + f.width - f.right) / 2, f.height - 8, escape(x_label));
  s += fmt::format("<text transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   (f.top + f.height - f.bottom) / 2, escape(y_label));
  return s;
}

std::string x_tick(const Frame& f, double x, const std::string& label, bool major) {
  const double p = f.px(x);
  std::string s = fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{3}\"/>\n",
                              p, f.top, f.height - f.bottom, major ? "#ccc" : "#eee");
  if (!label.empty()) {
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", p,
                     f.height - f.bottom + 15, escape(label));
  }
  return s;
}

std::string y_tick(const Frame& f, double y, const std::string& label) {
  const double p = f.py(y);
  return fmt::format(
      "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>\n"
      "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
      f.left, f.width - f.right, p, f.left - 5, p + 4, escape(label));
}

std::string legend(const std::vector<LegendEntry>& entries) {
  std::string s = "<div class=\"legend\">";
  for (const LegendEntry& e : entries) {
    s += fmt::format(
        "<span><svg width=\"22\" height=\"10\"><line x1=\"1\" y1=\"5\" x2=\"21\" y2=\"5\" stroke=\"{}\" "
        "stroke-width=\"3\" stroke-dasharray=\"{}\"/></svg> {}</span>",
        e.colour, e.dash, escape(e.label));
  }
  return s + "</div>\n";
}

std::string log_y_ticks(const Frame& f, const std::function<std::string(double)>& label) {
  std::string s;
  for (double decade = f.y_min; decade <= f.y_max * 1.001; decade *= 10) {
    s += y_tick(f, decade, label(decade));
    for (double m : {2.0, 5.0}) {
      if (decade * m < f.y_max) s += y_tick(f, decade * m, "");
    }
  }
  return s;
}

}  // namespace shmraft::bench::svg
