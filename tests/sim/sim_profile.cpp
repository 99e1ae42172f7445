#include "tests/sim/sim_profile.h"

#include <stdexcept>

namespace shmraft::sim {

const char* to_string(StorageFault fault) {
  switch (fault) {
    case StorageFault::kWipe:
      return "wipe";
    case StorageFault::kHardState:
      return "hard state";
    case StorageFault::kLogSuffix:
      return "log suffix";
    case StorageFault::kTornTail:
      return "torn tail";
  }
  return "?";
}

namespace {

std::vector<SimProfile> make_profiles() {
  std::vector<SimProfile> profiles;

  SimProfile three;  // the defaults: three nodes, PreVote and CheckQuorum, every fault
  three.name = "three";
  three.isolate_leader = 15;
  three.crash_leader = 5;
  three.doom_new_leader = 100;
  profiles.push_back(three);

  // As the node process runs it: a new commit index waits for the next append or heartbeat.
  SimProfile lazy = three;
  lazy.name = "lazycommit";
  lazy.broadcast_commit = false;
  profiles.push_back(lazy);

  SimProfile five = three;
  five.name = "five";
  five.nodes = 5;
  profiles.push_back(five);

  // Plain Figure 2 elections: without PreVote and CheckQuorum, terms race and leaders are deposed often.
  SimProfile plain = five;
  plain.name = "plain";
  plain.pre_vote = false;
  plain.check_quorum = false;
  profiles.push_back(plain);

  // Leaders come and go quickly while entries of older terms are still replicating: the Figure 8 setting.
  // Faults aim at whoever leads, and plain elections let any node with an up-to-date log take over.
  SimProfile churn = plain;
  churn.name = "churn";
  churn.chaos_ticks = 400;
  churn.partition = 30;
  churn.isolate_leader = 40;
  churn.heal = 80;
  churn.crash = 15;
  churn.crash_leader = 15;
  churn.doom_new_leader = 250;
  churn.restart = 100;
  churn.transfer = 15;
  churn.propose = 700;
  churn.drop = 80;
  churn.max_msg_bytes = 1;  // one entry per AppendEntries: a new leader's no-op travels apart from the
                            // older entries before it, as the paper's Figure 8 assumes
  // One entry per message and 4 in flight replicate a few entries per tick, so a follower that missed
  // hundreds of entries needs hundreds of ticks to catch up once healed.
  churn.converge_bound_ticks = 600;
  profiles.push_back(churn);

  // Churn on three nodes with short election timeouts and a lossy network: about twice as many
  // elections per tick, and the narrowest quorums. Measured to expose Figure 8 in a third of its seeds.
  SimProfile churn3 = churn;
  churn3.name = "churn3";
  churn3.nodes = 3;
  churn3.election_tick = 5;
  churn3.chaos_ticks = 1000;
  churn3.drop = 250;
  churn3.isolate_leader = 100;
  churn3.heal = 150;
  profiles.push_back(churn3);

  // Frequent crashes with slow persists: many crashes land between a Ready's sends and its persist.
  SimProfile crashy = churn;
  crashy.name = "crashy";
  crashy.election_tick = 5;
  crashy.chaos_ticks = 1000;
  crashy.crash = 200;
  crashy.restart = 300;
  crashy.max_persist_delay_steps = 8;
  profiles.push_back(crashy);

  // Crashes are announced to the survivors, late or not, and false death signals come at random: the
  // elections they start (Core::peer_down) must keep every invariant.
  SimProfile deaths = three;
  deaths.name = "deaths";
  deaths.crash_leader = 20;
  deaths.death_signal = 1000;
  deaths.false_death_signal = 30;
  profiles.push_back(deaths);

  // Membership changes among every fault: two spare nodes join as learners or voters, are promoted and
  // removed, leaders remove themselves, while transfers, crashes, partitions and compactions go on.
  SimProfile members = three;
  members.name = "members";
  members.spare_nodes = 2;
  members.chaos_ticks = 500;
  members.membership = 60;
  members.transfer = 15;
  profiles.push_back(members);

  // The same with Figure 8's churn: short-lived leaders and one entry per message. With PreVote and
  // CheckQuorum, unlike churn: without them a removed node that never learnt its removal committed keeps
  // raising the term and splitting the vote, and no leader is bound to emerge (dissertation §4.2.3; found
  // at seed 16163 of the long sweep before they were on).
  SimProfile members_churn = churn;
  members_churn.name = "memberschurn";
  members_churn.pre_vote = true;
  members_churn.check_quorum = true;
  members_churn.spare_nodes = 2;
  members_churn.membership = 60;
  profiles.push_back(members_churn);

  // Storage faults: restarted nodes come back wiped or missing a log suffix, and must be repaired by
  // the leader (remove, learner, promote) without ever voting on what they forgot.
  SimProfile lost = three;
  lost.name = "lost";
  lost.chaos_ticks = 600;
  lost.crash = 40;
  lost.restart = 200;
  lost.storage_fault = 400;
  profiles.push_back(lost);
  SimProfile lost5 = lost;
  lost5.name = "lost5";
  lost5.nodes = 5;
  profiles.push_back(lost5);
  // Only the hard state lost (term, vote, commit index), the log kept: the node may have voted in the
  // current term, so it starts lost although it holds the log.
  SimProfile lost_hard_state = lost;
  lost_hard_state.name = "losthardstate";
  lost_hard_state.storage_fault_kinds = {StorageFault::kHardState};
  profiles.push_back(lost_hard_state);
  // A log suffix lost: below what the node acknowledged (starts lost) or only an unacknowledged torn
  // tail (starts healthy), half and half.
  SimProfile lost_suffix = lost;
  lost_suffix.name = "lostsuffix";
  lost_suffix.storage_fault_kinds = {StorageFault::kLogSuffix, StorageFault::kTornTail};
  // Slow persists, so that crashes often leave entries persisted but not yet acknowledged: a tail to tear.
  lost_suffix.max_persist_delay_steps = 8;
  profiles.push_back(lost_suffix);
  // Storage faults that start a node lost, among membership changes: lost learners are repaired as
  // learners, lost voters as voters, while spare nodes join, are promoted and removed.
  SimProfile lost_members = members;
  lost_members.name = "lostmembers";
  lost_members.crash = 40;
  lost_members.restart = 200;
  lost_members.storage_fault = 400;
  lost_members.storage_fault_kinds = {StorageFault::kWipe, StorageFault::kHardState,
                                      StorageFault::kLogSuffix};
  // A lost node added straight as a voter to a one-voter configuration deadlocks it: the change is in
  // force once appended (§4.1), so electing a leader that could commit it — or the lost node's removal —
  // needs the vote of a node that votes on nothing until repaired (found at seed 2). The admin path adds
  // learners only, and refuses to promote a lost one.
  lost_members.add_voters = false;
  profiles.push_back(lost_members);
  // The schedules above with a deliberate bug; the simulator must catch each (sim_bug_detection_tests).
  SimProfile figure8 = churn3;  // the core commits an older term's entry by counting replicas
  figure8.name = "figure8-bug";
  figure8.testing_faults.commit_previous_term_by_counting = true;
  profiles.push_back(figure8);

  SimProfile blind_vote = churn3;  // the core votes without the up-to-date check on the candidate's log
  blind_vote.name = "blind-vote-bug";
  blind_vote.testing_faults.vote_without_log_check = true;
  profiles.push_back(blind_vote);

  SimProfile early_ack = crashy;  // the node sends votes and acknowledgements before persisting
  early_ack.name = "early-ack-bug";
  early_ack.send_before_persist = true;
  profiles.push_back(early_ack);

  SimProfile local_read = churn;  // the leader answers reads from its commit index, without ReadIndex
  local_read.name = "local-read-bug";
  local_read.local_reads = true;
  profiles.push_back(local_read);
  SimProfile forgetful = lost;  // a node that lost its state votes and campaigns as if it had not
  forgetful.name = "lost-vote-bug";
  forgetful.testing_faults.ignore_lost_state = true;
  profiles.push_back(forgetful);
  SimProfile undetected_hard_state = lost_hard_state;  // a lost hard state goes unnoticed
  undetected_hard_state.name = "hard-state-loss-undetected-bug";
  undetected_hard_state.detect_lost_storage = false;
  profiles.push_back(undetected_hard_state);
  SimProfile undetected_suffix = lost_suffix;  // a log that ends below what it acknowledged goes unnoticed
  undetected_suffix.name = "suffix-loss-undetected-bug";
  undetected_suffix.detect_lost_storage = false;
  profiles.push_back(undetected_suffix);

  return profiles;
}

}  // namespace

const std::vector<SimProfile>& sim_profiles() {
  static const std::vector<SimProfile> profiles = make_profiles();
  return profiles;
}

const SimProfile& sim_profile(std::string_view name) {
  std::string known;
  for (const SimProfile& profile : sim_profiles()) {
    if (profile.name == name) return profile;
    known += (known.empty() ? "" : ", ") + profile.name;
  }
  throw std::invalid_argument("unknown simulator profile '" + std::string(name) + "' (known: " + known + ")");
}

}  // namespace shmraft::sim
