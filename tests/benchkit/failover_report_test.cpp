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

TEST(FailoverReport, TheSummaryAndJsonSayWhereAKilledNodeRestarted) {
  FailoverResult r = sample(1);
  EXPECT_TRUE(to_json(r)["restart_cpu"].is_null()) << "nothing restarted, nothing said";
  r.restart_cpu = "isolated";
  EXPECT_NE(to_text(r).find("SIGKILL of the leader, restarted on a CPU of its own"), std::string::npos)
      << to_text(r);
  EXPECT_EQ(to_json(r)["restart_cpu"], "isolated");
  r.restart_cpu = "shared";
  EXPECT_EQ(to_text(r).find("CPU of its own"), std::string::npos) << to_text(r);
  EXPECT_EQ(to_json(r)["restart_cpu"], "shared");
}

TEST(FailoverReport, TheEventLineAndJsonSayWhereTheWorstOperationLay) {
  FailoverResult r = sample(2);
  r.events[0].worst_op_began_ns = 57'100'000;
  r.events[0].restart_ns = 52'000'000;
  r.events[0].restarted_pid = 4260;
  r.events[0].started_ns = 71'500'000;
  r.events[1].worst_op_began_ns = -120'000;  // in flight at the signal
  EXPECT_NE(
      event_line(r.events[0], r).find("began +57.1 ms  restart at +52.0 ms (pid 4260, recovered +71.5 ms)"),
      std::string::npos)
      << event_line(r.events[0], r);
  EXPECT_NE(event_line(r.events[1], r).find("began -120 µs  elections"), std::string::npos)
      << event_line(r.events[1], r);
  const nlohmann::json j = to_json(r);
  EXPECT_DOUBLE_EQ(j["events"][0]["worst_op_began_us"].get<double>(), 57'100);
  EXPECT_DOUBLE_EQ(j["events"][0]["restart_us"].get<double>(), 52'000);
  EXPECT_EQ(j["events"][0]["restarted_pid"], 4260);
  EXPECT_DOUBLE_EQ(j["events"][0]["started_us"].get<double>(), 71'500);
  EXPECT_DOUBLE_EQ(j["events"][1]["worst_op_began_us"].get<double>(), -120);
  EXPECT_TRUE(j["events"][1]["restart_us"].is_null());
  EXPECT_TRUE(j["events"][1]["started_us"].is_null());
}

// Each event's control (the worst op of a window as long with no event) stands beside its worst op: in
// the line, the summary with how many events were slower than theirs, and the JSON; an event whose run
// ended before its control has none, and is left out of the count.
TEST(FailoverReport, EachEventsWorstOperationStandsBesideItsControls) {
  FailoverResult r = sample(3);                 // worst ops 2, 4, 6 ms
  r.events[0].control_worst_op_ns = 3'000'000;  // the event was faster than its control
  r.events[1].control_worst_op_ns = 1'000'000;
  EXPECT_EQ(worse_than_control(r.events), 1u);
  EXPECT_NE(event_line(r.events[1], r).find("worst op 4.00 ms (control 1.00 ms)"), std::string::npos)
      << event_line(r.events[1], r);
  EXPECT_EQ(event_line(r.events[2], r).find("control"), std::string::npos) << event_line(r.events[2], r);
  const std::string text = to_text(r);
  EXPECT_NE(text.find("control   p50"), std::string::npos) << text;
  EXPECT_NE(text.find("(2 of 3 events)"), std::string::npos) << text;
  EXPECT_NE(text.find("the event's was slower in 1 of 2"), std::string::npos) << text;
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["worse_than_control"], 1);
  EXPECT_EQ(j["control_worst_op_us"]["events"], 2);
  EXPECT_DOUBLE_EQ(j["control_worst_op_us"]["max"].get<double>(), 3000);
  EXPECT_DOUBLE_EQ(j["events"][1]["control_worst_op_us"].get<double>(), 1000);
  EXPECT_TRUE(j["events"][2]["control_worst_op_us"].is_null());

  const FailoverResult none = sample(2);
  EXPECT_NE(to_text(none).find("control   not measured in any event"), std::string::npos) << to_text(none);
  EXPECT_TRUE(to_json(none)["control_worst_op_us"].is_null());
}

TEST(FailoverReport, EventsRunAgainAreCountedInTheSummaryAndJson) {
  FailoverResult r = sample(2);
  EXPECT_EQ(to_text(r).find("voided"), std::string::npos) << "none voided, nothing said";
  EXPECT_EQ(to_json(r)["voided_events"], 0);
  r.voided_events = 1;
  EXPECT_NE(to_text(r).find("voided and run again: 1 (a leader elected before the signal, not by it)"),
            std::string::npos)
      << to_text(r);
  EXPECT_EQ(to_json(r)["voided_events"], 1);
}

// A write at +20.36 ms from the signal: 5.122 ms, of which replication took 4.98 ms.
FailoverSlowOp slow_write() {
  FailoverSlowOp op;
  op.began_ns = 20'360'000;
  op.total_ns = 5'122'000;
  op.client_to_leader_ns = 16'000;
  op.persist_ns = 1'000;
  op.replication_ns = 4'980'000;
  op.apply_ns = 37'000;
  op.leader_to_client_ns = 88'000;
  return op;
}

TEST(FailoverReport, EachSlowOperationHasALineWithItsPhasesAndTheDroppedAreCounted) {
  FailoverResult r = sample(1);
  r.slow_op_threshold_ns = 1'000'000;
  FailoverEvent& e = r.events[0];
  EXPECT_TRUE(slow_op_lines(e).empty()) << "no slow operation, no line";
  e.slow_ops.push_back(slow_write());
  FailoverSlowOp resent = slow_write();
  resent.began_ns = -1'500'000;  // in flight at the signal, answered by the second attempt
  resent.total_ns = 8'122'000;
  resent.attempts = 2;
  resent.before_send_ns = 3'000'000;
  e.slow_ops.push_back(resent);
  e.slow_ops_dropped = 3;
  const std::vector<std::string> lines = slow_op_lines(e);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "    slow op +20.4 ms: 5.12 ms = client→leader 16.0 µs, persist 1.00 µs, replication 4.98 ms, "
            "apply 37.0 µs, leader→client 88.0 µs");
  EXPECT_EQ(
      lines[1],
      "    slow op -1.50 ms: 8.12 ms (2 attempts) = before send 3.00 ms, client→leader 16.0 µs, persist "
      "1.00 µs, replication 4.98 ms, apply 37.0 µs, leader→client 88.0 µs");
  EXPECT_EQ(lines[2], "    ... 3 more slow ops not kept");
  EXPECT_EQ(event_line(e, r).find('\n'), std::string::npos) << "the event line stays one line";
}

TEST(FailoverReport, JsonHasTheSlowOperationsOnlyWhenAsked) {
  FailoverResult r = sample(2);
  for (const char* key : {"slow_ops", "slow_ops_dropped"})
    EXPECT_FALSE(to_json(r)["events"][0].contains(key)) << key;
  EXPECT_FALSE(to_json(r).contains("slow_ops_us"));

  r.slow_op_threshold_ns = 1'000'000;
  FailoverSlowOp read = slow_write();  // a ReadIndex read: nothing to persist, the read in apply
  read.began_ns = -250'000;
  read.persist_ns = 0;
  r.events[0].slow_ops = {read, slow_write()};
  r.events[0].slow_ops_dropped = 7;
  const nlohmann::json j = to_json(r);
  EXPECT_DOUBLE_EQ(j["slow_ops_us"].get<double>(), 1000);
  const nlohmann::json& ops = j["events"][0]["slow_ops"];
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_DOUBLE_EQ(ops[0]["began_us"].get<double>(), -250);
  EXPECT_DOUBLE_EQ(ops[0]["persist_us"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(ops[1]["began_us"].get<double>(), 20'360);
  EXPECT_DOUBLE_EQ(ops[1]["total_us"].get<double>(), 5'122);
  EXPECT_EQ(ops[1]["attempts"], 1);
  EXPECT_DOUBLE_EQ(ops[1]["before_send_us"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(ops[1]["client_to_leader_us"].get<double>(), 16);
  EXPECT_DOUBLE_EQ(ops[1]["persist_us"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(ops[1]["replication_us"].get<double>(), 4'980);
  EXPECT_DOUBLE_EQ(ops[1]["apply_us"].get<double>(), 37);
  EXPECT_DOUBLE_EQ(ops[1]["leader_to_client_us"].get<double>(), 88);
  EXPECT_EQ(j["events"][0]["slow_ops_dropped"], 7);
  // An event without a slow operation says so rather than leaving the field out.
  EXPECT_TRUE(j["events"][1]["slow_ops"].is_array());
  EXPECT_TRUE(j["events"][1]["slow_ops"].empty());
  EXPECT_EQ(j["events"][1]["slow_ops_dropped"], 0);
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
