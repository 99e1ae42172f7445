#pragma once
// A node whose files are damaged starts anyway, lost, and is repaired from its peers (issue 14). Damage in
// the log alone costs only the log's damaged part: the open keeps the verified prefix, sets the rest aside
// (set_aside_damaged_part) and marks the node lost (recovery.cpp). Any other damage — a snapshot, `meta`
// unreadable or missing — fails the open (StorageError::Kind::kDamage), so the storage's files — meta,
// log/, snap/ — are moved, whole and untouched, into a private subdirectory damaged-<incarnation> of the
// node directory, and a fresh storage is opened in their place. Nothing is deleted: the files stay for a
// post-mortem until the cluster's directory is removed (`shmraft clean`). The node's other files (its
// cluster stamp, its log) stay where they are.
//
// The fresh storage promised nothing, but the node did before: detect_stored_state (state_detection.h)
// finds a set-aside directory beside a storage that never saved a term and marks the node lost — also
// when a crash came between the move and the mark.
//
// Every name is reached relative to the node directory's descriptor and never through a symbolic link
// (O_NOFOLLOW, *at calls), so a link planted in the directory cannot send a move, a chmod or an fsync
// elsewhere. The subdirectory is 0700 and every file moved into it 0600, whatever the umask.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "node/storage/node_storage.h"

namespace shmraft::storage {

// The prefix of a set-aside directory's name; the incarnation of the start that set it aside follows.
inline constexpr std::string_view kSetAsidePrefix = "damaged-";

// Opens `dir` as NodeStorage(dir, options) does, with damage it can survive — a damaged hard-state slot,
// damage in the log — survived, the node marked lost (Options::lost_mark_on_damage = incarnation). If that
// fails with damage, sets the storage's files aside into damaged-<incarnation> and opens a fresh storage;
// `note` gets one line for the damage found and one per file moved, each naming where it went. Every other
// failure (a refusal, or damage that the fresh storage cannot get past) is thrown as is.
NodeStorage open_or_set_aside(const std::filesystem::path& dir, const Options& options, uint64_t incarnation,
                              const std::function<void(const std::string&)>& note);

// What the open does instead when it keeps the log's verified prefix (Options::lost_mark_on_damage,
// recovery.cpp): before anything of the damage changes, `meta` and each segment in `zeroed` (whose records
// after the kept ones the open is about to zero) are copied into damaged-<incarnation>/ — their holes stay
// holes — and each segment in `removed` (about to go whole) is hard-linked there, so nothing is lost and
// nothing large is copied. Files 0600, directories 0700, no link followed, everything fsynced. The caller
// holds the directory's lock. Returns one note per file.
std::vector<std::string> set_aside_damaged_part(const std::filesystem::path& dir, uint64_t incarnation,
                                                const std::vector<std::filesystem::path>& zeroed,
                                                const std::vector<std::filesystem::path>& removed);

// The set-aside directories `dir` holds, by name (empty if none or `dir` cannot be read).
std::vector<std::string> set_aside_directories(const std::filesystem::path& dir);

}  // namespace shmraft::storage
