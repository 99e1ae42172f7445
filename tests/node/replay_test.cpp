// What a node's data directory replays to (replay_kv_state, the same rule as the node's apply): commands
// are applied, no-ops and configuration changes skipped, and an entry type this build does not know is
// an error rather than silently skipped.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "node/kv/command.h"
#include "node/process/node_process.h"
#include "node/process/raft_storage.h"
#include "node/raft/types.h"
#include "node/storage/node_storage.h"
#include "tests/temp_dir.h"

namespace shmraft::node {
namespace {

std::vector<std::byte> put(std::string_view key, std::string_view value) {
  const kv::Command command{.op = kv::Op::put, .key = key, .value = value, .expected = {}};
  std::vector<std::byte> bytes(kv::encoded_size(command));
  kv::encode_command(command, bytes);
  return bytes;
}

std::span<const std::byte> text(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

uint8_t type_byte(raft::EntryType type) {
  return static_cast<uint8_t>(type);
}

TEST(ReplayKvState, AppliesCommandsAndSkipsNoopsAndConfigurationChanges) {
  shmraft::testing::TempDir tmp;
  const std::filesystem::path dir = tmp.path() / "node1";
  {
    storage::NodeStorage storage(dir, storage::Options{});
    const std::vector<std::byte> a = put("a", "1");
    const std::array<storage::LogEntry, 3> entries = {{
        {1, 1, {}, type_byte(raft::EntryType::kNoop)},
        {2, 1, a, type_byte(raft::EntryType::kNormal)},
        {3, 1, text("not a KV command"), type_byte(raft::EntryType::kConfChange)},
    }};
    storage.append(entries);
    storage.save_hard_state({1, 1, 3});
    storage.sync();
  }
  const std::map<std::string, std::string> state = replay_kv_state(dir);
  EXPECT_EQ(state, (std::map<std::string, std::string>{{"a", "1"}}));
}

TEST(ReplayKvState, AnEntryTypeThisBuildDoesNotKnowIsAnError) {
  shmraft::testing::TempDir tmp;
  const std::filesystem::path dir = tmp.path() / "node1";
  {
    storage::NodeStorage storage(dir, storage::Options{});
    const storage::LogEntry entry{1, 1, {}, static_cast<uint8_t>(type_byte(raft::kLastEntryType) + 1)};
    storage.append({&entry, 1});
    storage.save_hard_state({1, 1, 1});
    storage.sync();
  }
  EXPECT_THROW(replay_kv_state(dir), std::runtime_error);
}

TEST(RaftStorage, AnEntryTypeThisBuildDoesNotKnowIsAnError) {
  shmraft::testing::TempDir tmp;
  storage::NodeStorage storage(tmp.path() / "node1", storage::Options{});
  const storage::LogEntry entry{1, 1, {}, static_cast<uint8_t>(type_byte(raft::kLastEntryType) + 1)};
  storage.append({&entry, 1});
  const RaftStorage raft_storage(storage);
  std::vector<raft::Entry> out;
  EXPECT_THROW(raft_storage.entries(1, 2, 1 << 20, out), storage::StorageError);
}

}  // namespace
}  // namespace shmraft::node
