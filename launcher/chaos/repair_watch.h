#pragma once
// The judge of repairs in `shmraft chaos --storage-faults`: a node restarted on damage (storage_faults.h)
// must report itself lost from its new process, then within a bound be a member again in the role it had
// — a voter again if it was one (the leader takes a lost voter out and back in), else a learner — that is
// no longer lost, read from the node's counters in the segment, as `shmraft status` reads them. A node
// that leaves the configuration meanwhile (`--membership` removed it) is no longer judged. A lost node
// must grant no vote (issue 14): its `votes_granted`, summed over its starts, must not rise above what it
// was at the damaged restart while two reads in a row find it lost (a vote granted and a repair
// completed within a read or two, ~1 ms apart, would go unseen). (Header-only:
// the launcher's source list is not this directory's to change.)
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipc/segment.h"
#include "node/raft/conf_state.h"

namespace shmraft::launcher {

class RepairWatch {
 public:
  using Clock = std::chrono::steady_clock;

  // `lost_lines(node)`: how many times the node's log says it started lost. It is read only when the
  // counters missed a lost state shorter than the poll (a repair within milliseconds).
  RepairWatch(ipc::Segment& segment, std::chrono::milliseconds bound,
              std::function<std::size_t(uint32_t)> lost_lines)
      : segment_(segment), bound_(bound), lost_lines_(std::move(lost_lines)) {}

  // Node `node` — a voter before if `was_voter`, else a learner — was restarted as `pid` on damage (its
  // kind, for the log) and must start lost. `lost_lines_before`: lost_lines(node) read before that start
  // (read after it, it may already count the new process's line: a release build logs it within 1 ms).
  void expect_lost(uint32_t node, bool was_voter, pid_t pid, std::string damage,
                   std::size_t lost_lines_before) {
    watched_[node] = Watched{pid,   was_voter,       std::move(damage), Clock::now(), std::nullopt,
                             false, published(node), lost_lines_before, votes(node),  false,
                             false};
  }
  // Node `node`, running as `pid` (a voter in its own configuration if `was_voter`), reports lost although
  // this restart brought no damage (a hard-state write torn by a kill, which recovery takes for damage;
  // a removed node's lost files brought back by a later add): judged like a damaged one from now on.
  void adopt_lost(uint32_t node, bool was_voter, pid_t pid) {
    watched_[node] = Watched{pid,
                             was_voter,
                             "lost without damage injected at this restart",
                             Clock::now(),
                             0.0,
                             false,
                             published(node),
                             0,
                             votes(node),
                             false,
                             false};
  }
  // Node `node` left the configuration: its repair is not judged. Returns whether it was watched.
  bool forget(uint32_t node) { return watched_.erase(node) > 0; }
  // A watched node was killed and started again as `pid`: its lost mark is durable, so the new process
  // reports it too, and the bound keeps running from the damaged restart.
  void restarted(uint32_t node, pid_t pid) {
    if (const auto it = watched_.find(node); it != watched_.end()) it->second.pid = pid;
  }

  bool watching(uint32_t node) const { return watched_.contains(node); }
  // Nodes restarted on damage and not repaired yet (failed ones included: they stay damaged).
  std::size_t unrepaired() const { return watched_.size(); }
  // Whether some watched node has not been seen lost yet: the repair may follow within milliseconds,
  // so the caller polls every millisecond until then.
  bool awaiting_lost() const {
    for (const auto& [node, w] : watched_) {
      if (!w.lost_seen && !w.failed) return true;
    }
    return false;
  }

  // Reads every watched node's counters; returns a line for each node seen lost and each repair, and
  // records a failure for a node past the bound.
  std::vector<std::string> poll() {
    std::vector<std::string> lines;
    const auto now = Clock::now();
    for (auto it = watched_.begin(); it != watched_.end();) {
      const uint32_t node = it->first;
      Watched& w = it->second;
      const ipc::NodeCountersSnapshot c = segment_.node_counters(node).snapshot();
      // Written by the new process: its pid, and a heartbeat after the restart (the pid is set before the
      // first heartbeat, while the rest still holds what the process before published).
      const bool current = static_cast<pid_t>(c.pid) == w.pid && c.updated_ns > w.published_before;
      if (current && c.lost != 0 && !w.lost_seen) {
        w.lost_seen = seconds(now - w.restarted);
        lines.push_back(fmt::format("node {} reports lost {:.3f} s after its damaged restart (mark {})", node,
                                    *w.lost_seen, c.lost));
      }
      // A rise is judged on the next read too: the two counters are read one after the other, so one
      // read can pair a lost mark the node has just cleared with a vote it granted after its repair.
      const bool rose_while_lost = current && c.lost != 0 && c.votes_granted > w.votes_before;
      if (rose_while_lost && w.vote_rise_seen && !w.voted_while_lost) {
        w.voted_while_lost = true;
        failures_.push_back(fmt::format("node {} granted {} vote(s) while lost (mark {}, {})", node,
                                        c.votes_granted - w.votes_before, c.lost, w.damage));
        lines.push_back(failures_.back());
      }
      w.vote_rise_seen = rose_while_lost;
      // Back in the role it had: a voter is promoted back only after it left lost mode as a learner.
      const raft::NodeSet role = raft::NodeSet::from_bits(w.was_voter ? c.voters : c.voters | c.learners);
      const bool repaired = current && c.lost == 0 && role.contains(node);
      if (repaired && !w.lost_seen && lost_lines_(node) > w.lost_lines_before) {
        w.lost_seen = seconds(now - w.restarted);
        lines.push_back(
            fmt::format("node {} was lost and repaired between two reads of its counters; its log "
                        "says it started lost",
                        node));
      }
      if (repaired && w.lost_seen) {
        const double took = seconds(now - w.restarted);
        repair_seconds_.push_back(took);
        lines.push_back(
            fmt::format("node {} repaired: a {} again, no longer lost, {:.3f} s after its damaged "
                        "restart ({})",
                        node, w.was_voter ? "voter" : "member", took, w.damage));
        it = watched_.erase(it);
        continue;
      }
      if (!w.failed && now - w.restarted > bound_) {
        w.failed = true;
        failures_.push_back(fmt::format(
            "node {}, restarted on damage ({}), {} within {} ms (counters: pid {}, lost {}, voters {}, "
            "learners {})",
            node, w.damage, w.lost_seen ? not_repaired(w) : "never reported itself lost", bound_.count(),
            c.pid, c.lost, fmt::join(raft::NodeSet::from_bits(c.voters).ids(), ","),
            fmt::join(raft::NodeSet::from_bits(c.learners).ids(), ",")));
        lines.push_back(failures_.back());
      }
      ++it;
    }
    return lines;
  }

  // At the end of the run: every node still watched failed (one repaired before it was ever seen lost
  // included — its counters never said it was lost).
  void finish() {
    const auto now = Clock::now();
    for (auto& [node, w] : watched_) {
      if (w.failed) continue;
      w.failed = true;
      failures_.push_back(fmt::format(
          "node {}, restarted on damage ({}), {} by the end of the run, {:.3f} s later", node, w.damage,
          w.lost_seen ? not_repaired(w) : "never reported itself lost", seconds(now - w.restarted)));
    }
  }

  // The repairs done, in seconds from the damaged restart to a voter again.
  const std::vector<double>& repair_seconds() const noexcept { return repair_seconds_; }
  const std::vector<std::string>& failures() const noexcept { return failures_; }

 private:
  struct Watched {
    pid_t pid = 0;
    bool was_voter = true;
    std::string damage;
    Clock::time_point restarted;
    std::optional<double> lost_seen;  // seconds after the restart
    bool failed = false;
    uint64_t published_before = 0;  // the counters' heartbeat at the restart
    std::size_t lost_lines_before = 0;
    uint64_t votes_before = 0;    // votes_granted at the restart, over every start before it
    bool vote_rise_seen = false;  // the last read found a rise while lost: the next one confirms it
    bool voted_while_lost = false;
  };

  static const char* not_repaired(const Watched& w) {
    return w.was_voter ? "was not repaired into a voter" : "was not repaired into a member";
  }

  uint64_t published(uint32_t node) { return segment_.node_counters(node).snapshot().updated_ns; }
  uint64_t votes(uint32_t node) { return segment_.node_counters(node).snapshot().votes_granted; }

  static double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

  ipc::Segment& segment_;
  std::chrono::milliseconds bound_;
  std::function<std::size_t(uint32_t)> lost_lines_;
  std::map<uint32_t, Watched> watched_;
  std::vector<double> repair_seconds_;
  std::vector<std::string> failures_;
};

}  // namespace shmraft::launcher
