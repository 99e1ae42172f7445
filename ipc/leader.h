#pragma once
// Who leads (issue 13 item 4): a node that becomes leader publishes (leader id, term) here, so a client
// whose leader died redirects at once instead of waiting for its own timeout. Advisory, like a leader
// hint: a client still learns the truth from the node it asks, and exactly-once rests on its sequence
// numbers, not on this record.
//
// The record only moves forward: a publish with an older term than the record's is refused, so an old
// leader resumed from SIGSTOP cannot overwrite its successor. Term and leader share one 64-bit word
// (term << 8 | leader id, 0 = none) so a reader never sees the leader of one term with another term.
//
// A second word names a candidate: a node that campaigns because its leader died says so (term, id),
// so the clients of the dead leader resend to it at once and its first receive as leader takes their
// requests with the deciding vote (the no-op and the first writes share one append). Only a hint for a
// resend: a candidate that loses answers "not leader" as any follower does.
#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>

#include "ipc/doorbell.h"

namespace shmraft::ipc {

struct LeaderView {
  std::optional<uint32_t> leader;  // nullopt: none known in `term`
  uint64_t term = 0;
  friend bool operator==(const LeaderView&, const LeaderView&) = default;
};

struct alignas(kCacheLine) LeaderRecord {
  static constexpr uint64_t kMaxTerm = (uint64_t{1} << 56) - 1;

  std::atomic<uint64_t> term_and_leader{0};
  std::atomic<uint64_t> term_and_candidate{0};

  LeaderView read() const noexcept { return unpack(term_and_leader.load(std::memory_order_acquire)); }
  // The newest announced candidate (`leader` holds its id), whatever became of its election.
  LeaderView read_candidate() const noexcept {
    return unpack(term_and_candidate.load(std::memory_order_acquire));
  }

  // `leader` leads in `term`. False (and no change) when the record already holds a newer term, or
  // another leader for this term. Throws std::out_of_range for a term over kMaxTerm or a leader id
  // outside 1..255.
  bool publish(uint32_t leader, uint64_t term) {
    if (term > kMaxTerm || leader == 0 || leader > 255)
      throw std::out_of_range("leader record: term or leader out of range");
    const uint64_t wanted = pack(leader, term);
    uint64_t current = term_and_leader.load(std::memory_order_acquire);
    for (;;) {
      const LeaderView now = unpack(current);
      if (now.term > term || (now.term == term && now.leader && *now.leader != leader)) return false;
      if (current == wanted) return true;
      if (term_and_leader.compare_exchange_weak(current, wanted, std::memory_order_acq_rel)) return true;
    }
  }

  // `candidate` campaigns in `term`. False (and no change) unless `term` is newer than both the leader's
  // and the candidate's words: a candidate of a term whose leader is known is news to nobody. Throws as
  // publish().
  bool publish_candidate(uint32_t candidate, uint64_t term) {
    if (term > kMaxTerm || candidate == 0 || candidate > 255)
      throw std::out_of_range("leader record: term or candidate out of range");
    uint64_t current = term_and_candidate.load(std::memory_order_acquire);
    for (;;) {
      if (unpack(current).term >= term || read().term >= term) return false;
      if (term_and_candidate.compare_exchange_weak(current, pack(candidate, term), std::memory_order_acq_rel))
        return true;
    }
  }

  // `leader` no longer leads in `term` (it stepped down or is leaving): the record says "none in
  // `term`" if it still names it. False when it names someone else or a newer term.
  bool withdraw(uint32_t leader, uint64_t term) noexcept {
    uint64_t expected = pack(leader, term);
    return term_and_leader.compare_exchange_strong(expected, term << 8, std::memory_order_acq_rel);
  }

 private:
  static uint64_t pack(uint32_t leader, uint64_t term) noexcept { return term << 8 | leader; }
  static LeaderView unpack(uint64_t word) noexcept {
    LeaderView view;
    view.term = word >> 8;
    if ((word & 0xff) != 0) view.leader = static_cast<uint32_t>(word & 0xff);
    return view;
  }
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

}  // namespace shmraft::ipc
