#pragma once
// CRC32C (Castagnoli), the checksum of every ring frame and every log record.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at start-up) and Boost.CRC's
// table-driven implementation otherwise; bench_ipc measures both side by side.
#include <cstddef>
#include <cstdint>

namespace shmraft::ipc {

// Extends `crc` (0 for a fresh checksum) over `size` bytes at `data`.
uint32_t crc32c(const void* data, std::size_t size, uint32_t crc = 0) noexcept;

// CRC32C of the 8 bytes of `prefix` (in memory order) followed by `size` bytes at `data`, in one call:
// a ring frame's checksum covers its 8-byte header prefix and then its payload.
uint32_t crc32c_prefixed(uint64_t prefix, const void* data, std::size_t size) noexcept;

// CRC32C of A followed by B, from crc32c(A), crc32c(B) and B's length, reading neither: a writer that
// already has the checksum of its data from 0 gets the checksum continued from another value (a file
// header's) without a second pass over the data.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) noexcept;

// The two implementations, exposed for tests (they must agree) and benchmarks.
uint32_t crc32c_hardware(const void* data, std::size_t size, uint32_t crc = 0) noexcept;
uint32_t crc32c_portable(const void* data, std::size_t size, uint32_t crc = 0) noexcept;
bool crc32c_hardware_available() noexcept;

}  // namespace shmraft::ipc
