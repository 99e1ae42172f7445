// Steady-state apply must not allocate: this binary counts every operator new while a scope is open.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "node/kv/state_machine.h"
#include "tests/kv/kv_test_util.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// This operator new is malloc, so free is the matching release; GCC cannot tell once it inlines both.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace shmraft::kv {
namespace {
using namespace test;

TEST(ApplyAllocation, SteadyStateApplyAllocatesNothing) {
  StateMachine kv;
  uint64_t index = 0;
  const std::string long_value(200, 'v');
  for (int k = 0; k < 64; ++k) {
    kv.apply(++index, encode(put(numbered("key", k), long_value, 1 + k, 1)));
  }
  // Encode everything up front: only apply is measured.
  std::vector<std::vector<std::byte>> log;
  std::vector<uint64_t> sequence(64, 1);
  for (int i = 0; i < 4000; ++i) {
    const int k = i % 64;
    const std::string key = numbered("key", k);
    const uint64_t client = 1 + k;
    switch (i % 5) {
      case 0:
        log.push_back(encode(put(key, "short", client, ++sequence[k])));
        break;
      case 1:
        log.push_back(encode(get(key, client, ++sequence[k])));
        break;
      case 2:
        log.push_back(encode(cas(key, "short", "other", client, ++sequence[k])));
        break;
      case 3:
        log.push_back(encode(put(key, "x", client, sequence[k])));
        break;  // a retry: answered from the session
      case 4:
        log.push_back(encode(get("absent", kNoSession, 0)));
        break;
    }
  }
  counting = true;
  for (const auto& entry : log) {
    kv.prefetch(entry);  // as the node does a few entries ahead
    kv.apply(++index, entry);
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0u);
  EXPECT_EQ(kv.size(), 64u);

  // The counter does see allocations: a new key needs its node and strings.
  const auto new_key = encode(put("brand new key that is long enough to need the heap", long_value));
  counting = true;
  kv.apply(++index, new_key);
  counting = false;
  EXPECT_GT(allocations.load(), 0u);
}

}  // namespace
}  // namespace shmraft::kv
