#pragma once
// The pieces every chart of the sweep's HTML report is drawn with: inline SVG that scales to the window's
// width (viewBox, width 100 %), a palette, axes, ticks and legends.
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace shmraft::bench::svg {

// Series i's colour (Tableau 10: distinguishable, readable on white) and dash pattern: beyond the ten
// colours they repeat dashed, then dotted.
const char* color(std::size_t i);
const char* dash(std::size_t i);

// Text made safe for HTML and SVG.
std::string escape(const std::string& text);

// The plotting area of one chart and its axis mappings (linear or log10) onto SVG pixels.
struct Frame {
  double width, height;
  double left = 70, right = 20, top = 20, bottom = 50;
  double x_min = 1, x_max = 10, y_min = 0, y_max = 1;
  bool x_log = false;
  bool y_log = false;

  static double position(double v, double lo, double hi, bool log) {
    return log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
  }
  double px(double x) const { return left + position(x, x_min, x_max, x_log) * (width - left - right); }
  double py(double y) const {
    return height - bottom - position(y, y_min, y_max, y_log) * (height - top - bottom);
  }
};

// 1-2-5 steps giving about `target` ticks from 0 to at least `max`.
double nice_step(double max, int target);

// The <svg> element (left open), its frame and axis labels.
std::string open_svg(const Frame& f, const std::string& x_label, const std::string& y_label);
std::string x_tick(const Frame& f, double x, const std::string& label, bool major);
std::string y_tick(const Frame& f, double y, const std::string& label);
// Labelled ticks at each decade of a log y axis, unlabelled ones at 2 and 5 times it.
std::string log_y_ticks(const Frame& f, const std::function<std::string(double)>& label);

struct LegendEntry {
  std::string label;
  const char* colour;
  const char* dash;
};
std::string legend(const std::vector<LegendEntry>& entries);

}  // namespace shmraft::bench::svg
