// The leader's side of a chunked transfer (node/process/snapshot_sender.h) against a recording transport:
// the window bounds what is in flight, a repeated InstallSnapshot does not restart a transfer, a
// Nack rewinds once, a resumed offer skips what the follower holds. The image is a snapshot file, read a
// chunk at a time (SnapshotFileImage), as the node sends it; one refused whole again and again is checked.
#include "node/process/snapshot_sender.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "ipc/segment.h"
#include "node/process/raft_storage.h"
#include "node/storage/snapshot_file.h"
#include "tests/temp_dir.h"

namespace shmraft::node {
namespace {

// Keeps every frame sent to a peer, decoded.
class RecordingTransport final : public Transport {
 public:
  uint32_t max_peer_payload() const noexcept override { return 1 << 16; }
  std::byte* reserve_peer(uint32_t, uint32_t length) override {
    buffer_.resize(length);
    return buffer_.data();
  }
  void commit_peer(uint32_t, uint32_t length, bool) override {
    const std::optional<ChunkFrame> frame = decode_chunk({buffer_.data(), length});
    ASSERT_TRUE(frame);
    ASSERT_TRUE(intact(*frame));
    if (frame->kind == ChunkKind::kData) {  // the file's bytes at that offset, read into the frame
      EXPECT_TRUE(
          std::ranges::equal(frame->data, std::span(*image).subspan(frame->offset, frame->data.size())));
    }
    frames.push_back(*frame);
    frames.back().data = {};  // the buffer is reused
  }
  uint32_t max_reply_payload() const noexcept override { return 0; }
  std::byte* reserve_reply(uint32_t, uint32_t) override { return nullptr; }
  void commit_reply(uint32_t, uint32_t) override {}
  void flush() override {}
  std::size_t receive(Sink&, Clock::time_point) override { return 0; }
  uint64_t send_drops() const noexcept override { return 0; }
  uint64_t bad_frames() const noexcept override { return 0; }
  uint64_t sleeps() const noexcept override { return 0; }

  std::vector<ChunkFrame> frames;
  const std::vector<std::byte>* image = nullptr;

 private:
  std::vector<std::byte> buffer_;
};

class SnapshotSenderTest : public ::testing::Test {
 protected:
  SnapshotSenderTest()
      : name_("sender-test-" + std::to_string(::getpid())),
        segment_(ipc::Segment::create(name_, ipc::SegmentConfig{})),
        peers_(transport_, segment_, 1, 7),
        log_("null", std::make_shared<spdlog::sinks::null_sink_mt>()),
        sender_(
            peers_, 1, options(), [this](const raft::InstallSnapshot& m) { return image_of(m); }, log_) {
    image_.resize(10'000);
    for (std::size_t i = 0; i < image_.size(); ++i) image_[i] = static_cast<std::byte>(i * 31);
    storage::write_snapshot_file(file(), to_storage(install().meta), image_);
    transport_.image = &image_;
  }
  ~SnapshotSenderTest() override { ipc::Segment::destroy(name_); }

  // Voters 1-3 and learner 4, being repaired after its lost start 77: the configuration the snapshot
  // covers.
  inline static const raft::ConfState kConf{raft::NodeSet::from_bits(0b1110),
                                            raft::NodeSet::from_bits(0b10000), 4, 77};

  static SnapshotSender::Options options() {
    SnapshotSender::Options o;
    o.chunk_bytes = 1000;
    o.window_chunks = 3;
    o.retry_ns = 1'000'000;
    o.give_up_ns = 100'000'000;
    return o;
  }
  // As the node's core emits it: metadata, no bytes.
  static raft::InstallSnapshot install(raft::Term term = 4) {
    return raft::InstallSnapshot{1, 2, term, {50, 3, kConf}, {}};
  }
  std::filesystem::path file() const { return dir_.path() / "snapshot"; }
  std::shared_ptr<const SnapshotImage> image_of(const raft::InstallSnapshot& m) {
    ++images_opened_;
    auto image = std::make_shared<SnapshotFileImage>(file());
    return image->meta() == to_storage(m.meta) ? image : nullptr;
  }
  ChunkFrame answer(ChunkKind kind, uint64_t offset) const {
    ChunkFrame f;
    f.kind = kind;
    f.from = 2;
    f.to = 1;
    f.term = transport_.frames.front().term;
    f.id = transport_.frames.front().id;
    f.offset = offset;
    return f;
  }
  std::vector<uint64_t> data_offsets_since(std::size_t from) const {
    std::vector<uint64_t> offsets;
    for (std::size_t i = from; i < transport_.frames.size(); ++i)
      if (transport_.frames[i].kind == ChunkKind::kData) offsets.push_back(transport_.frames[i].offset);
    return offsets;
  }

  // The follower receives every byte, refuses the image whole (its CRC fails) and asks from byte 0, as a
  // receiver does with an image damaged in the leader's file. Each round starts a retry interval later.
  void refuse_whole(uint64_t& now) {
    now += options().retry_ns;
    for (uint64_t held = 0; held < image_.size(); held += 1000)
      sender_.on_reply(answer(ChunkKind::kAck, held), now);
    sender_.on_reply(answer(ChunkKind::kNack, 0), now);
  }
  // Until the sender has acted on its check of the image (it runs on a thread of its own).
  void wait_for_check(uint64_t now) {
    for (int i = 0; i < 10'000 && sender_.checking(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      sender_.pump(now);
    }
    ASSERT_FALSE(sender_.checking());
  }

  testing::TempDir dir_{"shmraft-sender"};
  int images_opened_ = 0;
  std::string name_;
  ipc::Segment segment_;
  RecordingTransport transport_;
  PeerSender peers_;
  spdlog::logger log_;
  SnapshotSender sender_;
  std::vector<std::byte> image_;
};

TEST_F(SnapshotSenderTest, OffersThenSendsAWindowAndMoreAsAcknowledgementsCome) {
  sender_.offer(install(), 0);
  ASSERT_EQ(transport_.frames.size(), 1u);
  EXPECT_EQ(transport_.frames[0].kind, ChunkKind::kOffer);
  EXPECT_EQ(transport_.frames[0].id.bytes, 10'000u);
  EXPECT_EQ(transport_.frames[0].id.conf_state(), kConf)
      << "the configuration and repair mark travel with the snapshot";
  sender_.on_reply(answer(ChunkKind::kAck, 0), 10);
  EXPECT_EQ(data_offsets_since(0), (std::vector<uint64_t>{0, 1000, 2000})) << "a window of three";
  sender_.pump(20);
  EXPECT_EQ(data_offsets_since(0).size(), 3u) << "nothing more until acknowledged";
  sender_.on_reply(answer(ChunkKind::kAck, 1000), 30);
  EXPECT_EQ(data_offsets_since(0).back(), 3000u);
  sender_.on_reply(answer(ChunkKind::kDone, 10'000), 40);
  EXPECT_FALSE(sender_.active());
  EXPECT_EQ(sender_.transfers_done(), 1u);
}

TEST_F(SnapshotSenderTest, TheCoreRepeatingItsInstallSnapshotDoesNotRestartTheTransfer) {
  sender_.offer(install(), 0);
  sender_.on_reply(answer(ChunkKind::kAck, 0), 10);
  sender_.on_reply(answer(ChunkKind::kAck, 3000), 20);
  const std::size_t before = transport_.frames.size();
  sender_.offer(install(), 30);
  EXPECT_EQ(transport_.frames.size(), before) << "no new offer, no chunk from 0";
  sender_.on_reply(answer(ChunkKind::kAck, 4000), 40);
  for (uint64_t offset : data_offsets_since(before)) EXPECT_GE(offset, 6000u);
}

TEST_F(SnapshotSenderTest, AnOfferAnsweredWithAnOffsetResumesThereAndCountsIt) {
  sender_.offer(install(), 0);
  sender_.on_reply(answer(ChunkKind::kAck, 7000), 10);
  EXPECT_EQ(data_offsets_since(0), (std::vector<uint64_t>{7000, 8000, 9000}));
  EXPECT_EQ(sender_.transfers_resumed(), 1u);
}

TEST_F(SnapshotSenderTest, ANackRewindsOnceAndARepeatedAckDoesNot) {
  sender_.offer(install(), 0);
  sender_.on_reply(answer(ChunkKind::kAck, 0), 10);     // sends 0, 1000, 2000
  sender_.on_reply(answer(ChunkKind::kAck, 1000), 20);  // sends 3000
  std::size_t before = transport_.frames.size();
  sender_.on_reply(answer(ChunkKind::kAck, 1000), 25);  // a repeat arrived: nothing is resent
  EXPECT_TRUE(data_offsets_since(before).empty());
  sender_.on_reply(answer(ChunkKind::kNack, 1000), 30);  // 1000 was lost: back to it
  EXPECT_EQ(data_offsets_since(before), (std::vector<uint64_t>{1000, 2000, 3000}));
  before = transport_.frames.size();
  sender_.on_reply(answer(ChunkKind::kNack, 1000), 40);  // 3000's Nack, sent before the rewind
  EXPECT_TRUE(data_offsets_since(before).empty()) << "one rewind per loss, not one per chunk in flight";
}

TEST_F(SnapshotSenderTest, SilenceResendsTheOfferThenGivesUp) {
  sender_.offer(install(), 0);
  sender_.pump(options().retry_ns);
  ASSERT_EQ(transport_.frames.size(), 2u);
  EXPECT_EQ(transport_.frames[1].kind, ChunkKind::kOffer);
  sender_.pump(options().give_up_ns);
  EXPECT_FALSE(sender_.active());
}

TEST_F(SnapshotSenderTest, ANewerTermOrSnapshotStartsAfreshWithAnOffer) {
  sender_.offer(install(4), 0);
  sender_.on_reply(answer(ChunkKind::kAck, 0), 10);
  const std::size_t before = transport_.frames.size();
  sender_.offer(install(5), 20);
  ASSERT_EQ(transport_.frames.size(), before + 1);
  EXPECT_EQ(transport_.frames.back().kind, ChunkKind::kOffer);
  EXPECT_EQ(transport_.frames.back().term, 5u);
}

TEST_F(SnapshotSenderTest, TheOfferCarriesTheFilesOwnCrcAndTheFileIsOpenedOncePerSnapshot) {
  sender_.offer(install(), 0);
  raft::InstallSnapshot to_3 = install();
  to_3.to = 3;
  sender_.offer(to_3, 0);
  ASSERT_EQ(transport_.frames.size(), 2u);
  EXPECT_EQ(transport_.frames[0].id.crc, storage::SnapshotReader(file()).crc())
      << "the receiver checks the CRC the leader's file records, end to end";
  EXPECT_EQ(images_opened_, 1) << "one image for every follower";
}

TEST_F(SnapshotSenderTest, ASnapshotReplacedSinceTheCoreAskedIsNotSent) {
  storage::write_snapshot_file(file(), to_storage({60, 3, kConf}), image_);  // a newer one landed
  sender_.offer(install(), 0);
  EXPECT_TRUE(transport_.frames.empty());
  EXPECT_FALSE(sender_.active()) << "the core offers the newer snapshot next";
}

TEST_F(SnapshotSenderTest, AnImageRefusedWholeAgainAndAgainIsCheckedAndNotSentAgainWhenItsFileIsDamaged) {
  {  // a bit flips in the leader's file after it was written (its header still reads)
    std::fstream f(file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(sizeof(storage::format::SnapshotHeader) + 5000);
    f.put('\x5a');
  }
  std::vector<std::byte> damaged = image_;
  damaged[5000] = std::byte{0x5a};
  transport_.image = &damaged;  // what the chunks carry now
  uint64_t now = 0;
  sender_.offer(install(), now);
  for (int i = 1; i < SnapshotSender::kRefusalsBeforeCheck; ++i) refuse_whole(now);
  EXPECT_FALSE(sender_.checking()) << "a refusal or two may be the follower's own disk";
  refuse_whole(now);
  EXPECT_EQ(sender_.images_checked(), 1u);
  wait_for_check(now);
  EXPECT_EQ(sender_.images_damaged(), 1u);
  EXPECT_FALSE(sender_.active()) << "its transfers end";
  const std::size_t before = transport_.frames.size();
  sender_.offer(install(), now);
  EXPECT_EQ(transport_.frames.size(), before) << "the damaged image is not offered again";
}

// The node replaces a damaged snapshot with a new one of its applied state; one of the same index holds
// the same bytes, so the same id as the damaged image's, and must go out all the same.
TEST_F(SnapshotSenderTest, ASnapshotFileReplacedAfterDamageIsOpenedAgainAndSentEvenWithTheSameId) {
  {
    std::fstream f(file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(sizeof(storage::format::SnapshotHeader) + 5000);
    f.put('\x5a');
  }
  std::vector<std::byte> damaged = image_;
  damaged[5000] = std::byte{0x5a};
  transport_.image = &damaged;
  uint64_t now = 0;
  sender_.offer(install(), now);
  for (int i = 0; i < SnapshotSender::kRefusalsBeforeCheck; ++i) refuse_whole(now);
  wait_for_check(now);
  ASSERT_EQ(sender_.images_damaged(), 1u);
  const SnapshotId damaged_id = transport_.frames.front().id;

  storage::write_snapshot_file(file(), to_storage(install().meta), image_);  // the same state, anew
  transport_.image = &image_;
  sender_.snapshot_replaced();
  const int opened = images_opened_;
  const std::size_t before = transport_.frames.size();
  sender_.offer(install(), now);
  EXPECT_EQ(images_opened_, opened + 1) << "the new file is opened, not the damaged one kept";
  ASSERT_GT(transport_.frames.size(), before);
  EXPECT_EQ(transport_.frames[before].kind, ChunkKind::kOffer);
  EXPECT_EQ(transport_.frames[before].id, damaged_id) << "same state, same bytes, same id";
  EXPECT_TRUE(sender_.active());
}

TEST_F(SnapshotSenderTest, AnIntactImageRefusedWholeIsCheckedOnceAndStillSent) {
  uint64_t now = 0;
  sender_.offer(install(), now);
  for (int i = 0; i < SnapshotSender::kRefusalsBeforeCheck; ++i) refuse_whole(now);
  wait_for_check(now);
  EXPECT_EQ(sender_.images_checked(), 1u);
  EXPECT_EQ(sender_.images_damaged(), 0u);
  EXPECT_TRUE(sender_.active());
  const std::size_t before = transport_.frames.size();
  refuse_whole(now);
  EXPECT_FALSE(sender_.checking()) << "checked once per image";
  EXPECT_EQ(data_offsets_since(before).back(), 2000u) << "sent again from byte 0";
}

}  // namespace
}  // namespace shmraft::node
