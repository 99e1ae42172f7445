// The segment: creation, attach errors, permissions, size, stale detection, client slots, counters.
#include <sys/mman.h>
#include <sys/stat.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <csignal>
#include <cstring>
#include <map>
#include <set>

#include "ipc/counters.h"
#include "test_support.h"

namespace shmraft::ipc {
namespace {

using test::ScopedCluster;

SegmentConfig small_config(uint32_t nodes = 3, uint32_t slots = 4) {
  SegmentConfig config = test::tiny_config(nodes, slots);
  config.peer_ring_capacity = 64 << 10;
  return config;
}

// Expects `body` to throw SegmentError whose message contains every one of `parts`.
template <class Body>
void expect_segment_error(Body body, std::initializer_list<std::string_view> parts) {
  try {
    body();
    ADD_FAILURE() << "no SegmentError";
  } catch (const SegmentError& e) {
    for (std::string_view part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(SegmentLayout, DefaultFiveNodesSixtyFourSlotsFitIn64MiB) {
  SegmentConfig config;
  config.node_count = 5;
  config.max_nodes = 5;
  config.client_slots = 64;
  const SegmentLayout layout = SegmentLayout::compute(config);
  EXPECT_LE(layout.total_size, std::size_t{64} << 20);
  EXPECT_EQ(layout.total_size, segment_size(config));
  EXPECT_EQ(layout.peer_rings, 20u);
  EXPECT_EQ(layout.client_rings, 640u);
  const std::string text = layout.describe();
  EXPECT_NE(text.find("20 peer rings x 1 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("320 request rings x 32 KiB"), std::string::npos) << text;
  EXPECT_NE(text.find("total"), std::string::npos) << text;
}

TEST(SegmentLayout, RingsDoNotOverlap) {
  const SegmentLayout l = SegmentLayout::compute(small_config(4, 3));
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (uint32_t ring = 0; ring < l.peer_rings + l.client_rings; ++ring) {
    spans.emplace_back(l.ring_buffer_offset(ring), l.ring_buffer_offset(ring) + l.ring_capacity(ring));
    spans.emplace_back(l.ring_control_offset(ring), l.ring_control_offset(ring) + sizeof(RingControl));
  }
  std::sort(spans.begin(), spans.end());
  for (std::size_t i = 1; i < spans.size(); ++i) EXPECT_LE(spans[i - 1].second, spans[i].first);
  EXPECT_EQ(spans.back().second, l.total_size);
  // Every directed pair and every (slot, node) maps to a distinct ring.
  std::set<uint32_t> seen;
  for (uint32_t a = 1; a <= 4; ++a)
    for (uint32_t b = 1; b <= 4; ++b)
      if (a != b) seen.insert(l.peer_ring(a, b));
  for (uint32_t s = 0; s < 3; ++s)
    for (uint32_t n = 1; n <= 4; ++n) {
      seen.insert(l.request_ring(s, n));
      seen.insert(l.response_ring(n, s));
    }
  EXPECT_EQ(seen.size(), l.peer_rings + l.client_rings);
  EXPECT_THROW(l.peer_ring(1, 1), std::out_of_range);
  EXPECT_THROW(l.peer_ring(0, 1), std::out_of_range);
  EXPECT_THROW(l.peer_ring(1, 5), std::out_of_range);
  EXPECT_THROW(l.request_ring(3, 1), std::out_of_range);
  EXPECT_THROW(l.request_ring(0, 0), std::out_of_range);
  EXPECT_THROW(l.response_ring(5, 0), std::out_of_range);
}

TEST(SegmentLayout, BadConfigsAreRejectedByName) {
  auto message = [](SegmentConfig c) {
    try {
      c.validate();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("valid");
  };
  SegmentConfig c = small_config();
  c.node_count = 0;
  EXPECT_EQ(message(c), "node count 0 is outside [1, 16]");
  c = small_config();
  c.peer_ring_capacity = 3000;
  EXPECT_EQ(message(c), "peer ring capacity 3000 is not a power of two between 64 and 1073741824");
  c = small_config();
  c.client_slots = 5000;
  EXPECT_EQ(message(c), "client slots 5000 is outside [0, 4096]");
  c = small_config(5);
  c.max_nodes = 4;
  EXPECT_EQ(message(c), "max nodes 4 is outside [5 (the node count), 16]");
  c.max_nodes = 17;
  EXPECT_EQ(message(c), "max nodes 17 is outside [5 (the node count), 16]");
}

// Room for nodes that join later (issue 12): by default 7 node slots, or the node count if larger;
// every per-node part of the segment is laid out for all of them.
TEST(SegmentLayout, RoomDefaultsToSevenNodesOrTheNodeCount) {
  SegmentConfig three;
  three.node_count = 3;
  const SegmentLayout room = SegmentLayout::compute(three);
  EXPECT_EQ(room.config.node_count, 3u);
  EXPECT_EQ(room.config.max_nodes, kDefaultMaxNodes);
  EXPECT_EQ(room.peer_rings, 7u * 6u);
  EXPECT_EQ(room.client_rings, 2u * 7u * three.client_slots);
  EXPECT_NE(room.describe().find("3 nodes (room for 7)"), std::string::npos) << room.describe();
  SegmentConfig nine;
  nine.node_count = 9;
  EXPECT_EQ(SegmentLayout::compute(nine).config.max_nodes, 9u);
}

TEST(Segment, NodesAboveTheInitialVotersHaveRingsCountersAndLiveness) {
  ScopedCluster cluster;
  SegmentConfig config = small_config(3, 2);
  config.max_nodes = 5;
  Segment created = Segment::create(cluster.name(), config);
  Segment s = Segment::attach(cluster.name());
  EXPECT_EQ(s.node_count(), 3u) << "the header records the initial voters";
  EXPECT_EQ(s.max_nodes(), 5u) << "and the room";
  // Node 5 (joining later) and node 1 talk through rings of their own.
  RingProducer to_five = s.peer_producer(1, 5);
  RingConsumer at_five = created.peer_consumer(1, 5);
  std::byte* out = to_five.try_reserve(8);
  ASSERT_NE(out, nullptr);
  std::memset(out, 0x5a, 8);
  to_five.commit(1, 8);
  to_five.publish();
  EXPECT_EQ(at_five.drain([](const Frame& frame) { EXPECT_EQ(frame.payload.size(), 8u); }), 1u);
  s.node_counters(5).set(s.node_counters(5).term, 55);
  EXPECT_EQ(created.node_counters(5).snapshot().term, 55u);
  EXPECT_EQ(s.node_counters(4).snapshot().term, 0u) << "each slot has counters of its own";
  {
    LivenessClaim claim = s.claim_liveness(4);
    EXPECT_TRUE(created.peer_alive(4).alive);
  }
  EXPECT_FALSE(created.peer_alive(4).alive);
  EXPECT_THROW(s.node_counters(6), std::out_of_range);
  EXPECT_THROW(s.peer_producer(1, 6), std::out_of_range);
}

TEST(ClusterIdTest, HexRoundTripAndRandomness) {
  const ClusterId a = ClusterId::random(), b = ClusterId::random();
  EXPECT_NE(a, b);
  EXPECT_EQ(ClusterId::from_hex(a.to_hex()), a);
  EXPECT_EQ(a.to_hex().size(), 32u);
  EXPECT_FALSE(ClusterId::from_hex("xyz").has_value());
  EXPECT_FALSE(ClusterId::from_hex(std::string(32, 'g')).has_value());
}

TEST(Segment, CreateAttachDestroy) {
  ScopedCluster cluster;
  EXPECT_FALSE(Segment::exists(cluster.name()));
  Segment created = Segment::create(cluster.name(), small_config());
  EXPECT_TRUE(Segment::exists(cluster.name()));
  EXPECT_EQ(created.header().creator_pid, ::getpid());
  EXPECT_EQ(created.header().layout_version, kLayoutVersion);
  EXPECT_STREQ(created.header().cluster_name, cluster.name().c_str());

  Segment attached = Segment::attach(cluster.name(), created.cluster_id());
  EXPECT_EQ(attached.cluster_id(), created.cluster_id());
  EXPECT_EQ(attached.config(), small_config());
  EXPECT_EQ(attached.max_nodes(), 3u);
  EXPECT_EQ(attached.size(), created.size());
  auto names = Segment::list_clusters();
  EXPECT_NE(std::find(names.begin(), names.end(), cluster.name()), names.end());

  EXPECT_TRUE(Segment::destroy(cluster.name()));
  EXPECT_FALSE(Segment::exists(cluster.name()));
  EXPECT_FALSE(Segment::destroy(cluster.name()));
  // Mappings outlive the name: the two handles still share memory.
  attached.node_counters(1).set(attached.node_counters(1).term, 42);
  EXPECT_EQ(created.node_counters(1).term.load(), 42u);
}

TEST(Segment, RecreatedWithTheSameId) {
  ScopedCluster cluster;
  const ClusterId id = ClusterId::random();
  { Segment first = Segment::create(cluster.name(), small_config(), id); }
  ASSERT_TRUE(Segment::destroy(cluster.name()));
  Segment again = Segment::create(cluster.name(), small_config(), id);
  EXPECT_EQ(Segment::attach(cluster.name(), id).cluster_id(), id);
}

TEST(Segment, IsMode0600WhateverTheUmask) {
  ScopedCluster cluster;
  const mode_t old_umask = ::umask(0);
  Segment segment = Segment::create(cluster.name(), small_config());
  ::umask(old_umask);
  struct stat info {};
  ASSERT_EQ(::stat(("/dev/shm/" + Segment::object_name(cluster.name())).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  EXPECT_EQ(static_cast<std::size_t>(info.st_size), segment.size());
}

TEST(Segment, CreatingTwiceIsAClearError) {
  ScopedCluster cluster;
  Segment first = Segment::create(cluster.name(), small_config());
  expect_segment_error([&] { Segment::create(cluster.name(), small_config()); },
                       {cluster.name(), "already exists", "shmraft clean"});
  EXPECT_EQ(Segment::attach(cluster.name()).cluster_id(), first.cluster_id());  // untouched
}

TEST(Segment, BadNamesAndConfigs) {
  expect_segment_error([] { Segment::object_name(""); }, {"bad cluster name"});
  expect_segment_error([] { Segment::object_name("a/b"); }, {"bad cluster name 'a/b'"});
  expect_segment_error([] { Segment::object_name(std::string(65, 'x')); }, {"1 to 64"});
  EXPECT_EQ(Segment::object_name("demo_1-x"), "shmraft.demo_1-x");
  ScopedCluster cluster;
  SegmentConfig config = small_config();
  config.client_ring_capacity = 1000;
  expect_segment_error([&] { Segment::create(cluster.name(), config); },
                       {"cannot create", cluster.name(), "client ring capacity 1000"});
  EXPECT_FALSE(Segment::exists(cluster.name()));
}

TEST(Segment, AttachingToAMissingSegment) {
  ScopedCluster cluster;
  expect_segment_error([&] { Segment::attach(cluster.name()); }, {cluster.name(), "does not exist"});
}

TEST(Segment, AttachingWithTheWrongClusterId) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config());
  const ClusterId other = ClusterId::random();
  expect_segment_error([&] { Segment::attach(cluster.name(), other); },
                       {"belongs to cluster id " + segment.cluster_id().to_hex(), other.to_hex()});
}

// Edits the header through the creator's mapping, as another build or a scribbler would have left it.
SegmentHeader& writable_header(Segment& segment) {
  return const_cast<SegmentHeader&>(segment.header());
}

TEST(Segment, AttachingToAnotherLayoutVersion) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config());
  writable_header(segment).layout_version = kLayoutVersion + 1;
  expect_segment_error([&] { Segment::attach(cluster.name()); },
                       {"has layout version " + std::to_string(kLayoutVersion + 1),
                        "reads version " + std::to_string(kLayoutVersion)});
  EXPECT_EQ(Segment::inspect(cluster.name()).state, SegmentState::incompatible);
  EXPECT_FALSE(Segment::remove_if_stale(cluster.name()));  // not ours to judge
}

TEST(Segment, AttachingToAnOlderLayoutVersionSaysSo) {
  // Version 1 had no liveness cells, progress counters or leader record; version 2 stored leader id + 1
  // in the leader record and counter: a running cluster of an older build is refused by name, not misread.
  for (const uint32_t old_version : {1u, 2u}) {
    ScopedCluster cluster;
    Segment segment = Segment::create(cluster.name(), small_config());
    writable_header(segment).layout_version = old_version;
    expect_segment_error([&] { Segment::attach(cluster.name()); },
                         {"has layout version " + std::to_string(old_version) +
                              " but this build reads version " + std::to_string(kLayoutVersion),
                          "made by another shmraft build"});
  }
}

TEST(Segment, AttachingToSomethingElse) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config());
  writable_header(segment).magic.store(0x1234);
  expect_segment_error([&] { Segment::attach(cluster.name()); }, {"is not a shmraft segment (magic 0x"});
  writable_header(segment).magic.store(kSegmentMagic);
  writable_header(segment).config.node_count = 1000;
  expect_segment_error([&] { Segment::attach(cluster.name()); }, {"corrupt header", "node count 1000"});
  writable_header(segment).config.node_count = 4;
  expect_segment_error([&] { Segment::attach(cluster.name()); },
                       {"corrupt header", "max nodes 3 is outside [4 (the node count), 16]"});
  writable_header(segment).config.node_count = 2;
  writable_header(segment).config.max_nodes = 2;
  expect_segment_error([&] { Segment::attach(cluster.name()); }, {"has the wrong size"});
}

TEST(Segment, AttachingToATinyObject) {
  ScopedCluster cluster;
  namespace bip = boost::interprocess;
  bip::shared_memory_object object(bip::create_only, Segment::object_name(cluster.name()).c_str(),
                                   bip::read_write, bip::permissions(0600));
  object.truncate(10);
  expect_segment_error([&] { Segment::attach(cluster.name()); }, {"not a shmraft segment (only 10 bytes)"});
  EXPECT_EQ(Segment::inspect(cluster.name()).state, SegmentState::incompatible);
}

TEST(Segment, HalfCreatedSegment) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config());
  writable_header(segment).magic.store(0);  // as if the creator were still initialising
  expect_segment_error([&] { Segment::attach(cluster.name()); }, {"not fully created", "still creating it"});
  EXPECT_EQ(Segment::inspect(cluster.name()).state, SegmentState::live);  // the creator (us) is alive
}

// --- stale detection: a segment whose processes all died ---

TEST(SegmentStale, CreatorDiedAndNoNodeRuns) {
  ScopedCluster cluster;
  const pid_t creator = test::fork_child([&] {
    Segment::create(cluster.name(), small_config());
    return 0;
  });
  ASSERT_EQ(test::wait_child(creator), 0);
  SegmentStatus status = Segment::inspect(cluster.name());
  EXPECT_EQ(status.state, SegmentState::stale) << status.detail;
  EXPECT_EQ(status.creator_pid, creator);
  EXPECT_TRUE(status.live_pids.empty());

  // A live node keeps it alive even though its creator is gone.
  {
    Segment segment = Segment::attach(cluster.name());
    segment.node_counters(2).set(segment.node_counters(2).pid, static_cast<uint64_t>(::getpid()));
    status = Segment::inspect(cluster.name());
    EXPECT_EQ(status.state, SegmentState::live) << status.detail;
    ASSERT_EQ(status.live_pids.size(), 1u);
    EXPECT_EQ(status.live_pids[0], ::getpid());
    EXPECT_FALSE(Segment::remove_if_stale(cluster.name()));
    // The node dies (a forked child takes its place and exits).
    const pid_t node = test::fork_child([] { return 0; });
    ASSERT_EQ(test::wait_child(node), 0);
    segment.node_counters(2).set(segment.node_counters(2).pid, static_cast<uint64_t>(node));
  }
  EXPECT_EQ(Segment::inspect(cluster.name()).state, SegmentState::stale);
  EXPECT_TRUE(Segment::remove_if_stale(cluster.name()));
  EXPECT_FALSE(Segment::exists(cluster.name()));
  EXPECT_EQ(Segment::inspect(cluster.name()).state, SegmentState::missing);
}

TEST(SegmentStale, CreatorKilledWhileCreating) {
  ScopedCluster cluster;
  {
    Segment segment = Segment::create(cluster.name(), small_config());
    const pid_t dead = test::fork_child([] { return 0; });
    ASSERT_EQ(test::wait_child(dead), 0);
    writable_header(segment).magic.store(0);
    writable_header(segment).creator_pid = dead;
  }
  expect_segment_error([&] { Segment::attach(cluster.name()); }, {"died while creating it"});
  EXPECT_EQ(Segment::inspect(cluster.name()).state, SegmentState::stale);
  EXPECT_TRUE(Segment::remove_if_stale(cluster.name()));
}

TEST(SegmentStale, LiveClusterIsNotRemoved) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config());
  EXPECT_EQ(Segment::inspect(cluster.name()).state, SegmentState::live);
  EXPECT_FALSE(Segment::remove_if_stale(cluster.name()));
  EXPECT_TRUE(Segment::exists(cluster.name()));
}

// --- client slots ---

TEST(ClientSlots, ClaimUntilExhaustedThenRelease) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config(3, 3));
  std::set<uint32_t> slots;
  for (int i = 0; i < 3; ++i) {
    const ClientSlotClaim claim = segment.claim_client_slot();
    EXPECT_EQ(claim.generation, 1u);
    EXPECT_EQ(claim.previous_owner, 0);
    EXPECT_EQ(segment.client_slot_owner(claim.slot), ::getpid());
    slots.insert(claim.slot);
  }
  EXPECT_EQ(slots.size(), 3u);
  expect_segment_error([&] { segment.claim_client_slot(); },
                       {"all 3 client slots are owned by live processes"});
  EXPECT_TRUE(segment.release_client_slot(1));
  EXPECT_FALSE(segment.release_client_slot(1));  // no longer ours
  const ClientSlotClaim again = segment.claim_client_slot();
  EXPECT_EQ(again.slot, 1u);
  EXPECT_EQ(again.generation, 2u);
  EXPECT_THROW(segment.release_client_slot(3), std::out_of_range);
}

TEST(ClientSlots, DeadOwnersSlotIsReclaimedWithoutItsReplies) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config(2, 2));
  segment.claim_client_slot();
  const pid_t client = test::fork_child([&] {
    Segment mine = Segment::attach(cluster.name());
    return static_cast<int>(mine.claim_client_slot().slot);
  });
  const int child_slot = test::wait_child(client);
  ASSERT_EQ(child_slot, 1);
  EXPECT_EQ(segment.client_slot_owner(1), client);
  // A node replied to the dead client; the reply must not reach the next owner.
  RingProducer reply = segment.response_producer(1, 1);
  ASSERT_TRUE(reply.try_push(5, {}));
  EXPECT_EQ(Segment::inspect(cluster.name()).live_pids.size(), 1u);  // only us: the client is dead

  segment.client_doorbell(1).waiters.store(1);  // it died waiting for that reply

  const ClientSlotClaim claim = segment.claim_client_slot();
  EXPECT_EQ(claim.slot, 1u);
  EXPECT_EQ(claim.previous_owner, client);
  EXPECT_EQ(segment.client_doorbell(1).waiters.load(), 0u);
  EXPECT_EQ(claim.generation, 2u);
  EXPECT_EQ(segment.client_slot_owner(1), ::getpid());
  EXPECT_FALSE(segment.response_consumer(1, 1).peek().has_value());
}

TEST(ClientSlots, ConcurrentClaimsNeverShareASlot) {
  ScopedCluster cluster;
  Segment segment = Segment::create(cluster.name(), small_config(1, 64));
  std::vector<pid_t> children;
  for (int i = 0; i < 8; ++i) {
    children.push_back(test::fork_child([&] {
      Segment mine = Segment::attach(cluster.name());
      for (int k = 0; k < 8; ++k) mine.claim_client_slot();
      ::pause();  // stay alive (owning the slots) until the parent has looked
      return 0;
    }));
  }
  // Wait until all 64 are owned, then check each child owns exactly 8.
  std::map<pid_t, int> owned;
  for (int tries = 0; tries < 2000; ++tries) {
    owned.clear();
    for (uint32_t s = 0; s < 64; ++s)
      if (pid_t owner = segment.client_slot_owner(s)) ++owned[owner];
    int total = 0;
    for (auto& [pid, count] : owned) total += count;
    if (total == 64) break;
    ::usleep(5000);
  }
  for (pid_t child : children) {
    EXPECT_EQ(owned[child], 8) << "child " << child;
    ::kill(child, SIGKILL);
    test::wait_child(child);
  }
}

// --- rings, doorbells, counters through the segment ---

TEST(SegmentRings, TwoMappingsShareEveryRingKind) {
  ScopedCluster cluster;
  Segment a = Segment::create(cluster.name(), small_config(3, 2));
  Segment b = Segment::attach(cluster.name());
  ASSERT_NE(&a.header(), &b.header());  // distinct mappings of one object
  const std::vector<std::byte> payload(100, std::byte{7});
  struct Pair {
    RingProducer producer;
    RingConsumer consumer;
    Doorbell* bell;
  };
  std::vector<Pair> pairs;
  for (uint32_t from = 1; from <= 3; ++from)
    for (uint32_t to = 1; to <= 3; ++to)
      if (from != to)
        pairs.push_back({a.peer_producer(from, to), b.peer_consumer(from, to), &b.node_doorbell(to)});
  for (uint32_t slot = 0; slot < 2; ++slot)
    for (uint32_t node = 1; node <= 3; ++node) {
      pairs.push_back(
          {a.request_producer(slot, node), b.request_consumer(slot, node), &b.node_doorbell(node)});
      pairs.push_back(
          {a.response_producer(node, slot), b.response_consumer(node, slot), &b.client_doorbell(slot)});
    }
  uint16_t type = 0;
  for (Pair& p : pairs) {
    p.bell->waiters.store(1);  // pretend the consumer sleeps: publish must ring its bell
    const uint32_t epoch = p.bell->epoch.load();
    ASSERT_TRUE(p.producer.try_push(++type, {payload.data(), payload.size()}));
    EXPECT_EQ(p.bell->epoch.load(), epoch + 1) << "ring " << type;
    p.bell->waiters.store(0);
  }
  type = 0;
  for (Pair& p : pairs) {
    auto frame = p.consumer.peek();
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->type, ++type);  // each ring got exactly its own frame
    p.consumer.release();
    EXPECT_FALSE(p.consumer.peek().has_value());
  }
  EXPECT_EQ(a.peer_producer(1, 2).max_payload(), (64u << 10) / 2 - 12);
  EXPECT_EQ(a.request_producer(0, 1).max_payload(), (4u << 10) / 2 - 12);
}

TEST(SegmentRings, BadIdsAreOutOfRange) {
  ScopedCluster cluster;
  Segment s = Segment::create(cluster.name(), small_config(3, 2));
  EXPECT_THROW(s.peer_producer(1, 4), std::out_of_range);
  EXPECT_THROW(s.peer_producer(0, 2), std::out_of_range);
  EXPECT_THROW(s.peer_consumer(2, 2), std::out_of_range);
  EXPECT_THROW(s.request_producer(2, 1), std::out_of_range);
  EXPECT_THROW(s.request_producer(0, 0), std::out_of_range);
  EXPECT_THROW(s.response_consumer(4, 0), std::out_of_range);
  EXPECT_THROW(s.node_doorbell(4), std::out_of_range);
  EXPECT_THROW(s.client_doorbell(2), std::out_of_range);
  EXPECT_THROW(s.link_fault(1, 1), std::out_of_range);
  EXPECT_THROW(s.link_fault(0, 1), std::out_of_range);
  EXPECT_THROW(s.node_counters(5), std::out_of_range);
  EXPECT_THROW(s.ring_control(3 * 2 + 2 * 3 * 2), std::out_of_range);
}

// Nodes are numbered 1..N in ipc as everywhere else: 0 ("none") and N+1 are refused by every
// per-node accessor, with a message that names the id and the range.
TEST(SegmentRings, NodeIdsAreOneToN) {
  ScopedCluster cluster;
  Segment s = Segment::create(cluster.name(), small_config(3, 2));
  for (const uint32_t bad : {0u, 4u}) {
    const std::string expected = "node id " + std::to_string(bad) + " out of range 1..3";
    auto expect_refused = [&](auto&& call) {
      try {
        call();
        ADD_FAILURE() << "node id " << bad << " accepted";
      } catch (const std::out_of_range& e) {
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      }
    };
    expect_refused([&] { s.node_counters(bad); });
    expect_refused([&] { s.node_doorbell(bad); });
    expect_refused([&] { s.progress(bad); });
    expect_refused([&] { s.peer_alive(bad); });
    expect_refused([&] { s.claim_liveness(bad); });
    expect_refused([&] { s.watch_deaths(bad); });
    expect_refused([&] { s.announce_leader(bad, 1); });
    EXPECT_THROW(s.request_producer(0, bad), std::out_of_range);
    EXPECT_THROW(s.response_consumer(bad, 0), std::out_of_range);
    EXPECT_THROW(s.peer_producer(1, bad), std::out_of_range);
  }
  // Each of 1..3 has counters of its own.
  for (uint32_t id = 1; id <= 3; ++id) s.node_counters(id).set(s.node_counters(id).term, id * 10);
  for (uint32_t id = 1; id <= 3; ++id) EXPECT_EQ(s.node_counters(id).term.load(), id * 10);
}

TEST(NodeCountersTest, SetAddSnapshot) {
  ScopedCluster cluster;
  Segment s = Segment::create(cluster.name(), small_config());
  NodeCounters& c = s.node_counters(1);
  c.set(c.pid, 1234);
  c.set(c.term, 7);
  NodeCounters::add(c.frames_in, 10);
  NodeCounters::add(c.frames_in);
  c.set(c.death_elections, 99);
  c.set(c.tcp_port, 40123);
  NodeCounters::add(c.sleeps, 5);
  NodeCounters::add(c.oversized);
  const NodeCountersSnapshot snap = Segment::attach(s.cluster()).node_counters(1).snapshot();
  EXPECT_EQ(snap.tcp_port, 40123u);
  EXPECT_EQ(snap.sleeps, 5u);
  EXPECT_EQ(snap.oversized, 1u);
  EXPECT_EQ(snap.deaths_seen, 0u);
  EXPECT_EQ(snap.pid, 1234u);
  EXPECT_EQ(snap.term, 7u);
  EXPECT_EQ(snap.frames_in, 11u);
  EXPECT_EQ(snap.death_elections, 99u);
  EXPECT_EQ(snap.elections, 0u);
  EXPECT_EQ(s.node_counters(2).snapshot().frames_in, 0u);
}

}  // namespace
}  // namespace shmraft::ipc
