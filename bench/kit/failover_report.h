#pragma once
// What `shmraft bench --failover` (issue 13) and `--reconfigure` (issue 12) measured: one record per
// event, the summary over the events, and how both are reported — a line per event while the run goes,
// the text summary, and the `failover` (or `reconfigure`) object of the JSON.
//
// Every figure of an event is a difference of CLOCK_MONOTONIC stamps, all from the same host clock:
//   signal     the benchmark's, taken just before kill(2)
//   detect     the first stamp a surviving node wrote on acting on the failure: it took the peer's death
//              from the kernel (ipc::NodeCounters::death_taken_ns), it saw the leader's progress counter
//              stand still (stall_taken_ns, with --stall-us), or its election timer ran out and it began
//              a (pre-)election (campaign_ns) — which one came first is `detected_by`
//   elect      a node became leader (leader_since_ns)
//   window     the client's receive stamp of the first write the new leader committed (its commit stamp
//              after it became leader); a follower victim: the first write committed after the signal
// A figure nothing produced stays empty: a stopped follower is noticed by no node, and no one is elected.
// A reconfiguration's "signal" is the benchmark's stamp before it asks: `transfer` has elect and window as
// a leader kill (nothing to detect); `add` has learner (the learner's addition applied) and window (its
// promotion applied).
// Each event has a control: a window as long as the event (signal -> back), of the same load with no
// event, taken where the next signal would be sent (every node caught up, writes acknowledged again).
// Its slowest operation is what the event's worst would have been without the event, on this host in
// this run: an event costs an operation only what its worst exceeds its control's.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace shmraft::bench {

// An operation acknowledged during an event that took longer than `--slow-ops-us`, and where its time
// went: the phases of the attempt that was answered (client::Phases), which add up to its total with
// `before_send` (the time before that attempt was sent: earlier attempts, resent after a timeout or a
// redirect). A read (ReadIndex) has persist 0 and its read in apply.
struct FailoverSlowOp {
  int64_t began_ns = 0;   // from the signal (negative: in flight at the signal)
  uint64_t total_ns = 0;  // begin -> the client's receive
  uint32_t attempts = 1;  // sends, retries included
  uint64_t before_send_ns = 0;
  uint64_t client_to_leader_ns = 0;
  uint64_t persist_ns = 0;      // the leader's append to its log, flushed
  uint64_t replication_ns = 0;  // persisted -> committed (a majority has it)
  uint64_t apply_ns = 0;        // committed -> applied by the leader
  uint64_t leader_to_client_ns = 0;
};

struct FailoverEvent {
  uint32_t number = 0;       // 1, 2, ... within the run
  std::string victim_role;   // "leader" | "follower"
  uint64_t victim_node = 0;  // as the nodes' status names it
  int64_t victim_pid = 0;
  std::optional<uint64_t> detect_ns;
  // "death signal" | "progress stall" | "election timeout"; empty when nothing detected it
  std::string detected_by;
  std::optional<uint64_t> elect_ns;
  std::optional<uint64_t> new_leader;  // the node elected, as the status names it
  std::optional<uint64_t> window_ns;
  std::optional<uint64_t> learner_ns;  // `add`: the node started and its addition as a learner applied
  uint64_t worst_op_ns = 0;  // the slowest operation that completed from the signal to the event's end
  // The same of the event's control (unset when the run ended before it).
  std::optional<uint64_t> control_worst_op_ns;
  uint64_t elections = 0;     // elections begun by nodes that ran through the whole event
  uint64_t terms = 0;         // the leader's term at the event's end minus at the signal
  uint64_t failed_ops = 0;    // refused: never took effect
  uint64_t in_doubt_ops = 0;  // outcome unknown: may or may not have taken effect
  uint64_t recovered_ns = 0;  // signal -> the victim back and every node caught up: the event's end
  // Where the worst operation lay: when it began, from the signal (negative: in flight at the signal;
  // unset when none completed), and when a killed victim was started again (its process spawned).
  std::optional<int64_t> worst_op_began_ns;
  std::optional<uint64_t> restart_ns;
  // When the restarted process had recovered its files and runs as the node (its counters name it):
  // the end of its start, and of the CPU it had to itself (launcher/start_isolation.h).
  std::optional<uint64_t> started_ns;
  int64_t restarted_pid = 0;  // the killed victim's new process, 0 when none
  uint64_t signal_ns = 0;     // the signal's CLOCK_MONOTONIC stamp: lines an event up with a trace
  // With --slow-ops-us: the operations slower than it that were acknowledged from the signal to the
  // event's end, by begin stamp, and how many more there were than the clients had room for.
  std::vector<FailoverSlowOp> slow_ops;
  uint64_t slow_ops_dropped = 0;
};

struct FailoverResult {
  std::string
      signal;  // what each event does: "kill" | "stop" (fail-over), "add" | "transfer" (reconfiguration)
  std::string victim;  // "leader" | "follower" | "learner" (the node added)
  // Where a killed victim started again: "isolated" (a CPU of its own until recovered) | "shared"; empty
  // when nothing restarts (SIGSTOP, reconfiguration).
  std::string restart_cpu;
  uint32_t events_asked = 0;
  std::vector<FailoverEvent> events;
  bool interrupted = false;  // Ctrl-C: fewer events than asked
  // Events run again because the victim no longer led at the signal: a leader had been elected in a later
  // term between the benchmark's look at the cluster and its signal (an election it did not cause).
  uint32_t voided_events = 0;
  // The whole load, warm-up included.
  uint64_t acknowledged_ops = 0, failed_ops = 0, in_doubt_ops = 0;
  // Read back after the load: every key's value must be the last acknowledged write to it or a later
  // one (or one whose outcome was unknown). `checked` is false when the run was interrupted first.
  bool checked = false;
  uint64_t keys_checked = 0;
  uint64_t lost_ops = 0;
  // The operations that ran while neither an event nor a control was under way (begun after the last
  // one ended), from the same run.
  uint64_t quiet_ops = 0;
  uint64_t quiet_p50_ns = 0, quiet_p99_ns = 0, quiet_p999_ns = 0, quiet_max_ns = 0;
  uint64_t slow_op_threshold_ns = 0;  // --slow-ops-us; 0: slow operations not recorded

  bool reconfigures() const noexcept { return signal == "add" || signal == "transfer"; }
};

// Nearest-rank percentiles of one figure over the events that have it, in µs; nullopt when none has.
struct FailoverPercentiles {
  std::size_t events = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
std::optional<FailoverPercentiles> failover_percentiles(const std::vector<FailoverEvent>& events,
                                                        std::optional<uint64_t> FailoverEvent::*figure);
std::optional<FailoverPercentiles> worst_op_percentiles(const std::vector<FailoverEvent>& events);
// The events whose worst operation was slower than their control's (of those that have one): about half
// of them when the events cost nothing.
std::size_t worse_than_control(const std::vector<FailoverEvent>& events);

// "failover 3/20: leader node 2 (pid 4242) SIGKILL  detect 38 µs (death signal)  elect 1.20 ms (node 1)
//  window 1.91 ms  worst op 2.03 ms began +1.2 ms (control 310 µs)  restart at +2.5 ms (pid 4260)
//  elections 1  terms +1  failed 0  in doubt 0  back in 212 ms";
// "reconfigure 2/10: add node 4 (pid 4250)  learner 9.1 ms  window 31.2 ms  worst op 1.4 ms  ..."
std::string event_line(const FailoverEvent& event, const FailoverResult& run);
// The lines printed under an event's line with --slow-ops-us (none without), each indented:
// "    slow op +20.4 ms: 5.12 ms = client→leader 16 µs, persist 1 µs, replication 4.98 ms, apply 37 µs,
//  leader→client 88 µs" (one line; "(2 attempts)" after the total and "before send 3.00 ms" first when
// the operation was resent), then "    ... 3 more slow ops not kept" when some were dropped.
std::vector<std::string> slow_op_lines(const FailoverEvent& event);
// The summary: percentiles of window, detect, elect, worst op and its control's; elections, terms and
// failed operations per event; the read-back.
std::string to_text(const FailoverResult& result);
// {"signal", "victim", "events_asked", "window_us": {p50, p90, p99, max}, "detect_us", "elect_us",
//  "learner_us", "worst_op_us", "control_worst_op_us", "worse_than_control" (a count of events),
//  "voided_events", "quiet_us": {ops, p50, p99, p999, max}, "events": [...], ...}; a
// percentile object is null when no event had the figure. With --slow-ops-us (only then) "slow_ops_us"
// and, per event, "slow_ops": [{began_us, total_us, attempts, before_send_us, client_to_leader_us,
// persist_us, replication_us, apply_us, leader_to_client_us}] and "slow_ops_dropped".
nlohmann::json to_json(const FailoverResult& result);

}  // namespace shmraft::bench
