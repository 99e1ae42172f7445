#pragma once
// The events of `shmraft bench --failover` (issue 13) and `--reconfigure` (issue 12), run against a
// BenchCluster while the load runs:
//
//   for each event: wait until every node is alive, knows the leader and has applied what the leader had
//   committed, and writes are being acknowledged; stamp the signal and send it to the victim (the leader,
//   or a follower taken in turn); watch the nodes' stamps (ipc::NodeCounters death_taken_ns, campaign_ns,
//   leader_since_ns) and the clients' acknowledgements until the new leader has acknowledged a write;
//   then restart the killed node (SIGCONT a stopped one) and wait until it has caught up — the event's
//   end; then, where the next signal would go, the event's control: a window as long, with no event
//   (bench/kit/failover_report.h). A line per event goes to stderr once its control has ended.
// A reconfiguration is the same kind of event with a change asked of the leader instead of a signal:
//   transfer   leadership to a follower (each in turn); the window ends as a leader kill's does, with
//              the first write the new leader acknowledges;
//   add        node N+1 started, added as a learner and promoted; the window ends when the leader answers
//              the promotion (applied); then the node is removed and stopped again, so every event starts
//              from the same voters (its directory is kept: it rejoins with what it had).
//
// Nodes are named only as the cluster's status names them, and victims are found by pid: the driver
// does no arithmetic on node numbers.
#include <sys/types.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "bench/kit/bench_config.h"
#include "bench/kit/failover_report.h"
#include "bench/kit/stop_flag.h"
#include "ipc/counters.h"
#include "launcher/bench/bench_cluster.h"
#include "launcher/bench/failover_options.h"
#include "launcher/bench/failover_tap.h"
#include "launcher/client/admin_client.h"

namespace shmraft::bench {

// A survivor of a leader's loss that leads in a term after the victim's since before the signal: an
// election the benchmark did not cause came between its look at the cluster and its signal, and the
// victim no longer led when it was signalled.
bool elected_before_signal(const ipc::NodeCountersSnapshot& survivor, uint64_t victim_term,
                           uint64_t signal_ns);

class FailoverDriver {
 public:
  // `line_prefix` starts every event line (e.g. "[2/6] " in a sweep).
  FailoverDriver(const FailoverSpec& spec, const BenchConfig& config, BenchCluster& cluster, StopFlag& stop,
                 std::string line_prefix);

  // What the load's clients report to (LoadSpec::observer).
  LoadObserver& observer() noexcept { return tap_; }

  // Runs the events on the calling thread, which must be the one that started the cluster (a node dies
  // with the thread that forked it), then raises `stop` to end the load. Returns early when `stop` is
  // raised by someone else (Ctrl-C). Never throws: a failure is kept for finish() and raises `stop`.
  void run() noexcept;

  // Once the load has ended, with the cluster still up: rethrows what run() failed with, reads every
  // written key back (unless interrupted), and returns what was measured. Clears `stop` if run() raised
  // it only to end the load, so the run does not count as interrupted.
  FailoverResult finish();

 private:
  // Event `number`; run again (and counted in FailoverResult::voided_events) when the victim turns out
  // not to have led at the signal. nullopt if stopped first.
  std::optional<FailoverEvent> run_event(uint32_t number);
  // Waits as run_event() does before its signal, then records a window as long as event `e` with no
  // event in it: fills e's control. False if stopped first.
  bool run_control(FailoverEvent& e);
  // What watch_until_acknowledged() watches.
  struct Watched {
    uint32_t number;  // the event's
    uint32_t window;  // the tap's window the event's operations go to
    uint64_t signal_ns;
    uint64_t victim_term;   // the leader's term when the victim was chosen
    bool leadership_moves;  // a leader's loss, or a transfer
  };
  struct WatchEnd {
    bool stopped = false;
    std::optional<uint64_t> elected_before;  // the node of a survivor elected_before_signal()
  };
  // Watches the nodes' stamps and the clients' acknowledgements from the signal until a write is
  // acknowledged (by a new leader if leadership moves); fills the event's detect, elect and window.
  WatchEnd watch_until_acknowledged(const Watched& watched, FailoverEvent& e);
  // `--reconfigure add`: starts node N+1, adds and promotes it, its operations recorded in the tap's
  // `window`; returns the event's start (nullopt if stopped). remove_joined() takes it out again once the
  // event is measured.
  std::optional<uint64_t> add_and_promote(uint32_t window, FailoverEvent& e);
  void remove_joined(uint32_t node);
  // Asks the leader for `op`, again while it is busy with another change or the learner catches up.
  // Throws launcher::LauncherError on a refusal or when no leader answered.
  client::AdminOutcome ask(node::AdminOp op, uint32_t node);
  // Until node `node` runs as process `pid` (its counters say so once it has recovered its files):
  // false on Ctrl-C; throws launcher::LauncherError after kCatchUpTimeoutNs, or at once if the process
  // exited first.
  bool wait_until_started(uint32_t node, pid_t pid);
  // Until every node is alive, knows the current leader and has applied what the leader had committed
  // when the wait began, and `settle_acks` more writes were acknowledged. False if stopped first.
  bool wait_until_caught_up(uint64_t settle_acks);
  // The writes acknowledged after the catch-up before a signal: enough that every client is writing
  // again, not only the first to find the leader.
  uint64_t settle_acks() const;
  // Sleeps `ms`; false (at once) if `stop` was raised.
  bool pause(uint32_t ms) const;

  const FailoverSpec& spec_;
  const BenchConfig& config_;
  BenchCluster& cluster_;
  StopFlag& stop_;
  std::string line_prefix_;
  FailoverTap tap_;
  uint32_t windows_ = 0;  // the tap's windows armed so far: each event, each control, each event run again
  std::optional<client::AdminClient> admin_;  // --reconfigure
  FailoverResult result_;
  bool ended_the_load_ = false;
  std::exception_ptr error_;
};

}  // namespace shmraft::bench
