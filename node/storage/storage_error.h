#pragma once
#include <stdexcept>
#include <string>

namespace shmraft::storage {

// Every failure of the storage itself: bad directory, full disk, a second owner, a newer format,
// corruption of acknowledged data, and calls that break the log's invariants. The message names the file
// (and the offset, for corruption) and the reason. After a failed call the storage is unchanged: a
// failed append wrote nothing, a failed open left the files as they were.
//
// The kind tells an open that found damage — files of this format that do not hold what they must
// (a bad record among acknowledged ones, a missing segment or hard state, a corrupt snapshot) — from
// every other failure, which must stay a refusal (a lock held, permissions, a newer format, bad options):
// damage can be repaired from the peers (set_aside.h), a refusal needs the operator.
class StorageError : public std::runtime_error {
 public:
  enum class Kind { kRefusal, kDamage };

  explicit StorageError(const std::string& what, Kind kind = Kind::kRefusal)
      : std::runtime_error(what), kind_(kind) {}

  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// A StorageError of kind kDamage.
inline StorageError damage(const std::string& what) {
  return StorageError(what, StorageError::Kind::kDamage);
}

}  // namespace shmraft::storage
