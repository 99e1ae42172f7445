#pragma once
// Counts heap allocations made by this process through the global operator new (replaced in
// allocation_counter.cpp, which must be linked into the executable for the replacement to take effect).
#include <cstdint>

namespace shmraft::bench {

// Number of calls to any form of global operator new since the process started.
std::uint64_t allocation_count() noexcept;

}  // namespace shmraft::bench
