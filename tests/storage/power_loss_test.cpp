// Power loss in modes batch and always. A random workload runs against the storage — Readies of appends,
// truncations, hard states and syncs, snapshots with compaction, reopenings — with a DiskModel recording
// its flushes. At crash points (just before every flush, and between Readies) it builds a state a power
// loss could leave (disk_model.h says which) in a fresh directory and opens it. Recovery must keep every
// entry, term, vote and snapshot acknowledged as durable (the call that made it durable had returned),
// return no entry, hard state or snapshot that was never written, and otherwise refuse with damage that
// names the directory — after which the node process sets the files aside and starts lost, to be repaired
// by its peers (set_aside.h), which each such state is also put through. A log ending below the watermark
// (acknowledged entries gone) is such damage, never a silently shorter log.
//
// SHMRAFT_SEED replays a run; SHMRAFT_POWER_LOSS_STATES overrides the number of states per mode.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "disk_model.h"
#include "node/storage/set_aside.h"
#include "node/storage/state_detection.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

#ifdef SHMRAFT_STORAGE_LONG
constexpr uint64_t kDefaultStates = 20000;
#define POWER_LOSS_SUITE StoragePowerLossLong
#else
constexpr uint64_t kDefaultStates = 1000;
#define POWER_LOSS_SUITE StoragePowerLoss
#endif

uint64_t states_wanted() {
  if (const char* env = std::getenv("SHMRAFT_POWER_LOSS_STATES")) return std::strtoull(env, nullptr, 10);
  return kDefaultStates;
}

// Mostly small records, one in 32 larger than a segment (it gets a segment of its own).
std::size_t power_loss_payload_size(uint64_t index, uint64_t term) {
  const uint64_t r = mix(index * 131 + term);
  return r % 32 == 0 ? 8192 + (r >> 8) % 8192 : (r >> 8) % 300;
}

// A directory on tmpfs, removed at the end. The states are built from the recorded flushes, not read back
// from a disk, so tmpfs — where a flush costs nothing — checks the same and keeps the run fast.
class TmpfsDir {
 public:
  TmpfsDir() {
    std::string pattern = "/dev/shm/shmraft-power-loss-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TmpfsDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TmpfsDir(const TmpfsDir&) = delete;
  TmpfsDir& operator=(const TmpfsDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path node() const { return path_ / "node"; }

 private:
  fs::path path_;
};

std::vector<std::byte> snapshot_data(const SnapshotMeta& meta) {
  return payload(meta.last_index, meta.last_term, 100);
}

// What the workload was promised, and everything it ever wrote.
struct Promises {
  // Entries 1 to this one are acknowledged as durable, with the terms the log was written with (a
  // truncation gives up what it removes before it writes anything again).
  uint64_t last_index = 0;
  HardState hard_state;   // term and vote acknowledged as durable (the commit index is not)
  SnapshotMeta snapshot;  // the latest snapshot saved, {0, 0} before the first
  // Terms written at each index and not durably removed since, every hard state and snapshot saved.
  std::map<uint64_t, std::set<uint64_t>> possible_terms;
  std::set<std::pair<uint64_t, uint64_t>> saved_votes{{0, 0}};  // (term, vote)
  uint64_t highest_commit = 0;
  std::vector<SnapshotMeta> saved_snapshots;
};

class PowerLossRun {
 public:
  PowerLossRun(Durability mode, uint64_t seed, uint64_t states)
      : mode_(mode), options_(options_with(mode, 8192)), rng_(seed), crash_rng_(mix(seed)), wanted_(states) {
    NodeStorage(root(), options_);  // initialised and closed: the quiescent start the model needs
  }

  void run() {
    DiskModel model(root(), [this] { maybe_crash(); });
    model_ = &model;
    storage_.emplace(root(), options_);
    for (uint64_t ready = 0; states_ < wanted_ && !::testing::Test::HasFailure(); ++ready) {
      ASSERT_LT(ready, wanted_ * 50) << "too few crash points";
      one_ready();
      model.crash_point();
      if (rng_() % 32 == 0) {
        storage_.reset();
        storage_.emplace(root(), options_);
      }
    }
    storage_.reset();
    model_ = nullptr;
  }

  std::string summary() const {
    std::string text =
        std::to_string(states_) + " states: " + std::to_string(opened_) + " opened (" +
        std::to_string(repaired_) + " with repairs), " + std::to_string(states_ - opened_) +
        " refused as damage (kept what verifies, set aside the rest, started lost); on average " +
        std::to_string(uncertain_sectors_ / std::max<uint64_t>(states_, 1)) + " uncertain sectors and " +
        std::to_string(uncertain_names_ / std::max<uint64_t>(states_, 1)) + " uncertain names per state;";
    for (const auto& [reason, count] : refusals_)
      text += "\n  refused " + std::to_string(count) + "x: " + reason;
    return text;
  }

 private:
  fs::path root() const { return dir_.node(); }
  bool durable_at_once() const { return mode_ == Durability::always; }

  void one_ready() {
    NodeStorage& storage = *storage_;
    HardState state = storage.hard_state();
    if (rng_() % 10 == 0) {
      state.term += 1;
      state.vote = rng_() % 4;  // 0: no vote
      // A new leader may overwrite what the old one left above the commit index.
      const uint64_t floor = std::max(state.commit, promises_.snapshot.last_index) + 1;
      if (storage.last_index() >= floor && rng_() % 2 == 0) {
        const uint64_t from = floor + rng_() % (storage.last_index() - floor + 1);
        // Entries from `from` on are given up as soon as their removal is asked for; they may still come
        // back until it returned.
        promises_.last_index = std::min(promises_.last_index, from - 1);
        storage.truncate_suffix(from);
        written_.resize(from);
        for (auto it = promises_.possible_terms.lower_bound(from); it != promises_.possible_terms.end(); ++it)
          it->second.clear();
      }
    }
    append(storage, rng_() % 9, state.term);
    state.commit = state.commit + rng_() % (storage.last_index() - state.commit + 1);
    promises_.saved_votes.emplace(state.term, state.vote);
    promises_.highest_commit = std::max(promises_.highest_commit, state.commit);
    storage.save_hard_state(state);
    if (durable_at_once()) promises_.hard_state = state;
    storage.sync();
    promises_.hard_state = state;
    promises_.last_index = storage.last_index();

    const bool log_grew = storage.last_index() - promises_.snapshot.last_index > 300;
    if (state.commit > promises_.snapshot.last_index && (log_grew || rng_() % 30 == 0)) {
      const SnapshotMeta meta{state.commit, storage.term(state.commit)};
      promises_.saved_snapshots.push_back(meta);
      storage.save_snapshot(meta, snapshot_data(meta));
      promises_.snapshot = meta;
      storage.compact(meta.last_index);
    }
  }

  void append(NodeStorage& storage, uint64_t count, uint64_t term) {
    std::vector<std::vector<std::byte>> payloads;
    std::vector<LogEntry> entries;
    const uint64_t first = storage.last_index() + 1;
    for (uint64_t i = first; i < first + count; ++i) {
      payloads.push_back(payload(i, term, power_loss_payload_size(i, term)));
      promises_.possible_terms[i].insert(term);
    }
    for (uint64_t i = first; i < first + count; ++i) entries.push_back({i, term, payloads[i - first]});
    storage.append(entries);
    written_.resize(first);
    written_.resize(first + count, term);
    if (durable_at_once()) promises_.last_index = storage.last_index();
  }

  void maybe_crash() {
    if (model_ == nullptr || states_ >= wanted_ || rng_() % 3 != 0) return;
    const fs::path target = dir_.path() / ("crash-" + std::to_string(states_));
    const DiskModel::Kept kept = model_->write_crash_state(crash_rng_, target);
    ++states_;
    uncertain_sectors_ += model_->uncertainty().sectors;
    uncertain_names_ += model_->uncertainty().name_groups;
    check(target, kept);
    fs::remove_all(target);
  }

  void check(const fs::path& target, DiskModel::Kept kept) {
    std::optional<NodeStorage> recovered;
    try {
      recovered.emplace(target, options_);
    } catch (const StorageError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(contains(message, target.string())) << "a refusal must name the directory: " << message;
      // Only flushed bytes, or every byte written (what a kill leaves): nothing there for recovery to doubt.
      EXPECT_EQ(kept, DiskModel::Kept::some) << "refused a state without torn writes: " << message;
      EXPECT_EQ(error.kind(), StorageError::Kind::kDamage) << "refused, not as damage: " << message;
      // The watermark is written only after the log range it covers was flushed, and lowered before a
      // removal: no power loss can leave the log below it.
      EXPECT_FALSE(contains(message, "the watermark")) << "it claimed more than the flushes made durable";
      ++refusals_[reason_of(message, target)];
      expect_set_aside_and_lost(target);
      return;
    }
    ++opened_;
    if (!recovered->recovery().notes.empty()) ++repaired_;
    SCOPED_TRACE("crash state " + std::to_string(states_ - 1) + ", recovery notes:" + notes_of(*recovered));
    check_hard_state(recovered->hard_state());
    const uint64_t base = check_snapshot(recovered->snapshot_meta());
    check_log(*recovered, base);
  }

  // What the node process does with a damaged directory: keeps the verified prefix of the log (or sets
  // everything aside) and starts lost; what it kept opens again as it is, and holds only entries written.
  void expect_set_aside_and_lost(const fs::path& target) const {
    constexpr uint64_t kIncarnation = 5;
    const std::string failure = message_of([&] {
      {
        NodeStorage kept = open_or_set_aside(target, options_, kIncarnation, [](const std::string&) {});
        EXPECT_EQ(detect_stored_state(kept, 0, kIncarnation + 1).state, StoredState::kLost);
      }
      NodeStorage again(target, options_);
      EXPECT_NE(again.hard_state().lost, 0u) << "the lost mark did not outlive the open";
      const uint64_t base = again.snapshot_meta() ? again.snapshot_meta()->last_index : 0;
      check_kept_entries(again, base);
    });
    EXPECT_EQ(failure, "(no exception)") << "the damaged state could not be set aside";
  }

  void check_hard_state(const HardState& found) const {
    const HardState& promised = promises_.hard_state;
    EXPECT_GE(found.term, promised.term) << "an acknowledged term was lost";
    if (found.term == promised.term && promised.vote != 0) {
      EXPECT_EQ(found.vote, promised.vote) << "an acknowledged vote was lost in term " << found.term;
    }
    EXPECT_TRUE(promises_.saved_votes.contains({found.term, found.vote}))
        << "term " << found.term << " with vote " << found.vote << " was never saved";
    EXPECT_LE(found.commit, promises_.highest_commit) << "a commit index never saved";
  }

  // Returns the recovered snapshot's last index (0 without one).
  uint64_t check_snapshot(const std::optional<SnapshotMeta>& found) const {
    if (promises_.snapshot.last_index > 0) {
      EXPECT_TRUE(found && found->last_index >= promises_.snapshot.last_index)
          << "the snapshot at " << promises_.snapshot.last_index << " was lost";
    }
    if (!found) return 0;
    EXPECT_NE(std::find(promises_.saved_snapshots.begin(), promises_.saved_snapshots.end(), *found),
              promises_.saved_snapshots.end())
        << "snapshot at " << found->last_index << " term " << found->last_term << " was never saved";
    return found->last_index;
  }

  void check_log(const NodeStorage& found, uint64_t base) const {
    EXPECT_GE(found.last_index(), promises_.last_index) << "acknowledged entries were lost";
    check_kept_entries(found, base);
  }

  // Every entry the log holds was written there, with the term acknowledged for it, if one was.
  void check_kept_entries(const NodeStorage& found, uint64_t base) const {
    const uint64_t promised_last = promises_.last_index;
    EXPECT_LE(found.first_index(), base + 1) << "entries after the snapshot are missing";
    for (uint64_t i = found.first_index(); i <= found.last_index(); ++i) {
      const EntryView view = found.entry(i);
      const auto possible = promises_.possible_terms.find(i);
      if (possible == promises_.possible_terms.end() || !possible->second.contains(view.term)) {
        ADD_FAILURE() << "entry " << i << " has term " << view.term << ", never written there (or removed)";
        return;
      }
      if (i > base && i <= promised_last && view.term != written_[i]) {
        ADD_FAILURE() << "entry " << i << " has term " << view.term << " but term " << written_[i]
                      << " was acknowledged";
        return;
      }
      const std::vector<std::byte> expected = payload(i, view.term, power_loss_payload_size(i, view.term));
      if (!std::equal(view.payload.begin(), view.payload.end(), expected.begin(), expected.end())) {
        ADD_FAILURE() << "entry " << i << " (term " << view.term << ") holds bytes never written";
        return;
      }
    }
  }

  // The refusal without the state's own path and offsets, so that alike refusals count together.
  static std::string reason_of(std::string message, const fs::path& target) {
    for (std::size_t at; (at = message.find(target.string())) != std::string::npos;)
      message.replace(at, target.string().size(), "<dir>");
    std::string reason;
    for (std::size_t i = 0; i < message.size(); ++i) {
      if (std::isdigit(static_cast<unsigned char>(message[i]))) {
        if (reason.empty() || reason.back() != 'N') reason += 'N';
      } else {
        reason += message[i];
      }
    }
    return reason;
  }

  static std::string notes_of(const NodeStorage& storage) {
    std::string text;
    for (const std::string& note : storage.recovery().notes) text += "\n  " + note;
    return text;
  }

  Durability mode_;
  Options options_;
  TmpfsDir dir_;
  std::mt19937_64 rng_;
  std::mt19937_64 crash_rng_;
  uint64_t wanted_;
  DiskModel* model_ = nullptr;
  std::optional<NodeStorage> storage_;
  std::vector<uint64_t> written_{0};  // the log as written: written_[i] is the term of entry i
  Promises promises_;
  uint64_t states_ = 0;
  uint64_t opened_ = 0;
  uint64_t uncertain_sectors_ = 0;
  uint64_t uncertain_names_ = 0;
  uint64_t repaired_ = 0;
  std::map<std::string, uint64_t> refusals_;
};

void run_power_loss(Durability mode) {
  const uint64_t seed = announce_seed();
  SCOPED_TRACE(replay_command(seed));
  PowerLossRun run(mode, seed, states_wanted());
  run.run();
  std::cout << to_string(mode) << ": " << run.summary() << "\n";
}

TEST(POWER_LOSS_SUITE, BatchKeepsWhatSyncAcknowledged) {
  run_power_loss(Durability::batch);
}

TEST(POWER_LOSS_SUITE, AlwaysKeepsWhatEachCallAcknowledged) {
  run_power_loss(Durability::always);
}

// Regressions: recovery refused to open a directory that only a power loss had touched, because a flush
// made a later segment's records durable behind a hole:
//   * a Ready whose entries spill into a new segment dirties two segments, and sync() flushed the newer
//     one first;
//   * truncate_suffix() flushed the zeroed records before the removal of the later segments' names.
TEST(POWER_LOSS_SUITE, EveryFlushLeavesAnOpenableLog) {
  TmpfsDir dir;
  const Options options = options_with(Durability::batch, 8192);
  NodeStorage(dir.node(), options);
  uint64_t states = 0;
  uint64_t acknowledged = 0;
  DiskModel model(dir.node(), [&] {
    const fs::path target = dir.path() / ("flushed-" + std::to_string(states++));
    model.write_flushed_state(target);
    const std::string refusal = message_of([&] {
      NodeStorage recovered(target, options);
      EXPECT_GE(recovered.last_index(), acknowledged);
    });
    EXPECT_EQ(refusal, "(no exception)") << "after " << acknowledged << " acknowledged entries";
    fs::remove_all(target);
  });
  NodeStorage storage(dir.node(), options);
  uint64_t term = 1;
  for (uint64_t ready = 0; ready < 40; ++ready) {
    if (ready % 10 == 9) {
      // Back by more than a segment holds (about 60 of these entries), so whole segments go.
      const uint64_t from = storage.last_index() - 80;
      acknowledged = from - 1;  // given up as soon as the removal is asked for
      storage.truncate_suffix(from);
      ++term;
    }
    append_range(storage, storage.last_index() + 1, storage.last_index() + 12, term, 12);
    storage.sync();
    acknowledged = storage.last_index();
  }
  EXPECT_GT(storage.stats().segments_removed, 3u) << "the truncations must remove whole segments";
  EXPECT_GT(storage.stats().segments_created, 6u) << "the Readies must cross segment boundaries";
  EXPECT_GT(states, 40u);
}

}  // namespace
}  // namespace shmraft::storage
