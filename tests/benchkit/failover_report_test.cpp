// The fail-over report (issue 13): nearest-rank percentiles over the events that have a figure, the
// JSON's `failover` object with nulls for what no event measured, and the sweep's fail-over chart.
#include "bench/kit/failover_report.h"

#include <gtest/gtest.h>

#include <sstream>

#include "bench/kit/failover_html.h"
#include "bench/kit/sweep_html.h"

namespace shmraft::bench {
namespace {

// Events whose window is 1..n ms, detected by the death signal at 10 µs each; no one elected.
FailoverResult sample(uint32_t n) {
  FailoverResult r;
  r.signal = "kill";
  r.victim = "leader";
  r.events_asked = n;
  for (uint32_t i = 1; i <= n; ++i) {
    FailoverEvent e;
    e.number = i;
    e.victim_role = "leader";
    e.window_ns = uint64_t{i} * 1'000'000;
    e.detect_ns = 10'000;
    e.detected_by = "death signal";
    e.worst_op_ns = uint64_t{i} * 2'000'000;
    r.events.push_back(e);
  }
  r.checked = true;
  r.keys_checked = 5;
  return r;
}

TEST(FailoverReport, PercentilesAreNearestRankOverTheEventsThatHaveTheFigure) {
  const FailoverResult r = sample(100);
  const auto window = failover_percentiles(r.events, &FailoverEvent::window_ns);
  ASSERT_TRUE(window);
  EXPECT_EQ(window->events, 100u);
  EXPECT_DOUBLE_EQ(window->p50, 50'000);
  EXPECT_DOUBLE_EQ(window->p90, 90'000);
  EXPECT_DOUBLE_EQ(window->p99, 99'000);
  EXPECT_DOUBLE_EQ(window->max, 100'000);
  EXPECT_FALSE(failover_percentiles(r.events, &FailoverEvent::elect_ns));
  const auto one = failover_percentiles(sample(1).events, &FailoverEvent::window_ns);
  ASSERT_TRUE(one);
  EXPECT_DOUBLE_EQ(one->p50, 1000);
  EXPECT_DOUBLE_EQ(one->p99, 1000);
}

TEST(FailoverReport, JsonHasThePercentileObjectsAndOneObjectPerEvent) {
  const nlohmann::json j = to_json(sample(3));
  for (const char* key : {"window_us", "detect_us", "worst_op_us"}) {
    ASSERT_TRUE(j[key].is_object()) << key;
    for (const char* p : {"p50", "p90", "p99", "max"}) EXPECT_TRUE(j[key].contains(p)) << key << " " << p;
  }
  EXPECT_TRUE(j["elect_us"].is_null());  // no event elected anyone
  ASSERT_EQ(j["events"].size(), 3u);
  EXPECT_DOUBLE_EQ(j["events"][2]["window_us"].get<double>(), 3000);
  EXPECT_TRUE(j["events"][0]["elect_us"].is_null());
  EXPECT_EQ(j["read_back"]["lost_ops"], 0);
}

TEST(FailoverReport, TextSaysWhatWasNotMeasuredAndALoss) {
  FailoverResult r = sample(2);
  r.lost_ops = 1;
  const std::string text = to_text(r);
  EXPECT_NE(text.find("elect     not measured"), std::string::npos) << text;
  EXPECT_NE(text.find("1 ACKNOWLEDGED WRITES LOST"), std::string::npos) << text;
  EXPECT_NE(event_line(r.events[0], r).find("failover 1/2: leader"), std::string::npos);
}

TEST(FailoverReport, TheEventLineAndJsonSayWhereTheWorstOperationLay) {
  FailoverResult r = sample(2);
  r.events[0].worst_op_began_ns = 57'100'000;
  r.events[0].restart_ns = 52'000'000;
  r.events[0].restarted_pid = 4260;
  r.events[1].worst_op_began_ns = -120'000;  // in flight at the signal
  EXPECT_NE(event_line(r.events[0], r).find("began +57.1 ms  restart at +52.0 ms (pid 4260)"),
            std::string::npos)
      << event_line(r.events[0], r);
  EXPECT_NE(event_line(r.events[1], r).find("began -120 µs  elections"), std::string::npos)
      << event_line(r.events[1], r);
  const nlohmann::json j = to_json(r);
  EXPECT_DOUBLE_EQ(j["events"][0]["worst_op_began_us"].get<double>(), 57'100);
  EXPECT_DOUBLE_EQ(j["events"][0]["restart_us"].get<double>(), 52'000);
  EXPECT_EQ(j["events"][0]["restarted_pid"], 4260);
  EXPECT_DOUBLE_EQ(j["events"][1]["worst_op_began_us"].get<double>(), -120);
  EXPECT_TRUE(j["events"][1]["restart_us"].is_null());
}

TEST(FailoverReport, SweepHtmlHasTheChartOnlyWhenAPointMeasuredFailovers) {
  const std::vector<SweepPoint> plain(1);
  EXPECT_EQ(failover_section(plain), "");
  std::vector<SweepPoint> points(2);
  points[0].failover = sample(4);
  points[1].config.clients = 16;
  points[1].failover = sample(8);
  std::ostringstream out;
  write_sweep_html(out, points);
  const std::string html = out.str();
  EXPECT_NE(html.find("Fail-over"), std::string::npos);
  EXPECT_NE(html.find("window over 8 events"), std::string::npos);
  EXPECT_NE(html.find("3n 16c"), std::string::npos);      // the point's label
  EXPECT_EQ(html.find("elect over"), std::string::npos);  // nothing elected: no mark
}

}  // namespace
}  // namespace shmraft::bench
