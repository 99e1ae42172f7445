// CRC32C: the known check value, agreement of the two implementations, and continuation.
#include "ipc/crc32c.h"

#include <random>

#include "test_support.h"

namespace shmraft::ipc {
namespace {

TEST(Crc32c, KnownCheckValue) {
  const char text[] = "123456789";
  EXPECT_EQ(crc32c_portable(text, 9), 0xE3069283u);
  EXPECT_EQ(crc32c_hardware(text, 9), 0xE3069283u);
  EXPECT_EQ(crc32c(text, 9), 0xE3069283u);
  EXPECT_EQ(crc32c(text, 0), 0u);
}

TEST(Crc32c, ImplementationsAgreeAtEveryLengthAndSplit) {
  std::mt19937_64 rng(42);
  std::vector<unsigned char> data(600);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  for (std::size_t length = 0; length <= data.size(); ++length) {
    const uint32_t whole = crc32c_portable(data.data(), length);
    ASSERT_EQ(crc32c_hardware(data.data(), length), whole) << length;
    const std::size_t split = length / 3;
    ASSERT_EQ(crc32c(data.data() + split, length - split, crc32c(data.data(), split)), whole) << length;
  }
}

}  // namespace
}  // namespace shmraft::ipc
