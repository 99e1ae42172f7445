// libFuzzer target: opening a node directory (NodeStorage's constructor: the meta slots, the snapshot
// file and SegmentedLog::recover over the segments), over a directory written from the input
// (node_dir_image.h gives the layout). Bad bytes must end in a StorageError, never anything else.
//
// Properties of a directory that opens:
// - what it holds is consistent (commit within the log, terms readable, the log continues the snapshot);
// - recovery is idempotent: opening it again changes nothing and repairs nothing;
// - the recovered log takes the next entry, which is there after reopening;
// - the round trip: writing the recovered state into a fresh directory through the storage's own API
//   (save_snapshot, append, save_hard_state) and opening that gives the same state back.
// Of a directory refused as damage, opened again as a node opens it (Options::lost_mark_on_damage): what
// it keeps is consistent and marked lost if its log was cut back, and opens again as it is, with nothing
// left to repair.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "node/storage/node_storage.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/node_dir_image.h"
#include "tests/fuzz/remove_tree.h"
#include "tests/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using namespace shmraft::storage;

struct RecoveredEntry {
  uint64_t index;
  uint64_t term;
  std::vector<std::byte> payload;
  friend bool operator==(const RecoveredEntry&, const RecoveredEntry&) = default;
};

struct Recovered {
  HardState hard_state;
  std::optional<SnapshotMeta> snapshot_meta;
  std::vector<std::byte> snapshot_data;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  std::vector<RecoveredEntry> entries;  // first_index .. last_index
  friend bool operator==(const Recovered&, const Recovered&) = default;

  uint64_t snapshot_index() const { return snapshot_meta ? snapshot_meta->last_index : 0; }
  // The entries after the snapshot: all a fresh directory can be given (older ones are compacted away).
  std::vector<RecoveredEntry> live_entries() const {
    std::vector<RecoveredEntry> live;
    for (const RecoveredEntry& e : entries)
      if (e.index > snapshot_index()) live.push_back(e);
    return live;
  }
};

Recovered capture(const NodeStorage& storage) {
  Recovered r;
  r.hard_state = storage.hard_state();
  r.snapshot_meta = storage.snapshot_meta();
  if (std::optional<Snapshot> snapshot = storage.load_snapshot()) {
    FUZZ_CHECK(r.snapshot_meta && snapshot->meta == *r.snapshot_meta);
    r.snapshot_data = std::move(snapshot->data);
  }
  r.first_index = storage.first_index();
  r.last_index = storage.last_index();
  // An empty log has first == last + 1 (written so that an index at 2^64 - 1 does not wrap the check).
  FUZZ_CHECK(r.first_index <= r.last_index || r.first_index - 1 == r.last_index);
  FUZZ_CHECK(r.hard_state.commit <= r.last_index);
  FUZZ_CHECK(r.last_index >= r.snapshot_index());
  FUZZ_CHECK(r.first_index <= r.snapshot_index() + 1);
  if (r.snapshot_meta) FUZZ_CHECK(storage.term(r.snapshot_index()) == r.snapshot_meta->last_term);
  uint64_t previous_term = 0;
  for (uint64_t index = r.first_index; index <= r.last_index && index != 0; ++index) {
    const EntryView view = storage.entry(index);
    FUZZ_CHECK(storage.term(index) == view.term && view.term >= previous_term);
    previous_term = view.term;
    r.entries.push_back({index, view.term, {view.payload.begin(), view.payload.end()}});
  }
  return r;
}

Options options() {
  Options o;
  o.segment_bytes = 4096;  // the smallest, so that the round trip spreads entries over segments
  o.durability = Durability::none;
  return o;
}

Recovered write_and_reopen(const Recovered& state, const fs::path& dir) {
  {
    NodeStorage fresh(dir, options());
    if (state.snapshot_meta) fresh.save_snapshot(*state.snapshot_meta, state.snapshot_data);
    const std::vector<RecoveredEntry> live = state.live_entries();
    std::vector<LogEntry> entries;
    for (const RecoveredEntry& e : live) entries.push_back({e.index, e.term, e.payload});
    fresh.append(entries);
    fresh.save_hard_state(state.hard_state);
    fresh.sync();
  }
  return capture(NodeStorage(dir, options()));
}

// A private scratch directory, removed at exit (run_fuzz.sh points TMPDIR at tmpfs: every run writes and
// fsyncs).
const fs::path& scratch_root() {
  static const shmraft::testing::TempDir root("shmraft-fuzz-storage");
  return root.path();
}

// The directory recovered from the input, and the one its recovered state is rewritten into.
const fs::path& node_dir() {
  static const fs::path node = scratch_root() / "node";
  return node;
}
const fs::path& copy_dir() {
  static const fs::path copy = scratch_root() / "copy";
  return copy;
}

// A node's open of a damaged directory (node/storage/recovery.cpp, "Keeping the verified prefix").
void check_cut_back(const fs::path& node) {
  constexpr uint64_t kMark = 7;
  Options marking = options();
  marking.lost_mark_on_damage = kMark;
  std::optional<Recovered> kept;
  try {
    const NodeStorage storage(node, marking);
    kept = capture(storage);
    FUZZ_CHECK(storage.recovery().log_damage.empty() || storage.hard_state().lost == kMark);
  } catch (const StorageError&) {
    return;  // damage outside the log: a node sets everything aside
  }
  const NodeStorage again(node, options());
  FUZZ_CHECK(again.recovery().notes.empty());
  FUZZ_CHECK(capture(again) == *kept);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const fs::path& node = node_dir();
  const fs::path& copy = copy_dir();
  shmraft::fuzz::remove_tree(node);
  shmraft::fuzz::remove_tree(copy);
  shmraft::fuzz::write_node_directory(node,
                                      shmraft::fuzz::parse_image(shmraft::fuzz::input_bytes(data, size)));

  std::optional<Recovered> recovered;
  try {
    recovered = capture(NodeStorage(node, options()));
  } catch (const StorageError& error) {
    if (error.kind() == StorageError::Kind::kDamage) check_cut_back(node);
    return 0;  // refused with a message: what bad bytes must get
  }
  Recovered appended = *recovered;
  {
    NodeStorage again(node, options());
    FUZZ_CHECK(again.recovery().notes.empty());
    FUZZ_CHECK(capture(again) == *recovered);
    // The recovered log takes the next entry where it ends (into a kept segment's zeroed tail).
    const std::vector<std::byte> payload = {std::byte{0x5a}, std::byte{0xa5}, std::byte{0x5a}};
    const RecoveredEntry next{appended.last_index + 1, std::max<uint64_t>(again.term(appended.last_index), 1),
                              payload};
    const LogEntry entry{next.index, next.term, next.payload};
    again.append({&entry, 1});
    appended.entries.push_back(next);
    appended.last_index = next.index;
  }
  FUZZ_CHECK(capture(NodeStorage(node, options())) == appended);
  const Recovered rewritten = write_and_reopen(*recovered, copy);
  FUZZ_CHECK(rewritten.hard_state == recovered->hard_state);
  FUZZ_CHECK(rewritten.snapshot_meta == recovered->snapshot_meta);
  FUZZ_CHECK(rewritten.snapshot_data == recovered->snapshot_data);
  FUZZ_CHECK(rewritten.last_index == recovered->last_index);
  FUZZ_CHECK(rewritten.live_entries() == recovered->live_entries());
  return 0;
}
