// The leader record: forward-only publication, withdrawal, candidates, and clients woken by an
// announcement.
#include "ipc/leader.h"

#include "test_support.h"

namespace shmraft::ipc {
namespace {

TEST(LeaderRecord, OnlyMovesForward) {
  LeaderRecord record;
  EXPECT_EQ(record.read(), (LeaderView{std::nullopt, 0}));
  EXPECT_TRUE(record.publish(3, 5));
  EXPECT_EQ(record.read(), (LeaderView{3, 5}));
  EXPECT_TRUE(record.publish(3, 5)) << "republishing is harmless";
  EXPECT_FALSE(record.publish(2, 5)) << "two leaders in one term";
  EXPECT_FALSE(record.publish(1, 4)) << "an old leader resumed from SIGSTOP overwrote its successor";
  EXPECT_EQ(record.read(), (LeaderView{3, 5}));
  EXPECT_TRUE(record.publish(1, 6));
  EXPECT_EQ(record.read(), (LeaderView{1, 6}));
  EXPECT_THROW(record.publish(1, LeaderRecord::kMaxTerm + 1), std::out_of_range);
  EXPECT_THROW(record.publish(0, 7), std::out_of_range) << "0 means no leader, it cannot be published";
  EXPECT_EQ(record.read(), (LeaderView{1, 6}));
}

TEST(LeaderRecord, WithdrawOnlyItsOwnTerm) {
  LeaderRecord record;
  ASSERT_TRUE(record.publish(2, 3));
  EXPECT_FALSE(record.withdraw(2, 2));
  EXPECT_FALSE(record.withdraw(1, 3));
  EXPECT_TRUE(record.withdraw(2, 3));
  EXPECT_EQ(record.read(), (LeaderView{std::nullopt, 3}));
  EXPECT_FALSE(record.publish(1, 2)) << "withdrawing keeps the term";
  EXPECT_TRUE(record.publish(1, 3)) << "a new leader of the same term may still be announced";
}

TEST(LeaderRecord, ACandidateIsNamedOnlyForATermNewerThanAnyKnown) {
  LeaderRecord record;
  ASSERT_TRUE(record.publish(1, 4));
  EXPECT_FALSE(record.publish_candidate(2, 4)) << "term 4 has a leader: its candidate is old news";
  EXPECT_TRUE(record.publish_candidate(2, 5));
  EXPECT_EQ(record.read_candidate(), (LeaderView{2, 5}));
  EXPECT_EQ(record.read(), (LeaderView{1, 4})) << "a candidate is not a leader";
  EXPECT_FALSE(record.publish_candidate(3, 5)) << "one candidate named per term";
  EXPECT_TRUE(record.publish(3, 6));
  EXPECT_FALSE(record.publish_candidate(2, 6));
  EXPECT_EQ(record.read_candidate(), (LeaderView{2, 5}));
  EXPECT_THROW(record.publish_candidate(0, 7), std::out_of_range);
}

TEST(LeaderRecord, AnnouncingACandidateWakesClaimedClientSlots) {
  test::ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), test::tiny_config(3, 2));
  const ClientSlotClaim claim = segment.claim_client_slot();
  Doorbell& bell = segment.client_doorbell(claim.slot);
  const uint32_t key = bell.prepare_wait();
  EXPECT_TRUE(segment.announce_candidate(2, 3));
  EXPECT_NE(bell.epoch.load(), key) << "the client's doorbell was not rung";
  bell.cancel_wait();
  EXPECT_EQ(segment.leader_record().read_candidate(), (LeaderView{2, 3}));
  EXPECT_FALSE(segment.announce_candidate(3, 3));
}

TEST(LeaderRecord, AnnouncingWakesClaimedClientSlots) {
  test::ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), test::tiny_config(3, 2));
  const ClientSlotClaim claim = segment.claim_client_slot();
  Doorbell& bell = segment.client_doorbell(claim.slot);
  const uint32_t key = bell.prepare_wait();  // a client about to sleep
  EXPECT_TRUE(segment.announce_leader(3, 7));
  EXPECT_NE(bell.epoch.load(), key) << "the client's doorbell was not rung";
  bell.cancel_wait();
  EXPECT_EQ(Segment::attach(cluster.name()).leader_record().read(), (LeaderView{3, 7}));
  EXPECT_FALSE(segment.announce_leader(2, 6));
}

TEST(LeaderRecord, AnnouncingRingsASharedDoorbellOnce) {
  test::ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), test::tiny_config(3, 4));
  const ClientSlotClaim first = segment.claim_client_slot();
  for (int i = 0; i < 3; ++i) segment.share_reply_doorbell(segment.claim_client_slot().slot, first.slot);
  Doorbell& bell = segment.client_doorbell(first.slot);
  const uint32_t key = bell.prepare_wait();  // one client thread about to sleep for all four slots
  EXPECT_TRUE(segment.announce_leader(3, 7));
  EXPECT_EQ(bell.epoch.load(), key + 1) << "each ring of a bell with a waiter is a futex syscall";
  bell.cancel_wait();
}

}  // namespace
}  // namespace shmraft::ipc
