#pragma once
// One cluster's shared-memory segment: POSIX shm object "/shmraft.<cluster>" (Boost.Interprocess),
// mode 0600, laid out as in layout.h (DESIGN §2).
//
// Launcher:
//     Segment seg = Segment::create("demo", config);     // SegmentError if it exists
//     std::cout << seg.layout().describe();               // prints the size
//     ... Segment::destroy("demo") on `down`/Ctrl-C; Segment::remove_if_stale(name) for `shmraft clean`
// Node i:
//     Segment seg = Segment::attach("demo", expected_id);          // expected_id optional
//     LivenessClaim alive = seg.claim_liveness(i);                // SegmentError if node i runs already
//     DeathWatch deaths = seg.watch_deaths(i);                    // peers' deaths, from the kernel
//     NodeCounters& me = seg.node_counters(i);   me.set(me.pid, getpid());
//     RingConsumer from_j = seg.peer_consumer(j, i);              // for each peer j != i in 1..M
//     RingProducer to_j   = seg.peer_producer(i, j);              // rings node j's doorbell on publish
//     RingConsumer req_s  = seg.request_consumer(s, i);           // for each client slot s
//     RingProducer resp_s = seg.response_producer(i, s);          // rings slot s's doorbell
//     seg.node_doorbell(i).reset_waiters();                        // once, before the loop
//     Waiter waiter(seg.node_doorbell(i), strategy);
//     decide_send(seg.link_fault(i, j), rng) before each send to j
//     seg.progress(i).bump() each loop iteration; seg.announce_leader(i, term) on becoming leader
//     (liveness.h, progress.h and leader.h say how the loop uses them)
// Client:
//     ClientSlotClaim c = seg.claim_client_slot();                // SegmentError if none is free
//     RingProducer req = seg.request_producer(c.slot, node);      // rings the node's doorbell
//     RingConsumer resp = seg.response_consumer(node, c.slot);
//     Waiter waiter(seg.client_doorbell(c.slot), strategy);
//     req.publish_unrung(); seg.request_signals(node).raise(c.slot); seg.node_doorbell(node).ring();
//     seg.share_reply_doorbell(c.slot, other) lets one thread sleep on `other`'s bell for many slots
//     ... seg.release_client_slot(c.slot) when done (a dead owner's slot is reclaimed automatically)
//     seg.leader_record().read() says who leads; announce_leader rings every claimed slot's doorbell
//
// Views (RingProducer/RingConsumer, references) point into this mapping: keep the Segment alive while
// they are used. Ring views are process-local; build each one once and keep it (they cache indices).
// Node ids are 1..max_nodes() (layout.h; the first node_count() are the initial voters), client slots
// 0-based; a bad id throws std::out_of_range ("node id 9 out of range 1..7").
#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/counters.h"
#include "ipc/doorbell.h"
#include "ipc/fault.h"
#include "ipc/layout.h"
#include "ipc/leader.h"
#include "ipc/liveness.h"
#include "ipc/progress.h"
#include "ipc/request_signals.h"
#include "ipc/ring.h"

namespace shmraft::ipc {

// Every failure to create, attach or use a segment, with a message naming the cluster and the cause.
class SegmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ClientSlotClaim {
  uint32_t slot = 0;
  uint32_t generation = 0;   // distinct for each claim of this slot
  pid_t previous_owner = 0;  // non-zero when the slot was taken back from a dead process
};

enum class SegmentState {
  missing,       // no such shm object
  live,          // some process named in it (creator, a node, a client) is alive, or still creating
  stale,         // every process named in it is dead: safe to remove
  incompatible,  // not a shmraft segment of this layout version (left alone by remove_if_stale)
};

struct SegmentStatus {
  SegmentState state = SegmentState::missing;
  std::string detail;  // one human-readable line
  pid_t creator_pid = 0;
  std::vector<pid_t> live_pids;  // creator, nodes and client owners found alive
  std::size_t size = 0;          // bytes of the shm object
};

std::string_view to_string(SegmentState state) noexcept;

class Segment {
 public:
  // "shmraft.<cluster>". Throws SegmentError unless the cluster name is 1-64 of [A-Za-z0-9_-].
  static std::string object_name(std::string_view cluster);

  // Creates and initialises a new segment with a fresh random cluster id. SegmentError if one exists.
  static Segment create(std::string_view cluster, const SegmentConfig& config);
  // The same with a given id: a cluster restarted after `down` keeps the id its data directories carry.
  static Segment create(std::string_view cluster, const SegmentConfig& config, const ClusterId& id);
  // SegmentError when missing, not a shmraft segment, another layout version, not fully created, of the
  // wrong size, or (if given) of another cluster id.
  static Segment attach(std::string_view cluster, const std::optional<ClusterId>& expected_id = std::nullopt);
  static bool exists(std::string_view cluster);
  // Unlinks the shm object (processes that have it mapped keep it until they exit). False if missing.
  static bool destroy(std::string_view cluster);
  // Never throws for a bad or foreign segment: reports it.
  static SegmentStatus inspect(std::string_view cluster);
  // Destroys the segment if inspect() says stale. Returns whether it did.
  static bool remove_if_stale(std::string_view cluster);
  // Cluster names of every "shmraft.*" object in /dev/shm.
  static std::vector<std::string> list_clusters();

  Segment(Segment&&) noexcept = default;
  Segment& operator=(Segment&&) noexcept = default;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const std::string& cluster() const noexcept { return cluster_; }
  const SegmentHeader& header() const noexcept { return *header_; }
  const SegmentLayout& layout() const noexcept { return layout_; }
  const SegmentConfig& config() const noexcept { return layout_.config; }
  ClusterId cluster_id() const noexcept { return header_->cluster_id; }
  // The initial voters 1..node_count(); every per-node part has max_nodes() slots (nodes added later).
  uint32_t node_count() const noexcept { return layout_.config.node_count; }
  uint32_t max_nodes() const noexcept { return layout_.config.max_nodes; }
  uint32_t client_slots() const noexcept { return layout_.config.client_slots; }
  std::size_t size() const noexcept { return layout_.total_size; }

  // Rings. Producers ring the consumer's doorbell on publish().
  RingProducer peer_producer(uint32_t from, uint32_t to);
  RingConsumer peer_consumer(uint32_t from, uint32_t to);
  RingProducer request_producer(uint32_t slot, uint32_t node);
  RingConsumer request_consumer(uint32_t slot, uint32_t node);
  RingProducer response_producer(uint32_t node, uint32_t slot);
  RingConsumer response_consumer(uint32_t node, uint32_t slot);
  RingControl& ring_control(uint32_t ring);  // by SegmentLayout numbering (status, tests)

  Doorbell& node_doorbell(uint32_t node);
  Doorbell& client_doorbell(uint32_t slot);
  // The doorbell a node rings for `slot`'s replies: the slot's own, or the one it shares.
  Doorbell& reply_doorbell(uint32_t slot);
  uint32_t reply_bell_slot(uint32_t slot) const;
  // From now on replies to `slot` ring `bell_slot`'s doorbell (both owned by the caller). Call before the
  // slot's first request; a new claim of `slot` undoes it.
  void share_reply_doorbell(uint32_t slot, uint32_t bell_slot);
  // Node `node`'s flags of client slots with unread requests (request_signals.h).
  RequestSignals request_signals(uint32_t node);
  LinkFault& link_fault(uint32_t from, uint32_t to);
  NodeCounters& node_counters(uint32_t node);
  // For readers (status, the bench): the counters are atomics, so reading needs no mutable segment.
  const NodeCounters& node_counters(uint32_t node) const;

  // Claims a free slot for this process (getpid()), else takes back one whose owner is dead; bumps the
  // slot's generation, discards replies still queued for the previous owner and resets the slot's
  // doorbell. SegmentError when every slot belongs to a live process.
  ClientSlotClaim claim_client_slot();
  // Frees a slot this process owns. False if it is not ours.
  bool release_client_slot(uint32_t slot);
  pid_t client_slot_owner(uint32_t slot) const;

  // Liveness (issue 13). Claims node `node` for this process until the claim is destroyed or the
  // process dies, either of which the kernel reports to the node's peers at once; bumps its incarnation.
  // SegmentError when a live process holds the node already.
  LivenessClaim claim_liveness(uint32_t node);
  PeerLiveness peer_alive(uint32_t node) const;
  // Node `me`'s view of its peers' deaths; counts them in node_counters(me).deaths_seen.
  DeathWatch watch_deaths(uint32_t me);
  ProgressCounter& progress(uint32_t node);
  const ProgressCounter& progress(uint32_t node) const;
  ProgressWatch watch_progress(std::chrono::nanoseconds stall) const;
  LeaderRecord& leader_record();
  const LeaderRecord& leader_record() const;
  // LeaderRecord::publish, then rings the doorbell of every claimed client slot so a client asleep on
  // a dead leader's reply looks at once. Returns publish's answer.
  bool announce_leader(uint32_t leader, uint64_t term);
  // LeaderRecord::publish_candidate, then rings the client doorbells as announce_leader does.
  bool announce_candidate(uint32_t candidate, uint64_t term);

 private:
  Segment(std::string cluster, boost::interprocess::mapped_region region, const SegmentLayout& layout);
  template <class T>
  T& at(std::size_t offset) const noexcept {
    return *reinterpret_cast<T*>(static_cast<std::byte*>(region_.get_address()) + offset);
  }
  std::byte* ring_buffer(uint32_t ring) const noexcept;
  ClientSlotState& client_slot_state(uint32_t slot) const noexcept;
  LivenessCells liveness_cells() const noexcept;
  void check_node(uint32_t node) const;
  void check_slot(uint32_t slot) const;
  void ring_claimed_client_bells();

  std::string cluster_;
  boost::interprocess::mapped_region region_;
  SegmentLayout layout_;
  SegmentHeader* header_ = nullptr;
};

}  // namespace shmraft::ipc
