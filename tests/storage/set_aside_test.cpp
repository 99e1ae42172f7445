// Damaged files outside the log are set aside whole and the node starts empty and lost (set_aside.h): every
// such damage kind is told from the refusals that must stay refusals, nothing is lost (the files move byte
// for byte into a private damaged-<incarnation> directory), no planted link is followed, and a crash
// between the move and the lost mark still leaves the node lost. (Damage in the log costs only its
// damaged part: prefix_test.cpp.)
#include "node/storage/set_aside.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "node/storage/format.h"
#include "node/storage/state_detection.h"
#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

constexpr uint64_t kIncarnation = 1234;

Options small() {
  return options_with(Durability::batch, 4096);
}

// 60 entries over several 4 KiB segments, 40 of them committed, and a snapshot at 20.
void build(const fs::path& node) {
  NodeStorage storage(node, small());
  append_range(storage, 1, 60, 2);
  storage.save_hard_state({2, 1, 40});
  storage.sync();
  storage.save_snapshot({20, 2}, payload(20, 2, 300));
}

// Every regular file under `dir`, by path relative to it, with its bytes.
std::map<std::string, std::vector<std::byte>> files_under(const fs::path& dir) {
  std::map<std::string, std::vector<std::byte>> files;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = read_file(entry.path());
  }
  return files;
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

struct Opened {
  std::vector<std::string> notes;
  std::string log_damage;  // RecoveryReport::log_damage: the log was cut back to its verified prefix
  std::string error;       // empty: opened
};

Opened open_noting(const fs::path& node) {
  Opened opened;
  try {
    NodeStorage storage = open_or_set_aside(node, small(), kIncarnation,
                                            [&](const std::string& n) { opened.notes.push_back(n); });
    opened.log_damage = storage.recovery().log_damage;
  } catch (const StorageError& error) {
    opened.error = error.what();
  }
  return opened;
}

struct Damage {
  const char* name;
  std::function<void(const fs::path& node)> apply;
};

const std::vector<Damage>& damages() {
  static const std::vector<Damage> all = {
      {"a corrupt snapshot", [](const fs::path& node) { flip_bit(node / "snap" / "snapshot", 100, 5); }},
      {"both hard-state slots damaged",
       [](const fs::path& node) {
         flip_bit(node / "meta", offsetof(format::MetaSlot, term), 1);
         flip_bit(node / "meta", format::kMetaSlotStride + offsetof(format::MetaSlot, term), 1);
       }},
      {"a missing hard-state file", [](const fs::path& node) { fs::remove(node / "meta"); }},
  };
  return all;
}

TEST(StorageSetAside, DamageOutsideTheLogIsSetAsideWholeAndTheNodeStartsLost) {
  for (const Damage& damage : damages()) {
    SCOPED_TRACE(damage.name);
    TempDir tmp;
    build(tmp.node());
    damage.apply(tmp.node());
    const std::string refusal = message_of([&] { NodeStorage storage(tmp.node(), small()); });
    auto before = files_under(tmp.node());
    before.erase(std::string(format::kLockFileName));  // the directory's lock stays where it is

    const Opened opened = open_noting(tmp.node());
    ASSERT_EQ(opened.error, "");
    ASSERT_FALSE(opened.notes.empty());
    EXPECT_TRUE(contains(opened.notes[0], "damaged: " + refusal)) << opened.notes[0];
    const fs::path aside = tmp.node() / ("damaged-" + std::to_string(kIncarnation));
    EXPECT_TRUE(contains(opened.notes.back(), "set aside as " + aside.string())) << opened.notes.back();
    std::map<std::string, std::vector<std::byte>> moved;
    for (const auto& [name, bytes] : files_under(aside)) moved[name] = bytes;
    EXPECT_TRUE(moved == before) << "every file moved, byte for byte";
    EXPECT_EQ(mode_of(aside), 0700u);
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(aside))
      EXPECT_EQ(mode_of(entry.path()), entry.is_directory() ? 0700u : 0600u) << entry.path();

    NodeStorage storage(tmp.node(), small());
    EXPECT_EQ(storage.last_index(), 0u) << "a fresh storage";
    EXPECT_FALSE(storage.snapshot_meta());
    const Detection found = detect_stored_state(storage, 0, kIncarnation + 1);
    EXPECT_EQ(found.state, StoredState::kLost) << "even without an earlier start in the segment";
    EXPECT_TRUE(contains(found.why, "damaged-" + std::to_string(kIncarnation))) << found.why;
  }
}

// What needs the operator stays a refusal, and leaves every file where it was.
TEST(StorageSetAside, RefusalsStayRefusalsAndMoveNothing) {
  TempDir tmp;
  build(tmp.node());
  const auto expect_refused = [&](const std::string& what, const std::string& expected) {
    const auto before = files_under(tmp.node());
    const Opened opened = open_noting(tmp.node());
    EXPECT_TRUE(contains(opened.error, expected)) << what << ": " << opened.error;
    EXPECT_TRUE(opened.notes.empty()) << what;
    EXPECT_TRUE(set_aside_directories(tmp.node()).empty()) << what;
    EXPECT_TRUE(files_under(tmp.node()) == before) << what;
  };
  {
    NodeStorage holder(tmp.node(), small());
    expect_refused("lock held", "is already open in another process or NodeStorage");
  }
  format::MetaSlot newer;
  std::memcpy(&newer, read_file(tmp.node() / "meta").data(), sizeof newer);
  const std::vector<std::byte> meta = read_file(tmp.node() / "meta");
  newer.version = format::kMetaVersion + 1;
  newer.crc = format::meta_slot_crc(newer);  // a newer build's slot: its CRC holds (format.h)
  write_at(tmp.node() / "meta", 0, &newer, sizeof newer);
  expect_refused("newer format", "newer than this build understands");
  write_file(tmp.node() / "meta", meta);

  fs::permissions(tmp.node() / "meta", fs::perms::none);
  if (::geteuid() != 0) expect_refused("permissions", "Permission denied");
  fs::permissions(tmp.node() / "meta", fs::perms::owner_read | fs::perms::owner_write);
}

// A link planted where the set-aside directory goes, or inside what is moved, is never followed.
TEST(StorageSetAside, PlantedLinksAreNotFollowed) {
  TempDir tmp;
  build(tmp.node());
  const fs::path outside = tmp.path() / "outside";
  fs::create_directory(outside);
  fs::permissions(outside, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  write_file(outside / "victim", {std::byte{1}});
  fs::permissions(outside / "victim", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  fs::create_symlink(outside / "victim", tmp.node() / "snap" / "planted");
  flip_bit(tmp.node() / "snap" / "snapshot", 100, 5);  // damage

  const fs::path aside = tmp.node() / ("damaged-" + std::to_string(kIncarnation));
  fs::create_directory_symlink(outside, aside);
  const Opened refused = open_noting(tmp.node());
  EXPECT_TRUE(contains(refused.error, "cannot create " + aside.string())) << refused.error;
  EXPECT_EQ(files_under(outside).size(), 1u) << "nothing went through the link";
  EXPECT_TRUE(fs::exists(tmp.node() / "meta")) << "nothing moved";
  fs::remove(aside);

  const Opened opened = open_noting(tmp.node());
  ASSERT_EQ(opened.error, "");
  EXPECT_TRUE(fs::is_symlink(aside / "snap" / "planted")) << "moved as a link";
  EXPECT_EQ(mode_of(outside / "victim"), 0640u) << "its target's mode untouched";
  EXPECT_EQ(mode_of(outside), 0750u);
}

// Above the commit index, a bad record with intact ones after it is damage (a crash tears only the last
// record): the log is cut back before it, the rest set aside, and the node repaired; a torn last record above
// the watermark is what a crash mid-append leaves, recovered in place as before, with nothing set aside.
TEST(StorageSetAside, ABadRecordFollowedByIntactOnesIsDamageATornLastRecordIsNot) {
  TempDir tmp;
  {
    NodeStorage storage(tmp.node(), small());
    append_range(storage, 1, 9, 2);
    storage.save_hard_state({2, 1, 3});
    storage.sync();
  }
  run_and_die_before_sync(tmp.node(), small(),
                          [](NodeStorage& storage) { append_range(storage, 10, 10, 2); });
  const std::vector<fs::path> segments = segment_files(tmp.node());
  ASSERT_EQ(segments.size(), 1u);
  const std::vector<uint64_t> offsets = record_offsets(segments[0]);
  ASSERT_EQ(offsets.size(), 10u);
  const std::vector<std::byte> original = read_file(segments[0]);

  flip_bit(segments[0], offsets[9] + sizeof(format::RecordHeader) + 1, 0);
  const Opened torn = open_noting(tmp.node());
  EXPECT_EQ(torn.error, "");
  EXPECT_TRUE(torn.notes.empty());
  EXPECT_TRUE(set_aside_directories(tmp.node()).empty());
  EXPECT_EQ(NodeStorage(tmp.node(), small()).last_index(), 9u) << "the torn record discarded";

  write_file(segments[0], original);
  flip_bit(segments[0], offsets[5] + sizeof(format::RecordHeader) + 1, 0);  // entry 6, above commit 3
  const Opened damaged = open_noting(tmp.node());
  EXPECT_EQ(damaged.error, "");
  EXPECT_TRUE(damaged.notes.empty()) << "nothing set aside whole";
  EXPECT_TRUE(contains(damaged.log_damage, "a valid record follows it")) << damaged.log_damage;
  EXPECT_EQ(NodeStorage(tmp.node(), small()).last_index(), 5u) << "entries before the damaged 6 kept";
  EXPECT_EQ(set_aside_directories(tmp.node()).size(), 1u);
}

// A crash after the move and before the lost mark: the next start still finds the node lost.
TEST(StorageSetAside, ACrashBeforeTheMarkStillStartsLost) {
  TempDir tmp;
  build(tmp.node());
  flip_bit(tmp.node() / "snap" / "snapshot", 100, 5);
  {
    const Opened opened = open_noting(tmp.node());
    ASSERT_EQ(opened.error, "");
  }  // no detection: "killed"
  {
    NodeStorage storage(tmp.node(), small());
    EXPECT_EQ(detect_stored_state(storage, 0, 9).state, StoredState::kLost);
    EXPECT_EQ(storage.hard_state().lost, 9u);
    storage.save_hard_state({3, 0, 0, 0});  // repaired
    storage.sync();
  }
  NodeStorage storage(tmp.node(), small());
  EXPECT_EQ(detect_stored_state(storage, 9, 10).state, StoredState::kIntact)
      << "repaired: the set-aside files stay, the node is no longer lost";
  EXPECT_EQ(set_aside_directories(tmp.node()),
            std::vector<std::string>{"damaged-" + std::to_string(kIncarnation)});
}

}  // namespace
}  // namespace shmraft::storage
