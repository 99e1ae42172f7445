#pragma once
// Where a state machine's values live at one moment (a snapshot's fork): the value pool's slabs and the
// slab of its last restore (value_pool.h, value_slab.h), the memory apply writes in place.
//
// After fork() every page of it is shared with the snapshot child, and the first write to each is a
// copy-on-write fault: 15-50 us on this VM, and more under load, paid by apply in the batches after the
// fork (at 64 K keys of 64 bytes ~1 300 of them: a pass over every key in batches of 64 then had 21-39
// batches over 1 ms against 2-11 with no child, bench_apply_after_fork at load ~10).
// unshare() copies the pages in the kernel (MADV_POPULATE_WRITE, ~9 us a page), on a thread of the
// parent (value_copier.h), so the loop finds them its own. It changes no byte. Safe beside the state
// machine changing: the pool's slabs are never unmapped, and this holds the restore's slab. The price:
// every value page is copied, not only those written while the child runs, so the node's value memory is
// held twice until the child exits (a copy-on-write snapshot of a table that is written uniformly costs
// that anyway).
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "node/kv/value_slab.h"

namespace shmraft::kv {

class ValueMemory {
 public:
  // One MADV_POPULATE_WRITE holds the process's mmap lock (read) for its whole range, and fork() needs it
  // (write): a step of 64 pages (~0.6 ms) bounds how long a fork waits behind a copy still running.
  static constexpr std::size_t kUnshareStepBytes = std::size_t{256} << 10;

  ValueMemory(std::vector<std::span<char>> ranges, std::shared_ptr<const ValueSlab> held)
      : ranges_(std::move(ranges)), held_(std::move(held)) {}
  // Copies a step at a time, asking `stop` before each; false if it stopped. Best effort: a kernel without
  // MADV_POPULATE_WRITE (before 5.14) leaves the copies to the faults.
  bool unshare(const std::function<bool()>& stop = [] { return false; }) const noexcept;

 private:
  std::vector<std::span<char>> ranges_;
  std::shared_ptr<const ValueSlab> held_;
};

}  // namespace shmraft::kv
