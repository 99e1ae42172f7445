#include "node/kv/value_memory.h"

#include <sys/mman.h>

#include <algorithm>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; an older kernel refuses it with EINVAL
#endif

namespace shmraft::kv {

bool ValueMemory::unshare(const std::function<bool()>& stop) const noexcept {
  for (const std::span<char> range : ranges_) {
    for (std::size_t done = 0; done < range.size(); done += kUnshareStepBytes) {
      if (stop()) return false;
      ::madvise(range.data() + done, std::min(kUnshareStepBytes, range.size() - done), MADV_POPULATE_WRITE);
    }
  }
  return true;
}

}  // namespace shmraft::kv
