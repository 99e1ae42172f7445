#pragma once
#include <stdexcept>

namespace shmraft::storage {

// Every failure of the storage itself: bad directory, full disk, a second owner, a newer format,
// corruption of acknowledged data, and calls that break the log's invariants. The message names the file
// (and the offset, for corruption) and the reason. After a failed call the storage is unchanged: a
// failed append wrote nothing, a failed open left the files as they were.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace shmraft::storage
