#include "bench/kit/failover_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "bench/kit/units.h"

namespace shmraft::bench {

namespace {

using nlohmann::json;

std::optional<FailoverPercentiles> percentiles_of(std::vector<uint64_t> values_ns) {
  if (values_ns.empty()) return std::nullopt;
  std::sort(values_ns.begin(), values_ns.end());
  // Nearest rank: the smallest value with at least p % of the events at or below it.
  const auto at = [&](double p) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(values_ns.size())));
    return static_cast<double>(values_ns[std::max<std::size_t>(rank, 1) - 1]) / 1000;
  };
  return FailoverPercentiles{values_ns.size(), at(50), at(90), at(99),
                             static_cast<double>(values_ns.back()) / 1000};
}

json percentiles_json(const std::optional<FailoverPercentiles>& p) {
  if (!p) return nullptr;
  return json{{"events", p->events}, {"p50", p->p50}, {"p90", p->p90}, {"p99", p->p99}, {"max", p->max}};
}

json us_or_null(std::optional<uint64_t> ns) {
  if (!ns) return nullptr;
  return static_cast<double>(*ns) / 1000;
}

json signed_us_or_null(std::optional<int64_t> ns) {
  if (!ns) return nullptr;
  return static_cast<double>(*ns) / 1000;
}

// "+57.1 ms", "-120 µs": a stamp relative to the signal.
std::string signed_ns(int64_t ns) {
  return fmt::format("{}{}", ns < 0 ? "-" : "+", format_ns(std::abs(static_cast<double>(ns))));
}

std::string ns_or_none(std::optional<uint64_t> ns, const char* none) {
  return ns ? format_ns(static_cast<double>(*ns)) : none;
}

std::string percentiles_text(const char* what, const std::optional<FailoverPercentiles>& p,
                             std::size_t events) {
  if (!p) return fmt::format("  {:<9} not measured in any event\n", what);
  return fmt::format("  {:<9} p50 {:>9}  p90 {:>9}  p99 {:>9}  max {:>9}{}\n", what, format_ns(p->p50 * 1000),
                     format_ns(p->p90 * 1000), format_ns(p->p99 * 1000), format_ns(p->max * 1000),
                     p->events == events ? "" : fmt::format("  ({} of {} events)", p->events, events));
}

template <typename Figure>
std::string per_event_range(const std::vector<FailoverEvent>& events, Figure figure) {
  uint64_t low = UINT64_MAX, high = 0, sum = 0;
  for (const FailoverEvent& e : events) {
    low = std::min<uint64_t>(low, figure(e));
    high = std::max<uint64_t>(high, figure(e));
    sum += figure(e);
  }
  return low == high ? fmt::format("{} each", low) : fmt::format("{}..{}, {} in all", low, high, sum);
}

}  // namespace

std::optional<FailoverPercentiles> failover_percentiles(const std::vector<FailoverEvent>& events,
                                                        std::optional<uint64_t> FailoverEvent::*figure) {
  std::vector<uint64_t> values;
  for (const FailoverEvent& e : events)
    if (e.*figure) values.push_back(*(e.*figure));
  return percentiles_of(std::move(values));
}

std::optional<FailoverPercentiles> worst_op_percentiles(const std::vector<FailoverEvent>& events) {
  std::vector<uint64_t> values;
  for (const FailoverEvent& e : events) values.push_back(e.worst_op_ns);
  return percentiles_of(std::move(values));
}

std::size_t worse_than_control(const std::vector<FailoverEvent>& events) {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [](const FailoverEvent& e) {
    return e.control_worst_op_ns && e.worst_op_ns > *e.control_worst_op_ns;
  }));
}

namespace {

// "SIGKILL of the leader", "leadership transfer to a follower", ...
std::string cause_text(const FailoverResult& r) {
  if (r.signal == "add") return "add (learner, then promoted) of a new node";
  if (r.signal == "transfer") return "leadership transfer to a follower";
  if (r.signal == "stop") return fmt::format("SIGSTOP of the {}", r.victim);
  return fmt::format("SIGKILL of the {}{}", r.victim,
                     r.restart_cpu == "isolated" ? ", restarted on a CPU of its own" : "");
}

}  // namespace

std::string event_line(const FailoverEvent& e, const FailoverResult& run) {
  std::string line;
  if (run.reconfigures()) {
    line = fmt::format("reconfigure {}/{}: {} node {} (pid {})", e.number, run.events_asked, run.signal,
                       e.victim_node, e.victim_pid);
    if (e.learner_ns) line += fmt::format("  learner {}", ns_or_none(e.learner_ns, "none"));
  } else {
    line = fmt::format("failover {}/{}: {} node {} (pid {}) SIG{}  detect {}", e.number, run.events_asked,
                       e.victim_role, e.victim_node, e.victim_pid, run.signal == "stop" ? "STOP" : "KILL",
                       ns_or_none(e.detect_ns, "none"));
    if (!e.detected_by.empty()) line += fmt::format(" ({})", e.detected_by);
  }
  if (run.signal != "add") line += fmt::format("  elect {}", ns_or_none(e.elect_ns, "none"));
  if (e.new_leader) line += fmt::format(" (node {})", *e.new_leader);
  line += fmt::format("  window {}  worst op {}", ns_or_none(e.window_ns, "none"),
                      format_ns(static_cast<double>(e.worst_op_ns)));
  if (e.worst_op_began_ns) line += fmt::format(" began {}", signed_ns(*e.worst_op_began_ns));
  if (e.control_worst_op_ns)
    line += fmt::format(" (control {})", format_ns(static_cast<double>(*e.control_worst_op_ns)));
  if (e.restart_ns)
    line += fmt::format("  restart at {} (pid {}{})", signed_ns(static_cast<int64_t>(*e.restart_ns)),
                        e.restarted_pid,
                        e.started_ns ? ", recovered " + signed_ns(static_cast<int64_t>(*e.started_ns)) : "");
  line += fmt::format("  elections {}  terms +{}  failed {}  in doubt {}  back in {}", e.elections, e.terms,
                      e.failed_ops, e.in_doubt_ops, format_ns(static_cast<double>(e.recovered_ns)));
  return line;
}

std::vector<std::string> slow_op_lines(const FailoverEvent& e) {
  std::vector<std::string> lines;
  const auto d = [](uint64_t ns) { return format_ns(static_cast<double>(ns)); };
  for (const FailoverSlowOp& op : e.slow_ops) {
    std::string line = fmt::format("    slow op {}: {}", signed_ns(op.began_ns), d(op.total_ns));
    if (op.attempts > 1) line += fmt::format(" ({} attempts)", op.attempts);
    line += " = ";
    // Below a µs it is the client's own bookkeeping between the begin stamp and the send.
    if (op.before_send_ns >= 1000) line += fmt::format("before send {}, ", d(op.before_send_ns));
    line += fmt::format("client→leader {}, persist {}, replication {}, apply {}, leader→client {}",
                        d(op.client_to_leader_ns), d(op.persist_ns), d(op.replication_ns), d(op.apply_ns),
                        d(op.leader_to_client_ns));
    lines.push_back(std::move(line));
  }
  if (e.slow_ops_dropped != 0)
    lines.push_back(fmt::format("    ... {} more slow op{} not kept", e.slow_ops_dropped,
                                e.slow_ops_dropped == 1 ? "" : "s"));
  return lines;
}

std::string to_text(const FailoverResult& r) {
  const std::size_t n = r.events.size();
  std::string out = fmt::format("{}: {} of {} events, {}{}\n", r.reconfigures() ? "reconfigure" : "failover",
                                n, r.events_asked, cause_text(r), r.interrupted ? " (interrupted)" : "");
  if (n == 0) return out;
  out += percentiles_text("window", failover_percentiles(r.events, &FailoverEvent::window_ns), n);
  if (r.signal == "add") {
    out += percentiles_text("learner", failover_percentiles(r.events, &FailoverEvent::learner_ns), n);
  } else {
    if (!r.reconfigures())
      out += percentiles_text("detect", failover_percentiles(r.events, &FailoverEvent::detect_ns), n);
    out += percentiles_text("elect", failover_percentiles(r.events, &FailoverEvent::elect_ns), n);
  }
  out += percentiles_text("worst op", worst_op_percentiles(r.events), n);
  const auto control = failover_percentiles(r.events, &FailoverEvent::control_worst_op_ns);
  out += percentiles_text("control", control, n);
  if (control)
    out += fmt::format(
        "  (control: the worst op of a window as long without the event; the event's was slower "
        "in {} of {})\n",
        worse_than_control(r.events), control->events);
  if (r.quiet_ops != 0) {
    out += fmt::format(
        "  between events ({} ops): p50 {}  p99 {}  p99.9 {}  max {}\n", r.quiet_ops,
        format_ns(static_cast<double>(r.quiet_p50_ns)), format_ns(static_cast<double>(r.quiet_p99_ns)),
        format_ns(static_cast<double>(r.quiet_p999_ns)), format_ns(static_cast<double>(r.quiet_max_ns)));
  }
  if (!r.reconfigures()) {
    std::size_t by_death = 0, by_stall = 0, by_timeout = 0;
    for (const FailoverEvent& e : r.events) {
      by_death += e.detected_by == "death signal";
      by_stall += e.detected_by == "progress stall";
      by_timeout += e.detected_by == "election timeout";
    }
    out += fmt::format(
        "  detected by the death signal {}, by a progress stall {}, by an election timeout {}, not at all "
        "{}\n",
        by_death, by_stall, by_timeout, n - by_death - by_stall - by_timeout);
  }
  if (r.voided_events != 0)
    out += fmt::format("  voided and run again: {} (a leader elected before the signal, not by it)\n",
                       r.voided_events);
  out += fmt::format("  per event: elections {}; terms used {}; failed ops {}; in doubt {}\n",
                     per_event_range(r.events, [](const FailoverEvent& e) { return e.elections; }),
                     per_event_range(r.events, [](const FailoverEvent& e) { return e.terms; }),
                     per_event_range(r.events, [](const FailoverEvent& e) { return e.failed_ops; }),
                     per_event_range(r.events, [](const FailoverEvent& e) { return e.in_doubt_ops; }));
  out += fmt::format("  whole load: {} acknowledged, {} failed, {} in doubt; ", r.acknowledged_ops,
                     r.failed_ops, r.in_doubt_ops);
  if (r.checked) {
    out += fmt::format("read back {} keys: {}\n", r.keys_checked,
                       r.lost_ops == 0 ? "no acknowledged write lost"
                                       : fmt::format("{} ACKNOWLEDGED WRITES LOST", r.lost_ops));
  } else {
    out += "not read back (interrupted)\n";
  }
  return out;
}

namespace {

json slow_ops_json(const std::vector<FailoverSlowOp>& ops) {
  const auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000; };
  json out = json::array();
  for (const FailoverSlowOp& op : ops)
    out.push_back(json{{"began_us", static_cast<double>(op.began_ns) / 1000},
                       {"total_us", us(op.total_ns)},
                       {"attempts", op.attempts},
                       {"before_send_us", us(op.before_send_ns)},
                       {"client_to_leader_us", us(op.client_to_leader_ns)},
                       {"persist_us", us(op.persist_ns)},
                       {"replication_us", us(op.replication_ns)},
                       {"apply_us", us(op.apply_ns)},
                       {"leader_to_client_us", us(op.leader_to_client_ns)}});
  return out;
}

}  // namespace

json to_json(const FailoverResult& r) {
  json events = json::array();
  for (const FailoverEvent& e : r.events) {
    events.push_back(json{{"event", e.number},
                          {"victim_role", e.victim_role},
                          {"victim_node", e.victim_node},
                          {"victim_pid", e.victim_pid},
                          {"detect_us", us_or_null(e.detect_ns)},
                          {"detected_by", e.detected_by.empty() ? json(nullptr) : json(e.detected_by)},
                          {"elect_us", us_or_null(e.elect_ns)},
                          {"new_leader", e.new_leader ? json(*e.new_leader) : json(nullptr)},
                          {"window_us", us_or_null(e.window_ns)},
                          {"learner_us", us_or_null(e.learner_ns)},
                          {"worst_op_us", static_cast<double>(e.worst_op_ns) / 1000},
                          {"control_worst_op_us", us_or_null(e.control_worst_op_ns)},
                          {"elections", e.elections},
                          {"terms", e.terms},
                          {"failed_ops", e.failed_ops},
                          {"in_doubt_ops", e.in_doubt_ops},
                          {"recovered_us", static_cast<double>(e.recovered_ns) / 1000},
                          {"worst_op_began_us", signed_us_or_null(e.worst_op_began_ns)},
                          {"restart_us", us_or_null(e.restart_ns)},
                          {"started_us", us_or_null(e.started_ns)},
                          {"restarted_pid", e.restarted_pid},
                          {"signal_monotonic_ns", e.signal_ns}});
    if (r.slow_op_threshold_ns != 0) {
      json& event = events.back();
      event["slow_ops"] = slow_ops_json(e.slow_ops);
      event["slow_ops_dropped"] = e.slow_ops_dropped;
    }
  }
  json out{
      {"signal", r.signal},
      {"victim", r.victim},
      {"restart_cpu", r.restart_cpu.empty() ? json(nullptr) : json(r.restart_cpu)},
      {"events_asked", r.events_asked},
      {"interrupted", r.interrupted},
      {"voided_events", r.voided_events},
      {"window_us", percentiles_json(failover_percentiles(r.events, &FailoverEvent::window_ns))},
      {"detect_us", percentiles_json(failover_percentiles(r.events, &FailoverEvent::detect_ns))},
      {"elect_us", percentiles_json(failover_percentiles(r.events, &FailoverEvent::elect_ns))},
      {"learner_us", percentiles_json(failover_percentiles(r.events, &FailoverEvent::learner_ns))},
      {"worst_op_us", percentiles_json(worst_op_percentiles(r.events))},
      {"control_worst_op_us",
       percentiles_json(failover_percentiles(r.events, &FailoverEvent::control_worst_op_ns))},
      {"worse_than_control", worse_than_control(r.events)},
      {"quiet_us", r.quiet_ops == 0 ? json(nullptr)
                                    : json{{"ops", r.quiet_ops},
                                           {"p50", static_cast<double>(r.quiet_p50_ns) / 1000},
                                           {"p99", static_cast<double>(r.quiet_p99_ns) / 1000},
                                           {"p999", static_cast<double>(r.quiet_p999_ns) / 1000},
                                           {"max", static_cast<double>(r.quiet_max_ns) / 1000}}},
      {"acknowledged_ops", r.acknowledged_ops},
      {"failed_ops", r.failed_ops},
      {"in_doubt_ops", r.in_doubt_ops},
      {"read_back", r.checked ? json{{"keys", r.keys_checked}, {"lost_ops", r.lost_ops}} : json(nullptr)},
      {"events", std::move(events)}};
  if (r.slow_op_threshold_ns != 0) out["slow_ops_us"] = static_cast<double>(r.slow_op_threshold_ns) / 1000;
  return out;
}

}  // namespace shmraft::bench
