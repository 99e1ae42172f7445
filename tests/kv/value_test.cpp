// kv::Value and ValueSlab: a value on the heap or in a restore's slab reads, overwrites, grows and copies
// alike; only a heap value is freed (ASan would see a slab value freed, or a heap one leaked).
#include "node/kv/value.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "node/kv/value_slab.h"

namespace shmraft::kv {
namespace {

TEST(Value, AssignKeepsItsCapacityAndGrowsOntoTheHeap) {
  Value v("hello");
  const char* const first = v.view().data();
  v.assign("hi");
  EXPECT_EQ(v.view(), "hi");
  EXPECT_EQ(v.view().data(), first) << "a shorter value is written in place";
  v.assign("a longer value than before");
  EXPECT_EQ(v.view(), "a longer value than before");
  v.assign("");
  EXPECT_EQ(v.view(), "");
  EXPECT_EQ(v.size(), 0u);
}

TEST(Value, AppendDoublesAndKeepsWhatWasThere) {
  Value v;
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string piece = std::to_string(i);
    v.append(piece);
    expected += piece;
    ASSERT_EQ(v.view(), expected);
  }
}

TEST(Value, ASlabValueIsWrittenInPlaceAndMovesToTheHeapWhenItOutgrowsItsBytes) {
  ValueSlab slab;
  Value v("restored bytes", slab);
  const char* const in_slab = v.view().data();
  EXPECT_EQ(v.view(), "restored bytes");
  v.assign("shorter");
  EXPECT_EQ(v.view().data(), in_slab);
  EXPECT_EQ(v.view(), "shorter");
  v.append(" and then much longer than the slab's bytes");
  EXPECT_NE(v.view().data(), in_slab);
  EXPECT_EQ(v.view(), "shorter and then much longer than the slab's bytes");
}

TEST(Value, CopiesAreOnTheHeapAndIndependentMovesTakeTheBytes) {
  ValueSlab slab;
  Value original("in the slab", slab);
  Value copy = original;
  EXPECT_NE(copy.view().data(), original.view().data());
  copy.assign("changed");
  EXPECT_EQ(original.view(), "in the slab");
  Value moved = std::move(copy);
  EXPECT_EQ(moved.view(), "changed");
  EXPECT_EQ(copy.view(), "");  // NOLINT(bugprone-use-after-move): a moved-from value is empty
  moved = original;
  EXPECT_EQ(moved.view(), "in the slab");
}

TEST(ValueSlab, HandsOutDistinctWritableBytesAcrossChunksOfAnySize) {
  ValueSlab slab;
  std::vector<std::pair<char*, std::size_t>> taken;
  for (std::size_t bytes : {1u, 100u, 3u << 20, 8192u, 70u << 20, 5u}) {
    char* p = slab.allocate(bytes);
    std::fill(p, p + bytes, static_cast<char>(taken.size()));
    taken.emplace_back(p, bytes);
  }
  for (std::size_t i = 0; i < taken.size(); ++i) {
    const auto [p, bytes] = taken[i];
    EXPECT_EQ(p[0], static_cast<char>(i));
    EXPECT_EQ(p[bytes - 1], static_cast<char>(i)) << "no later allocation overlapped allocation " << i;
  }
  EXPECT_GE(slab.mapped_bytes(), (3u << 20) + (70u << 20) + 8192u + 106u);
}

}  // namespace
}  // namespace shmraft::kv
