#include "node/kv/value_memory.h"

#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; an older kernel refuses it with EINVAL
#endif

namespace shmraft::kv {

void ValueMemory::unshare() const noexcept {
  for (const std::span<char> range : ranges_)
    if (!range.empty()) ::madvise(range.data(), range.size(), MADV_POPULATE_WRITE);
}

}  // namespace shmraft::kv
