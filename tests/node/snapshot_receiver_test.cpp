// The receiver's partial-file rules (node/process/snapshot_receiver.h), driven frame by frame, and the
// installer restoring what it received.
// A whole image leaves a snapshot file in the storage's format that the storage itself reads and checks.
#include "node/process/snapshot_receiver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <random>

#include "ipc/crc32c.h"
#include "node/kv/state_machine.h"
#include "node/process/snapshot_installer.h"
#include "node/storage/snapshot_file.h"
#include "tests/temp_dir.h"

namespace shmraft::node {
namespace {

constexpr std::size_t kChunk = 1000;

struct Image {
  std::vector<std::byte> bytes;
  SnapshotId id;
};

Image image_of(std::vector<std::byte> bytes, uint64_t index) {
  Image image;
  image.bytes = std::move(bytes);
  // Voters 1-3, learner 4 being repaired (after its lost start 77); the CRC a snapshot file of it records.
  image.id = {index, 2, image.bytes.size(), 0, 0b1110, 0b10000, 4, 77};
  storage::format::SnapshotHeader header =
      storage::snapshot_header(storage_meta(image.id), image.bytes.size());
  image.id.crc = storage::format::snapshot_crc(header, image.bytes);
  return image;
}

Image make_image(std::size_t size, uint64_t index, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> bytes(size);
  for (std::byte& b : bytes) b = static_cast<std::byte>(rng());
  return image_of(std::move(bytes), index);
}

// The image of a KV state at `index`: keys whose values span several chunks.
Image kv_image(uint64_t index) {
  kv::StateMachine state;
  for (uint64_t i = 1; i <= index; ++i) {
    kv::Command put;
    put.op = kv::Op::put;
    const std::string key = "key" + std::to_string(i);
    const std::string value(i * 97, 'v');
    put.key = key;
    put.value = value;
    state.apply(i, put);
  }
  return image_of(state.snapshot(), index);
}

ChunkFrame offer(const Image& image) {
  ChunkFrame f;
  f.kind = ChunkKind::kOffer;
  f.from = 1;
  f.to = 2;
  f.term = 5;
  f.id = image.id;
  return f;
}

// A data frame as the receiver sees it after decoding (data CRC filled in as encode() would).
ChunkFrame chunk(const Image& image, uint64_t offset) {
  ChunkFrame f = offer(image);
  f.kind = ChunkKind::kData;
  f.offset = offset;
  f.data = std::span(image.bytes).subspan(offset, std::min<uint64_t>(kChunk, image.bytes.size() - offset));
  f.data_crc = ipc::crc32c(f.data.data(), f.data.size());
  return f;
}

class SnapshotReceiverTest : public ::testing::Test {
 protected:
  // The partial file, whole, read as the storage reads a snapshot file (header checks, data, CRC).
  void expect_whole_file(const Image& image) {
    const storage::SnapshotReader reader(file());
    EXPECT_EQ(reader.meta(), storage_meta(image.id));
    EXPECT_EQ(reader.crc(), image.id.crc);
    std::vector<std::byte> data(reader.data_bytes());
    reader.read(0, data);
    EXPECT_TRUE(std::ranges::equal(data, image.bytes));
  }
  std::filesystem::path file() const { return dir_.path() / kPartialSnapshotFile; }
  SnapshotReceiver open() { return SnapshotReceiver(file(), 2, notes_); }
  // A receiver that was offered `image` and holds its first `held` bytes.
  SnapshotReceiver holding(const Image& image, uint64_t held) {
    SnapshotReceiver r = open();
    r.on_frame(offer(image));
    feed(r, image, 0, held);
    return r;
  }
  // Sends chunks from `from` until the receiver holds `until` bytes; returns the last reply.
  ChunkFrame feed(SnapshotReceiver& r, const Image& image, uint64_t from, uint64_t until) {
    ChunkFrame reply;
    for (uint64_t at = from; at < until; at += kChunk) reply = *r.on_frame(chunk(image, at));
    return reply;
  }

  testing::TempDir dir_{"shmraft-receiver"};
  std::vector<std::string> notes_;
};

TEST_F(SnapshotReceiverTest, AWholeImageIsVerifiedAndTheFileIs0600) {
  const Image image = make_image(10'500, 40, 1);
  SnapshotReceiver r = open();
  EXPECT_EQ(r.on_frame(offer(image))->offset, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const ChunkFrame last = feed(r, image, 0, image.bytes.size());
  EXPECT_EQ(last.kind, ChunkKind::kDone);
  ASSERT_TRUE(r.complete());
  expect_whole_file(image);
  EXPECT_EQ(r.chunks_received(), 11u);
  r.discard();
  EXPECT_FALSE(std::filesystem::exists(file()));
}

TEST_F(SnapshotReceiverTest, TheWriteBackOfTheImageStartsAsItArrives) {
  const Image image = make_image(10'500, 40, 13);
  SnapshotReceiver r(file(), 2, notes_, 3000);
  r.on_frame(offer(image));
  feed(r, image, 0, 5000);
  EXPECT_EQ(r.writebacks(), 1u) << "at 3000 bytes";
  feed(r, image, 5000, image.bytes.size());
  EXPECT_EQ(r.writebacks(), 4u) << "at 6000 and 9000, and the last bytes once whole";
  ASSERT_TRUE(r.complete());
  expect_whole_file(image);
}

TEST_F(SnapshotReceiverTest, ARestartedReceiverResumesTheSameSnapshotWhereItStood) {
  const Image image = make_image(10'000, 40, 2);
  holding(image, 6000);  // the process dies here
  SnapshotReceiver r = open();
  ASSERT_EQ(notes_.size(), 1u);
  EXPECT_NE(notes_[0].find("kept, 6000 of 10000"), std::string::npos) << notes_[0];
  const ChunkFrame answer = *r.on_frame(offer(image));
  EXPECT_EQ(answer.kind, ChunkKind::kAck);
  EXPECT_EQ(answer.offset, 6000u);
  EXPECT_EQ(r.resumes(), 1u);
  EXPECT_EQ(r.id(), image.id)
      << "the partial file kept which snapshot it holds, configuration and repair mark included";
  EXPECT_EQ(feed(r, image, 6000, 10'000).kind, ChunkKind::kDone);
  expect_whole_file(image);
}

TEST_F(SnapshotReceiverTest, ADifferentSnapshotDiscardsThePartialFile) {
  const Image old_image = make_image(10'000, 40, 3);
  const Image new_image = make_image(8'000, 90, 4);
  holding(old_image, 5000);
  SnapshotReceiver r = open();
  EXPECT_EQ(r.on_frame(offer(new_image))->offset, 0u) << "nothing of the new snapshot is held";
  EXPECT_EQ(r.resumes(), 0u);
  EXPECT_EQ(r.id(), new_image.id);
  EXPECT_EQ(std::filesystem::file_size(file()), kPartialHeaderBytes)
      << "the old bytes are gone: only a header remains";
  EXPECT_EQ(feed(r, new_image, 0, 8000).kind, ChunkKind::kDone);
}

TEST_F(SnapshotReceiverTest, ACorruptChunkIsRefusedAndFetchedAgain) {
  const Image image = make_image(5'000, 40, 5);
  SnapshotReceiver r = holding(image, 2000);
  ChunkFrame bad = chunk(image, 2000);
  bad.data_crc ^= 1;
  const ChunkFrame refused = *r.on_frame(bad);
  EXPECT_EQ(refused.kind, ChunkKind::kNack);
  EXPECT_EQ(refused.offset, 2000u) << "send it again";
  EXPECT_EQ(r.chunks_refused(), 1u);
  EXPECT_EQ(feed(r, image, 2000, 5000).kind, ChunkKind::kDone);
  expect_whole_file(image);
}

TEST_F(SnapshotReceiverTest, AGapOrARepeatIsNotWrittenAndNamesWhatIsHeld) {
  const Image image = make_image(5'000, 40, 6);
  SnapshotReceiver r = holding(image, 2000);
  const ChunkFrame after_gap = *r.on_frame(chunk(image, 3000));  // 2000 was lost
  EXPECT_EQ(after_gap.kind, ChunkKind::kNack);
  EXPECT_EQ(after_gap.offset, 2000u);
  const ChunkFrame repeat = *r.on_frame(chunk(image, 1000));  // an old repeat: nothing to send again
  EXPECT_EQ(repeat.kind, ChunkKind::kAck);
  EXPECT_EQ(repeat.offset, 2000u);
  EXPECT_EQ(r.held(), 2000u);
  EXPECT_EQ(feed(r, image, 2000, 5000).kind, ChunkKind::kDone);
}

TEST_F(SnapshotReceiverTest, AnImageDamagedOnDiskIsRefusedWholeAndFetchedFromByteZero) {
  const Image image = make_image(5'000, 40, 7);
  holding(image, 3000);
  {  // a bit flips in the partial file while nobody runs
    std::fstream f(file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kPartialHeaderBytes + 100);
    f.put('\x5a');
  }
  SnapshotReceiver r = open();
  EXPECT_EQ(r.on_frame(offer(image))->offset, 3000u);
  const ChunkFrame after = feed(r, image, 3000, 5000);
  EXPECT_EQ(after.kind, ChunkKind::kNack);
  EXPECT_EQ(after.offset, 0u) << "the whole image failed its CRC: from the start";
  EXPECT_EQ(r.images_refused(), 1u);
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(feed(r, image, 0, 5000).kind, ChunkKind::kDone);
  expect_whole_file(image);
}

TEST_F(SnapshotReceiverTest, AnUnreadablePartialFileIsRemovedWithANote) {
  {
    std::ofstream f(file(), std::ios::binary);
    f << "not a partial snapshot at all, but long enough for a header";
  }
  SnapshotReceiver r = open();
  ASSERT_EQ(notes_.size(), 1u);
  EXPECT_NE(notes_[0].find("removed"), std::string::npos) << notes_[0];
  EXPECT_FALSE(std::filesystem::exists(file()));
  EXPECT_EQ(r.held(), 0u);
}

TEST_F(SnapshotReceiverTest, WhileAWholeImageIsInstalledAnotherSnapshotIsNotAnsweredAndTheFileStays) {
  const Image image = make_image(3'000, 40, 8);
  const Image newer = make_image(2'000, 90, 9);
  SnapshotReceiver r = holding(image, 3000);
  ASSERT_TRUE(r.complete());
  EXPECT_FALSE(r.on_frame(offer(newer))) << "the installer reads the file: no new transfer yet";
  EXPECT_FALSE(r.on_frame(chunk(newer, 0)));
  EXPECT_EQ(r.on_frame(offer(image))->kind, ChunkKind::kDone) << "the leader asking again";
  expect_whole_file(image);
}

TEST_F(SnapshotReceiverTest, AnInstalledImageIsDoneForItsOffersAndANewOneStartsAfresh) {
  const Image image = make_image(3'000, 40, 10);
  const Image newer = make_image(2'000, 90, 11);
  SnapshotReceiver r = holding(image, 3000);
  std::filesystem::rename(file(), dir_.path() / "moved");  // as the node moves it into snap/
  r.installed();
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(r.on_frame(offer(image))->kind, ChunkKind::kDone) << "not a byte sent again";
  EXPECT_FALSE(std::filesystem::exists(file()));
  EXPECT_EQ(r.on_frame(offer(newer))->offset, 0u);
  EXPECT_EQ(feed(r, newer, 0, 2000).kind, ChunkKind::kDone);
}

TEST_F(SnapshotReceiverTest, ARestartedReceiverWithAWholeImageChecksItAndIsDoneAtTheOffer) {
  const Image image = make_image(4'000, 40, 12);
  holding(image, 4000);  // killed while the image was being installed
  SnapshotReceiver r = open();
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(r.on_frame(offer(image))->kind, ChunkKind::kDone);
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.bytes_received(), 0u);
}

// The installer (snapshot_installer.h) restores the receiver's whole file: the image right after the
// header the receiver wrote, off the calling thread.
TEST_F(SnapshotReceiverTest, AWholeImageIsRestoredByTheInstaller) {
  const Image image = kv_image(40);
  SnapshotReceiver r = holding(image, image.bytes.size());
  ASSERT_TRUE(r.complete());
  SnapshotInstaller installer;
  installer.start(r.file(), storage_meta(image.id));
  const kv::StateMachine restored = installer.take();
  EXPECT_EQ(restored.applied_index(), 40u);
  EXPECT_EQ(restored.snapshot(), image.bytes);
}

TEST_F(SnapshotReceiverTest, AFileWithMoreThanItsHeaderAndImageIsNotInstalled) {
  const Image image = kv_image(30);
  SnapshotReceiver r = holding(image, image.bytes.size());
  ASSERT_TRUE(r.complete());
  {
    std::ofstream f(file(), std::ios::binary | std::ios::app);
    f << "trailing";
  }
  SnapshotInstaller installer;
  installer.start(r.file(), storage_meta(image.id));
  try {
    installer.take();
    ADD_FAILURE() << "installed a file with bytes after its image";
  } catch (const storage::StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("announces"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shmraft::node
