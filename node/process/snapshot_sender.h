#pragma once
// The leader's side of a chunked snapshot transfer (snapshot_chunk.h). The Raft core emits one
// InstallSnapshot (the node's core carries only its metadata: node/process/raft_storage.h); the node gives
// it to offer(), and this class streams the image to the follower in chunks that fit a peer frame, each
// read from the image (the snapshot file: snapshot_image.h) straight into the ring as it is sent — the
// image is never read whole, copied or checked on the loop; the receiver checks its CRC end to end —
// a window of them in flight, each acknowledged by the receiver with the offset it holds. The node loop calls
// pump() every iteration: it sends at most a window per follower, so AppendEntries and heartbeats to the
// others (and to this follower) keep flowing, and it never waits.
//
//   offer -> Ack(held)            resume from `held` (a restarted receiver keeps its partial file)
//   Data[offset] ...  -> Ack(held) per chunk written (or held already); Nack(held) for a chunk not
//                                 written (one before it lost, or refused): the sender goes back there
//                                 once, not once per Nack
//   ... -> Done                   the follower's core has the snapshot; its InstallSnapshotResponse
//                                 follows as an ordinary Raft message
// A transfer that hears nothing for a retry interval sends its offer (or its unacknowledged window)
// again, and is dropped after a silence of `give_up_ns`: the core offers the snapshot again later, and
// the offer resumes where the receiver stands. The core repeating the same InstallSnapshot while a
// transfer runs (it times out after an election timeout) does not restart it.
//
// The image is not checked before it goes (only its header, when opened), so a file damaged since it
// was written would be refused whole by every follower, fetched again from byte 0, forever. After
// kRefusalsBeforeCheck such refusals of one image the sender reads it whole on a thread of its own and
// checks its CRC; a damaged image is logged as an error, its transfers end and it is not sent again
// (images_damaged() counts them: the node takes a new snapshot at once to catch its followers up, and
// tells snapshot_replaced() once its file is in place).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "node/process/peer_sender.h"
#include "node/process/snapshot_chunk.h"
#include "node/process/snapshot_image.h"
#include "node/raft/message.h"

namespace spdlog {
class logger;
}

namespace shmraft::node {

class SnapshotSender {
 public:
  struct Options {
    std::size_t chunk_bytes = 64 << 10;  // data per chunk frame
    std::size_t window_chunks = 4;       // chunks in flight per follower
    uint64_t retry_ns = 100'000'000;     // silence after which the offer or the window is sent again
    uint64_t give_up_ns = 2'000'000'000;
  };

  // The image of the core's InstallSnapshot, or nullptr when it is not there (replaced by a newer one
  // since: the core offers that one next).
  using ImageSource = std::function<std::shared_ptr<const SnapshotImage>(const raft::InstallSnapshot&)>;

  // `peers` and `log` must outlive the sender.
  SnapshotSender(PeerSender& peers, uint32_t self, Options options, ImageSource images, spdlog::logger& log);
  ~SnapshotSender();  // waits for a check of an image under way
  SnapshotSender(const SnapshotSender&) = delete;
  SnapshotSender& operator=(const SnapshotSender&) = delete;

  // Whole-image refusals of one image (the follower dropped every byte it held once all were sent)
  // after which the image is read back and checked.
  static constexpr int kRefusalsBeforeCheck = 3;

  // The core's InstallSnapshot: starts a transfer to m.to unless the same snapshot is already on its way
  // there (a newer one replaces it). Opens the image once per snapshot, whatever the followers.
  void offer(const raft::InstallSnapshot& m, uint64_t now_ns);
  // A follower's kAck, kNack or kDone.
  void on_reply(const ChunkFrame& frame, uint64_t now_ns);
  // Sends what the windows allow and what timed out.
  void pump(uint64_t now_ns);
  // The follower's process died: its transfer ends, and the core's next offer to the restarted process
  // resumes where its partial file stands.
  void peer_died(uint32_t to) { transfers_.erase(to); }
  // This node stopped leading: every transfer ends (the receivers keep their partial files).
  void stop_all();
  // The node's snapshot file was replaced: the next offer opens it again, even one of the same index
  // and CRC as an image found damaged (a new snapshot of the same state: a new file, checked afresh).
  void snapshot_replaced();

  // When pump() has something to do next, if a transfer runs.
  std::optional<uint64_t> next_due_ns() const noexcept;
  bool active() const noexcept { return !transfers_.empty(); }

  uint64_t chunks_sent() const noexcept { return chunks_sent_; }
  uint64_t transfers_resumed() const noexcept { return transfers_resumed_; }
  uint64_t transfers_done() const noexcept { return transfers_done_; }
  bool checking() const noexcept { return check_ != nullptr; }  // until pump() or offer() sees it done
  uint64_t images_checked() const noexcept { return images_checked_; }
  uint64_t images_damaged() const noexcept { return images_damaged_; }

 private:
  struct Transfer {
    uint64_t term = 0;
    raft::SnapshotMeta meta;
    std::shared_ptr<const SnapshotImage> image;
    bool answered = false;  // the receiver answered the offer: chunks may go
    uint64_t acked = 0;     // the receiver holds [0, acked)
    uint64_t next = 0;      // the next byte to send
    uint64_t resumed_from = 0;
    uint64_t chunks = 0;
    uint64_t started_ns = 0;
    uint64_t heard_ns = 0;             // last reply, or the start
    uint64_t sent_ns = 0;              // last offer or retransmission
    bool blocked = false;              // the ring to the follower was full: try again soon
    uint64_t rewound_to = UINT64_MAX;  // the offset of the last kNack followed, and when
    uint64_t rewound_ns = 0;
  };

  std::shared_ptr<const SnapshotImage> image_for(const raft::InstallSnapshot& m);
  void send_offer(uint32_t to, Transfer& t, uint64_t now_ns);
  void send_window(uint32_t to, Transfer& t, uint64_t now_ns);
  bool send(uint32_t to, const Transfer& t, ChunkKind kind, uint64_t offset, uint64_t now_ns);
  void refused_whole(const std::shared_ptr<const SnapshotImage>& image);
  void finish_check();  // the check thread is done: act on its verdict

  // The check of one image's CRC, off the loop.
  struct Check {
    std::shared_ptr<const SnapshotImage> image;
    std::thread worker;
    std::atomic<bool> done{false};
    bool intact = false;
    std::string error;  // the read failed
  };

  PeerSender& peers_;
  uint32_t self_;
  Options options_;
  ImageSource images_;
  spdlog::logger& log_;
  std::map<uint32_t, Transfer> transfers_;  // by follower
  raft::SnapshotMeta last_meta_;
  std::shared_ptr<const SnapshotImage> last_image_;
  int last_image_refusals_ = 0;
  bool last_image_checked_ = false;  // checked or being checked: once per image
  std::unique_ptr<Check> check_;
  std::optional<SnapshotId> damaged_;  // the image found damaged: not sent again
  uint64_t images_checked_ = 0;
  uint64_t images_damaged_ = 0;
  uint64_t chunks_sent_ = 0;
  uint64_t transfers_resumed_ = 0;
  uint64_t transfers_done_ = 0;
};

}  // namespace shmraft::node
