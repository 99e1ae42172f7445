#pragma once
// The replicated KV state machine: the node feeds it committed entries in log order.
//
//   StateMachine kv;                                   // same Config on every replica
//   Result r = kv.apply(entry.index, entry.data);      // for every committed KV entry
//   kv.skip(entry.index);                              // for committed entries that are not KV commands
//   auto v = kv.get(key);                              // a ReadIndex read, once applied_index() >= read
//   index auto bytes = kv.snapshot(); other.restore(bytes);  // identical state -> identical bytes
//
// Semantics (an absent key reads as ""): put sets; append concatenates; delete removes (absent: still ok);
// cas(expected, value) sets when the current value equals `expected`, otherwise returns cas_failed;
// get returns the value. Malformed entries are answered `malformed` and change nothing but the applied
// index, identically on every replica.
//
// Apply does not allocate in the steady state: keys are looked up by string_view (transparent hashing)
// and a value is overwritten in place when its capacity suffices. Only a new key or a new client session
// allocates. A restore allocates no value of its own: they are copied into one slab (value.h).
#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "node/kv/command.h"
#include "node/kv/result.h"
#include "node/kv/session_table.h"
#include "node/kv/value.h"
#include "node/kv/value_memory.h"
#include "node/kv/value_slab.h"

namespace shmraft::kv {

struct Config {
  // Sessions kept before the least recently active is expired. Must be equal on every replica.
  std::size_t max_sessions = 4096;
};

// A snapshot that does not parse (truncated, corrupt, wrong version); restore() leaves the state alone.
class SnapshotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateMachine {
 public:
  explicit StateMachine(Config config = {});

  // Applies the command encoded in `command` at log `index` (must be above applied_index(); throws
  // std::logic_error otherwise, since that is a bug in the caller). Exactly-once per session.
  Result apply(uint64_t index, std::span<const std::byte> command);

  // Applies an already decoded command (same rules as above).
  Result apply(uint64_t index, const Command& command);

  // Advances applied_index() over a committed entry that is not a KV command (no-op, membership change).
  void skip(uint64_t index);

  uint64_t applied_index() const noexcept { return applied_index_; }

  // Starts loading the table memory that applying `command` will touch, and changes nothing. A node
  // applying a batch calls it a few entries ahead, so that the cache miss on each key's slot overlaps
  // the work on the entries before it instead of stalling apply (with 64 K keys, that miss was a fifth of
  // all CPU at 64 bench clients). Malformed bytes are ignored here; apply() answers them.
  void prefetch(std::span<const std::byte> command) const noexcept;

  // Local read for ReadIndex: the value, or nullopt if absent. The view is valid until the next change.
  std::optional<std::string_view> get(std::string_view key) const;

  std::size_t size() const noexcept { return map_.size(); }
  const SessionTable& sessions() const noexcept { return sessions_; }

  // All keys and values in key order (for tests and the checker's acknowledged-write check).
  std::vector<std::pair<std::string, std::string>> dump() const;

  // Serializes map, sessions and applied index. Equal state gives equal bytes (keys sorted, sessions in
  // activity order), whatever the history of hash-table growth. Ends in a CRC32C of the content.
  std::vector<std::byte> snapshot() const;

  // The same image handed to `write` in consecutive pieces of at most kSnapshotPieceBytes, never whole:
  // a forked child streams a GiB table's image to its file without first filling a GiB buffer, whose
  // first touch alone costs a page fault per 4 KiB. snapshot_size() is the image's length in bytes.
  // A piece may be a large value's own bytes rather than a copy: it is valid only during the call. With
  // each piece comes the CRC32C (from 0) of every byte handed over so far, that piece's included, which
  // the writer computes anyway: a file writer continues it from its header (ipc::crc32c_combine) instead
  // of reading the data a second time.
  static constexpr std::size_t kSnapshotPieceBytes = std::size_t{1} << 20;
  using SnapshotSink = std::function<void(std::span<const std::byte> piece, uint32_t crc_so_far)>;
  void snapshot(const SnapshotSink& write) const;
  std::size_t snapshot_size() const;

  // Where the values live now (value_memory.h): after a snapshot's fork, the parent copies those pages off
  // the loop rather than fault on each as apply writes it. Only values are written in place; the table
  // itself is written by new and removed keys (a value's length is not rewritten when unchanged).
  ValueMemory value_memory() const;
  // Replaces the whole state with a snapshot's. Throws SnapshotError (and changes nothing) if the bytes
  // are not a valid snapshot.
  void restore(std::span<const std::byte> snapshot);

 private:
  // Open addressing: a lookup touches one control group and one slot instead of a bucket, the node
  // before, the node and its key, and std::unordered_map's cache misses were a third of the leader's
  // CPU at 64 bench clients x 1024 keys. Transparent hash and equality: lookups by string_view build
  // no std::string (absl's own string hash wants absl::string_view, not std's, in Debian's build).
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  };
  using Map = absl::flat_hash_map<std::string, Value, Hash, Equal>;

  Result execute(const Command& command);
  std::string_view current(std::string_view key) const;
  void set(std::string_view key, std::string_view value);
  void advance(uint64_t index);

  Config config_;
  // The values of the last restore, unless replaced since (value_slab.h); before map_, which it outlives.
  std::shared_ptr<ValueSlab> slab_;
  Map map_;
  SessionTable sessions_;
  uint64_t applied_index_ = 0;
};

}  // namespace shmraft::kv
