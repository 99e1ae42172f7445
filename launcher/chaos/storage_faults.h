#pragma once
// Storage faults for `shmraft chaos --storage-faults`: damage to the files of a stopped node, injected
// before its restart. Each kind is either injected — its damage reaches what the node knows is committed,
// and recovery refuses to start on it, loudly, while the healthy majority serves — or refused by the run
// with the reason it is not safe today (issue 14: a node that forgets what it acknowledged or voted, or
// lost its whole directory, is not yet kept out of quorums nor repaired from its peers).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace shmraft::launcher {

enum class StorageFaultKind {
  // Injected: recovery refuses the node, nothing is lost.
  committed_bit_flip,   // one bit of a committed record's header or payload
  committed_truncate,   // a segment file cut inside a committed record
  committed_zero_tail,  // a segment zeroed from a committed record to its end
  missing_segment,      // a segment holding committed entries removed
  corrupt_snapshot,     // one bit of snap/snapshot
  // Refused: accepted silently today, and unsafe.
  uncommitted_damage,  // bit flip, truncation or zeroing above the saved commit index only
  corrupt_hard_state,  // the newest slot of `meta`
  wiped_directory,     // the whole node directory
};

std::string_view to_string(StorageFaultKind kind) noexcept;
std::optional<StorageFaultKind> parse_storage_fault(std::string_view name);
// Why the run refuses to inject `kind`, or nullopt if it injects it.
std::optional<std::string_view> refusal_reason(StorageFaultKind kind) noexcept;
std::vector<StorageFaultKind> all_storage_faults();
std::vector<StorageFaultKind> injected_storage_faults();  // those without a refusal reason

// Damages the directory of a stopped node with `kind` (one of the injected ones) and returns one line
// saying what and where, or nullopt if the node holds nothing that kind could damage (no committed
// entry, no snapshot). Opens the node's storage first to learn its commit index and layout: the same
// recovery its restart runs.
std::optional<std::string> inject_storage_fault(StorageFaultKind kind, const std::filesystem::path& node_dir,
                                                std::mt19937_64& rng);

}  // namespace shmraft::launcher
