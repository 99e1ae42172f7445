// Finding the non-zero words in a mostly zero range: recovery's scan of a segment's preallocated tail.
//
// A word is the 8 bytes at an offset that is a multiple of 8, cut short by the end of `bytes`. The
// function gives exactly the answer of a word-by-word loop, but tests whole blocks for zero first with an
// OR-reduction the compiler vectorizes, so a 64 MiB zero tail costs a memory sweep, not 8 M branches.
#pragma once

#include <cstddef>
#include <span>

namespace shmraft::storage {

// The offset of the first non-zero word starting in [from, to), or `to` if there is none.
// `from` must be a multiple of 8 and `to` at most bytes.size().
std::size_t first_nonzero_word(std::span<const std::byte> bytes, std::size_t from, std::size_t to) noexcept;

}  // namespace shmraft::storage
