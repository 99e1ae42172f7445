#pragma once
// The membership nemesis of `shmraft chaos --membership`: while the clients write and the process nemesis
// (nemesis.h) kills and cuts off nodes, it changes the cluster's members through the admin requests that
// `shmraft member` and `shmraft transfer` send. Its events, drawn from a seeded bag so each kind comes
// round: add a node (a new id, or a removed node's with the directory it left with; a learner first,
// promoted once caught up), remove a voter (the leader at --leader-bias), replace one (add the new, then
// remove the old) and transfer leadership. At least min(3, N) voters stay, never more members than the
// segment has node slots; a removal is drawn only while more than that many voters are not awaiting
// repair. With --storage-faults a removal never leaves the nodes awaiting repair more than a minority of
// the voters (the bound the damage itself keeps), and no lost voter is chosen to leave or to lead.
//
// A change refused because another is in progress, or because the learner is still behind, is asked
// again; one that is refused otherwise, or not carried out within the step timeout, is abandoned and counted
// so, never as done. An answer lost to a kill leaves the change in doubt: a later refusal ("a member
// already") is checked against the leader's configuration. Each event opens by reading that
// configuration, and the members follow it, so a change carried out unseen still has its node started,
// or stopped — a node whose removal was sent too, even while it awaits repair (Nemesis::removal_sent).
// A node that left is stopped; its directory stays.
//
// Admin requests block (a leader may be dead), so each runs on a worker (std::async) while step() returns
// at once and the process nemesis keeps going; starting and stopping node processes stays on the caller's
// thread, the Supervisor's owner. (Header-only: the launcher's source list is not this directory's to
// change.)
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ipc/segment.h"
#include "launcher/chaos/nemesis.h"
#include "launcher/client/admin_client.h"
#include "launcher/membership.h"

namespace shmraft::launcher {

struct MembershipNemesisOptions {
  std::chrono::milliseconds interval{0};  // mean time between membership changes; 0: none
  double leader_bias = 0.5;               // chance a removal or a replacement takes the leader's place
  std::chrono::milliseconds step_timeout{10'000};  // one step of a change, retries included
};

// Sends an admin request about a node (0 for kConfiguration) to the leader and waits up to the time
// given for its answer; throws client::AdminTimeout when no leader answered (AdminClient::request).
using AdminRequest =
    std::function<client::AdminOutcome(node::AdminOp op, uint32_t node, std::chrono::milliseconds timeout)>;

// Admin requests to the running cluster `cluster`, through an admin client of its own.
inline AdminRequest admin_requests(const std::string& cluster) {
  auto admin =
      std::make_shared<client::AdminClient>(std::make_shared<ipc::Segment>(ipc::Segment::attach(cluster)));
  return [admin](node::AdminOp op, uint32_t node, std::chrono::milliseconds timeout) {
    return admin->request(op, node, timeout);
  };
}

struct MembershipStats {
  // Carried out: a change the leader answered ok (or found in its configuration after a lost answer), and
  // a transfer once its target leads.
  uint32_t adds = 0;     // learner added and promoted
  uint32_t removes = 0;  // of which the leader:
  uint32_t leader_removes = 0;
  uint32_t replaces = 0;  // a new node added and promoted, then the old one removed
  uint32_t transfers = 0;
  uint32_t promotions = 0;  // of a learner an abandoned change left behind
  uint32_t retries = 0;     // refusals while another change was in progress or the learner was behind
  uint32_t unseen = 0;      // changes whose answer was lost, found carried out
  uint32_t abandoned = 0;   // events given up (none of them counted above)
  // Requests a leader could not read: a bug, the run fails.
  std::vector<std::string> errors;
};

class MembershipNemesis {
 public:
  using Clock = std::chrono::steady_clock;

  // `admin` is called on a worker thread, one request at a time.
  MembershipNemesis(const MembershipNemesisOptions& options, uint64_t seed, const ipc::Segment& segment,
                    AdminRequest admin, Nemesis& nemesis)
      : options_(options),
        rng_(seed ^ 0x6d656d62657273ULL),  // its own stream: the kill schedule of a seed stays the same
        nemesis_(nemesis),
        max_nodes_(segment.max_nodes()),
        admin_(std::move(admin)),
        min_voters_(std::min<uint32_t>(3, segment.node_count())) {
    for (uint32_t node = 1; node <= segment.node_count(); ++node) used_.insert(node);
  }
  ~MembershipNemesis() {
    if (answer_.valid()) answer_.wait();
  }
  MembershipNemesis(const MembershipNemesis&) = delete;
  MembershipNemesis& operator=(const MembershipNemesis&) = delete;

  void begin() { next_event_ = Clock::now() + jitter(); }

  // Moves the event in progress on (or opens the next one when due); returns when to be called again.
  Clock::time_point step() {
    const auto now = Clock::now();
    if (answer_.valid()) {
      if (answer_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return now + kPoll;
      on_answer(answer_.get());
      return std::min(wait_until_, Clock::now() + kPoll);
    }
    if (now < wait_until_) return wait_until_;
    if (!change_) {
      if (now < next_event_) return next_event_;
      ask(node::AdminOp::kConfiguration, 0);  // every event opens with the leader's configuration
      return now + kPoll;
    }
    run_step();
    return std::min(wait_until_, Clock::now() + kPoll);
  }

  // The run is over: waits for the request in flight; a change still in progress is abandoned.
  void end() {
    if (answer_.valid()) answer_.wait();
    answer_ = {};
    if (change_) abandon("the run ended");
  }

  const MembershipStats& stats() const noexcept { return stats_; }

 private:
  static constexpr std::chrono::milliseconds kPoll{5};
  static constexpr std::chrono::milliseconds kAttempt{2000};  // one admin request
  static constexpr std::chrono::milliseconds kRetry{20};
  static constexpr std::chrono::milliseconds kHandOver{2000};  // a removed leader hands over; a transfer

  enum class Kind { add, remove, replace, transfer, promote };
  enum class Action { start, add_learner, promote, remove, stop, transfer };
  struct Step {
    Action action;
    uint32_t node;
  };
  struct Change {
    Kind kind;
    std::string what;  // "add node 4", ...
    std::vector<Step> steps;
    std::size_t next = 0;
    Clock::time_point began;
    Clock::time_point step_began;
    bool doubt = false;  // an answer of this step was lost: a refusal may mean "done"
    bool asked = false;  // the current step's request was answered ok (a transfer: watching the leader)
    bool leader_removed = false;
  };

  // What the worker brings back from one request.
  struct Answer {
    enum class Outcome { done, retry, refused, no_leader, error } outcome;
    client::AdminOutcome reply;
    std::string why;
    bool unseen = false;  // done, found in the configuration after a lost answer
  };

  std::chrono::milliseconds jitter() {
    const int64_t mean = options_.interval.count();
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(mean / 2, mean * 3 / 2)(rng_));
  }

  // Sends `op` about `node` on the worker; `doubtful`: an earlier attempt's answer was lost.
  void ask(node::AdminOp op, uint32_t node, bool doubtful = false) {
    answer_ =
        std::async(std::launch::async, [this, op, node, doubtful] { return request(op, node, doubtful); });
  }

  // On the worker: the admin client is used by one request at a time.
  Answer request(node::AdminOp op, uint32_t node, bool doubtful) {
    try {
      client::AdminOutcome reply = admin_(op, node, kAttempt);
      if (reply.status == raft::Status::kOk) return {Answer::Outcome::done, reply, {}};
      // Busy, behind, or being repaired after losing its state: each passes.
      if (reply.status == raft::Status::kConfChangePending || reply.status == raft::Status::kLearnerBehind ||
          reply.status == raft::Status::kTransferInProgress || reply.status == raft::Status::kNodeLost)
        return {Answer::Outcome::retry, reply, describe_refusal(reply.status, node)};
      if ((reply.after_doubt || doubtful) && op != node::AdminOp::kTransfer &&
          change_in_effect(admin_(node::AdminOp::kConfiguration, 0, kAttempt), op, node))
        return {Answer::Outcome::done, reply, {}, true};
      return {Answer::Outcome::refused, reply, describe_refusal(reply.status, node)};
    } catch (const client::AdminTimeout& e) {
      return {Answer::Outcome::no_leader, {}, e.what()};
    } catch (const std::exception& e) {
      return {Answer::Outcome::error, {}, e.what()};
    }
  }

  void on_answer(const Answer& answer) {
    if (answer.outcome == Answer::Outcome::error) {
      stats_.errors.push_back(fmt::format("membership: a leader could not read a request: {}", answer.why));
      nemesis_.note(stats_.errors.back());
      if (change_) abandon(answer.why);
      wait_until_ = Clock::now() + kRetry * 5;
      return;
    }
    if (!change_) {  // the configuration that opens an event
      if (answer.outcome != Answer::Outcome::done) {
        wait_until_ = Clock::now() + kRetry * 5;  // no leader now: ask again shortly
        return;
      }
      open_event(answer.reply);
      return;
    }
    Change& change = *change_;
    const Step step = change.steps[change.next];
    switch (answer.outcome) {
      case Answer::Outcome::done:
        if (answer.unseen) {
          ++stats_.unseen;
          nemesis_.note(fmt::format("membership: {} of node {} found carried out after a lost answer",
                                    action_name(step.action), step.node));
        }
        if (step.action == Action::remove && answer.reply.leader == step.node) change.leader_removed = true;
        if (step.action == Action::transfer) {
          change.asked = true;  // started: now the leader record must name the target
          change.step_began = Clock::now();
          return;
        }
        nemesis_.note(fmt::format(
            "membership: {} node {} done{}", action_name(step.action), step.node,
            answer.reply.index != 0 ? fmt::format(" (entry {})", answer.reply.index) : std::string()));
        next_step();
        return;
      case Answer::Outcome::retry:
        ++stats_.retries;
        wait_until_ = Clock::now() + kRetry;
        break;
      case Answer::Outcome::no_leader:
        change.doubt = true;
        wait_until_ = Clock::now() + kRetry;
        break;
      case Answer::Outcome::refused:
        abandon(fmt::format("{} node {} refused: {}", action_name(step.action), step.node, answer.why));
        return;
      case Answer::Outcome::error:
        return;
    }
    if (Clock::now() - change.step_began > options_.step_timeout)
      abandon(fmt::format("{} node {} not done within {} ms ({})", action_name(step.action), step.node,
                          options_.step_timeout.count(), answer.why));
  }

  // The members follow the leader's configuration, then the next change is drawn.
  void open_event(const client::AdminOutcome& conf) {
    const raft::NodeSet members = raft::NodeSet::from_bits(conf.voters.bits() | conf.learners.bits());
    nemesis_.follow(members, "the leader's configuration");
    for (const uint32_t node : members.ids()) used_.insert(node);
    next_event_ = Clock::now() + jitter();
    if (!conf.learners.empty()) {  // an abandoned add left a learner: promote it first
      const uint32_t learner = conf.learners.ids().front();
      if (nemesis_.repairing(learner)) {
        nemesis_.note(fmt::format("membership: waits for node {}'s repair", learner));
        return;
      }
      start(Kind::promote, fmt::format("promote node {} (a learner left behind)", learner),
            {{Action::promote, learner}});
      return;
    }
    const std::optional<uint32_t> fresh = free_id(members);
    const std::vector<uint32_t> voters = conf.voters.ids();
    const auto feasible = [&](Kind kind) {
      switch (kind) {
        case Kind::add:
          return fresh.has_value() && !voters.empty();
        case Kind::replace:  // its removal comes once the new voter is in
          return fresh.has_value() && !voters.empty() && repairs_fit(voters.size());
        case Kind::remove:  // the voters left must hold min_voters_ that vote (none awaiting repair)
          return intact_voters(voters) > min_voters_ && repairs_fit(voters.size() - 1);
        case Kind::transfer:
          return voters.size() >= 2 && conf.voters.contains(conf.leader);
        default:
          return false;
      }
    };
    if (bag_.empty()) {
      bag_ = {Kind::add, Kind::remove, Kind::replace, Kind::transfer};
      std::shuffle(bag_.begin(), bag_.end(), rng_);
    }
    const auto drawn = std::find_if(bag_.begin(), bag_.end(), feasible);
    if (drawn == bag_.end()) {
      nemesis_.note(fmt::format("membership: no change possible now (voters {}, {} node slots)",
                                fmt::join(voters, ","), max_nodes_));
      return;
    }
    const Kind kind = *drawn;
    bag_.erase(drawn);
    const auto rejoin = [&](uint32_t node) {
      return used_.contains(node) ? " (rejoins with its old files)" : "";
    };
    switch (kind) {
      case Kind::add:
        start(kind, fmt::format("add node {}{}", *fresh, rejoin(*fresh)),
              {{Action::start, *fresh}, {Action::add_learner, *fresh}, {Action::promote, *fresh}});
        break;
      case Kind::remove: {
        const uint32_t victim = pick_voter(voters, conf.leader);
        start(kind, fmt::format("remove node {}{}", victim, victim == conf.leader ? " (leader)" : ""),
              {{Action::remove, victim}, {Action::stop, victim}});
        break;
      }
      case Kind::replace: {
        const uint32_t victim = pick_voter(voters, conf.leader);
        start(kind,
              fmt::format("replace node {}{} by node {}{}", victim, victim == conf.leader ? " (leader)" : "",
                          *fresh, rejoin(*fresh)),
              {{Action::start, *fresh},
               {Action::add_learner, *fresh},
               {Action::promote, *fresh},
               {Action::remove, victim},
               {Action::stop, victim}});
        break;
      }
      case Kind::transfer: {
        std::vector<uint32_t> targets;
        for (const uint32_t node : voters)
          if (node != conf.leader && nemesis_.running(node) && !nemesis_.repairing(node))
            targets.push_back(node);
        if (targets.empty()) targets = {voters.front() == conf.leader ? voters.back() : voters.front()};
        const uint32_t target =
            targets[std::uniform_int_distribution<std::size_t>(0, targets.size() - 1)(rng_)];
        start(kind, fmt::format("transfer leadership from node {} to node {}", conf.leader, target),
              {{Action::transfer, target}});
        break;
      }
      case Kind::promote:
        break;
    }
  }

  // The voters not awaiting repair (a lost voter votes on nothing until the leader has repaired it).
  std::size_t intact_voters(const std::vector<uint32_t>& voters) const {
    return static_cast<std::size_t>(std::count_if(
        voters.begin(), voters.end(), [this](uint32_t node) { return !nemesis_.repairing(node); }));
  }

  // Whether the nodes awaiting repair stay within the minority that `voters` voters allow.
  bool repairs_fit(std::size_t voters) const {
    return nemesis_.repairs().unrepaired() <= max_unrepaired(static_cast<uint32_t>(voters));
  }

  // A node id that is no member and not running: one never used first, else the lowest removed one.
  std::optional<uint32_t> free_id(raft::NodeSet members) const {
    std::optional<uint32_t> removed;
    for (uint32_t node = 1; node <= max_nodes_; ++node) {
      if (members.contains(node) || nemesis_.running(node)) continue;
      if (!used_.contains(node)) return node;
      if (!removed) removed = node;
    }
    return removed;
  }

  uint32_t pick_voter(std::vector<uint32_t> voters, uint32_t leader) {
    std::erase_if(voters, [this](uint32_t node) { return nemesis_.repairing(node); });
    if (voters.empty()) return leader;
    if (std::find(voters.begin(), voters.end(), leader) != voters.end() &&
        std::bernoulli_distribution(options_.leader_bias)(rng_))
      return leader;
    return voters[std::uniform_int_distribution<std::size_t>(0, voters.size() - 1)(rng_)];
  }

  void start(Kind kind, std::string what, std::vector<Step> steps) {
    nemesis_.note("membership: " + what);
    change_ = Change{kind, std::move(what), std::move(steps), 0, Clock::now(), Clock::now()};
    run_step();
  }

  // Performs the current step, or sends its request to the worker.
  void run_step() {
    Change& change = *change_;
    const Step step = change.steps[change.next];
    switch (step.action) {
      case Action::start:
        nemesis_.join(step.node);
        used_.insert(step.node);
        nemesis_.note(fmt::format("membership: started node {}", step.node));
        next_step();
        return;
      case Action::stop: {
        // A leader that removed itself hands over first; give it the time before its process goes.
        const std::optional<uint32_t> leader = nemesis_.leader();
        if (leader == step.node && Clock::now() - change.step_began < kHandOver) {
          wait_until_ = Clock::now() + kPoll;
          return;
        }
        nemesis_.leave(step.node);
        nemesis_.note(fmt::format("membership: stopped node {} (its directory stays)", step.node));
        next_step();
        return;
      }
      case Action::transfer:
        if (change.asked) {
          if (nemesis_.leader() == step.node) {
            nemesis_.note(fmt::format("membership: node {} leads", step.node));
            next_step();
          } else if (Clock::now() - change.step_began > kHandOver) {
            abandon(
                fmt::format("leadership did not move to node {} within {} ms", step.node, kHandOver.count()));
          } else {
            wait_until_ = Clock::now() + kPoll;
          }
          return;
        }
        ask(node::AdminOp::kTransfer, step.node);
        return;
      case Action::add_learner:
        ask(node::AdminOp::kAddLearner, step.node, change.doubt);
        return;
      case Action::promote:
        ask(node::AdminOp::kPromote, step.node, change.doubt);
        return;
      case Action::remove:
        nemesis_.removal_sent(step.node);
        ask(node::AdminOp::kRemove, step.node, change.doubt);
        return;
    }
  }

  void next_step() {
    Change& change = *change_;
    if (++change.next < change.steps.size()) {
      change.step_began = Clock::now();
      change.doubt = false;
      change.asked = false;
      wait_until_ = Clock::now();
      return;
    }
    count(change);
    nemesis_.note(
        fmt::format("membership: {}: done in {:.0f} ms", change.what,
                    std::chrono::duration<double, std::milli>(Clock::now() - change.began).count()));
    change_.reset();
  }

  void count(const Change& change) {
    switch (change.kind) {
      case Kind::add:
        ++stats_.adds;
        break;
      case Kind::remove:
        ++stats_.removes;
        if (change.leader_removed) ++stats_.leader_removes;
        break;
      case Kind::replace:
        ++stats_.replaces;
        break;
      case Kind::transfer:
        ++stats_.transfers;
        break;
      case Kind::promote:
        ++stats_.promotions;
        break;
    }
  }

  // Gives the event up, uncounted; the next event's configuration read sets the processes right.
  void abandon(const std::string& why) {
    ++stats_.abandoned;
    nemesis_.note(fmt::format("membership: {}: abandoned: {}", change_->what, why));
    change_.reset();
    wait_until_ = Clock::now();
  }

  static const char* action_name(Action action) {
    switch (action) {
      case Action::start:
        return "start";
      case Action::add_learner:
        return "add learner";
      case Action::promote:
        return "promote";
      case Action::remove:
        return "remove";
      case Action::stop:
        return "stop";
      case Action::transfer:
        return "transfer to";
    }
    return "?";
  }

  MembershipNemesisOptions options_;
  std::mt19937_64 rng_;
  Nemesis& nemesis_;
  uint32_t max_nodes_;
  AdminRequest admin_;  // called by the worker only, one request at a time
  uint32_t min_voters_;
  raft::NodeSet used_;  // ids that ever ran: their directories exist
  std::vector<Kind> bag_;
  std::optional<Change> change_;
  std::future<Answer> answer_;
  Clock::time_point next_event_ = Clock::time_point::max();
  Clock::time_point wait_until_{};
  MembershipStats stats_;
};

}  // namespace shmraft::launcher
