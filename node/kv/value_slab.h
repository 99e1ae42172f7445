#pragma once
// Memory for the values a restore copies out of a snapshot image (StateMachine::restore): taken from a
// few large mappings, 2 MiB-aligned and advised MADV_HUGEPAGE, each populated in one call
// (MADV_POPULATE_WRITE) as it is taken, rather than malloc'ed a value at a time and faulted in a 4 KiB
// page at a time. On this VM a first-touch fault costs ~12 µs, ~3 s per GiB restored; and fork() copies
// one page-table entry per 2 MiB page instead of 512. Either advice may be refused (an older kernel, THP
// off): the memory works all the same, only slower.
//
// Nothing is freed before the slab: a value later replaced by a larger one moves to the heap and leaves
// its bytes here (at most the image's size in all). Not thread-safe; a restore fills it on one thread.
#include <cstddef>
#include <vector>

namespace shmraft::kv {

class ValueSlab {
 public:
  ValueSlab() = default;
  ~ValueSlab();
  ValueSlab(const ValueSlab&) = delete;
  ValueSlab& operator=(const ValueSlab&) = delete;

  // `bytes` of writable memory, valid until the slab dies. Throws std::bad_alloc when mmap fails.
  char* allocate(std::size_t bytes);

  std::size_t mapped_bytes() const noexcept { return mapped_bytes_; }

 private:
  struct Chunk {
    void* base;
    std::size_t bytes;
  };
  void map_chunk(std::size_t at_least);

  std::vector<Chunk> chunks_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
  std::size_t mapped_bytes_ = 0;
};

}  // namespace shmraft::kv
