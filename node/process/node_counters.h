#pragma once
// What the node writes into its ipc::NodeCounters (ipc gives `role` and `leader` no meaning), for
// `shmraft status`, the launcher and tests.
//
//   role     one of the codes below
//   leader   the leader's node id (1..N) as this node knows it; 0 = none known (as
//            node::ResponseHeader::leader_hint)
//   drops    peer frames not sent (full ring, cut link, drop rate) + client replies not sent (full ring)
//   syncs    msync/fsync calls made by the node's storage
//   bad_frames  peer and client frames skipped: ring resynchronisations, undecodable or misaddressed
//   frames_in / frames_out   peer messages and client requests in; peer messages and client replies out
//   updated_ns  CLOCK_MONOTONIC ns of the node's last loop iteration (a heartbeat of the process; an
//            idle node wakes only for its next timer, every heartbeat interval or so)
//   tcp_port  the node's loopback TCP port under `--transport tcp` (0 = shm), where peers
//            and clients find it
//   oversized  peer messages larger than one peer frame, never sent (also in `drops`). None is
//            expected: a snapshot travels in chunks that fit a frame (snapshot_sender.h), and the core
//            keeps appends within a fraction of a frame
//   death_elections  elections this node started because the kernel said its leader's
//            process died (Core::peer_down), not because its election timeout ran out; compare `elections`.
//            The kernel says so through the death cells, or first through /proc to the stall watch
//            (the leader's main thread exited before the thread whose exit releases its claim ran)
//   stalls_seen / stall_elections  times this follower found its leader's progress counter standing
//            still for --stall-us while the kernel said it was stopped (ipc/progress.h, SIGSTOP) and
//            started a pre-election (Core::peer_down, as after a death), and the elections among them
//            that won their pre-vote; a suspicion refused by the other followers' leases costs nothing more
//   stall_taken_ns  CLOCK_MONOTONIC ns of this node's last such suspicion (as death_taken_ns below)
//   incarnation  this start of the node: larger than every earlier start's (the wall clock, and past
//            what the previous start published here), sent in its responses so a leader notices a
//            follower that restarted and resets its progress (raft::Config::incarnation)
//   progress_resets  followers this node, as leader, found restarted (a newer incarnation) and probed
//            afresh instead of counting the match index the old process had acknowledged
//   lost     non-zero while this node's durable state is lost (a wiped directory of a node that ran
//            before): it votes on nothing until a leader has repaired it (raft/core.h, "Lost state");
//            the value is the lost start's incarnation
//   repairs  lost voters this node, as leader, promoted back after their removal (Core::repairs)
//   votes_granted  real votes (not pre-votes) this node granted (Core::votes_granted), summed over its
//            starts in this segment, so a restart does not hide one: while `lost` is set it must not move
//   voters / learners  the configuration this node holds, latest in its log (raft::NodeSet bits)
//   hard_state_slots_skipped  damaged hard-state slots the last start recovered past (each logged)
//   death_taken_ns / campaign_ns / leader_since_ns  CLOCK_MONOTONIC ns when the node last took a
//            peer's death from the kernel, last began a (pre-)election, last became leader: what
//            `shmraft bench --failover` measures detection and election from
//   sleeps   times the node went to sleep waiting for frames (futex, or epoll under TCP):
//            how often a wait outlasted the spin. Per committed entry it says whether the nodes spin
//            through a busy exchange (well below 1) or fall asleep and pay a wake-up every hop (2+)
#include <cstdint>
#include <string_view>

namespace shmraft::node {

inline constexpr uint64_t kRoleFollower = 0;
inline constexpr uint64_t kRolePreCandidate = 1;
inline constexpr uint64_t kRoleCandidate = 2;
inline constexpr uint64_t kRoleLeader = 3;
inline constexpr uint64_t kRoleStopped = 4;  // the process exited in an orderly way

// "follower", "pre-candidate", "candidate", "leader", "stopped", or "?" for an unknown code.
constexpr std::string_view role_name(uint64_t role) noexcept {
  switch (role) {
    case kRoleFollower:
      return "follower";
    case kRolePreCandidate:
      return "pre-candidate";
    case kRoleCandidate:
      return "candidate";
    case kRoleLeader:
      return "leader";
    case kRoleStopped:
      return "stopped";
  }
  return "?";
}

}  // namespace shmraft::node
