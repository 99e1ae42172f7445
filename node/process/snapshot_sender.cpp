#include "node/process/snapshot_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace shmraft::node {

SnapshotSender::SnapshotSender(PeerSender& peers, uint32_t self, Options options, ImageSource images,
                               spdlog::logger& log)
    : peers_(peers), self_(self), options_(options), images_(std::move(images)), log_(log) {}

SnapshotSender::~SnapshotSender() {
  if (check_) check_->worker.join();
}

std::shared_ptr<const SnapshotImage> SnapshotSender::image_for(const raft::InstallSnapshot& m) {
  if (!last_image_ || last_meta_ != m.meta) {
    last_image_ = images_(m);
    last_meta_ = m.meta;
    last_image_refusals_ = 0;
    last_image_checked_ = false;
  }
  return last_image_;
}

void SnapshotSender::offer(const raft::InstallSnapshot& m, uint64_t now_ns) {
  if (check_ && check_->done.load(std::memory_order_acquire)) finish_check();
  const auto running = transfers_.find(m.to);
  if (running != transfers_.end() && running->second.term == m.term && running->second.meta == m.meta)
    return;  // the core repeating itself while the transfer runs
  std::shared_ptr<const SnapshotImage> image = image_for(m);
  if (!image) {
    log_.info("snapshot at index {} term {} not sent to node {}: a newer one replaced it", m.meta.index,
              m.meta.term, m.to);
    return;
  }
  if (damaged_ && image->id() == *damaged_) {
    log_.debug("snapshot at index {} term {} not sent to node {}: its file is damaged", m.meta.index,
               m.meta.term, m.to);
    return;
  }
  Transfer& t = transfers_[m.to];
  t = Transfer{};
  t.term = m.term;
  t.meta = m.meta;
  t.image = std::move(image);
  t.started_ns = now_ns;
  t.heard_ns = now_ns;
  send_offer(m.to, t, now_ns);
}

void SnapshotSender::on_reply(const ChunkFrame& frame, uint64_t now_ns) {
  const auto it = transfers_.find(frame.from);
  if (it == transfers_.end() || it->second.term != frame.term || it->second.image->id() != frame.id) return;
  Transfer& t = it->second;
  t.heard_ns = now_ns;
  if (frame.kind == ChunkKind::kDone) {
    ++transfers_done_;
    const double seconds = static_cast<double>(now_ns - t.started_ns) / 1e9;
    if (t.chunks == 0)  // the core asking again while the follower installs the image it holds
      log_.debug("snapshot at index {} term {} held whole by node {} already", t.image->id().index,
                 t.image->id().term, frame.from);
    else
      log_.info("snapshot at index {} term {} ({} bytes) sent to node {} in {:.3f} s: {} chunks{}",
                t.image->id().index, t.image->id().term, t.image->id().bytes, frame.from, seconds, t.chunks,
                t.resumed_from > 0 ? fmt::format(", resumed at byte {}", t.resumed_from) : std::string());
    transfers_.erase(it);
    return;
  }
  if (!t.answered) {  // the answer to the offer: where to start
    t.answered = true;
    if (frame.offset > 0) {
      ++transfers_resumed_;
      t.resumed_from = frame.offset;
    }
    t.acked = t.next = frame.offset;
  } else if (frame.kind == ChunkKind::kAck) {
    if (frame.offset > t.acked) {
      t.acked = frame.offset;
      t.next = std::max(t.next, frame.offset);
    }
  } else if (frame.offset != t.rewound_to || now_ns - t.rewound_ns >= options_.retry_ns) {
    // kNack: every chunk in flight after a lost one says the same; go back once, not once per chunk.
    // Back to byte 0 once every byte went out: the follower refused the image whole (or lost its first
    // chunk; a check of the image settles which).
    if (frame.offset == 0 && t.next == t.image->id().bytes) refused_whole(t.image);
    t.acked = t.next = frame.offset;
    t.rewound_to = frame.offset;
    t.rewound_ns = now_ns;
  }
  send_window(frame.from, t, now_ns);
}

void SnapshotSender::pump(uint64_t now_ns) {
  if (check_ && check_->done.load(std::memory_order_acquire)) finish_check();
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    const uint32_t to = it->first;
    Transfer& t = it->second;
    if (now_ns - t.heard_ns >= options_.give_up_ns) {
      log_.info("snapshot transfer to node {} dropped: no answer for {} ms (held {} of {} bytes)", to,
                options_.give_up_ns / 1'000'000, t.acked, t.image->id().bytes);
      it = transfers_.erase(it);
      continue;
    }
    const uint64_t quiet_since = std::max(t.heard_ns, t.sent_ns);
    if (now_ns - quiet_since >= options_.retry_ns) {
      if (!t.answered) {
        send_offer(to, t, now_ns);
      } else {
        t.next = t.acked;  // nothing acknowledged for a while: the window was lost
        t.sent_ns = now_ns;
      }
    }
    if (t.answered) send_window(to, t, now_ns);
    ++it;
  }
}

void SnapshotSender::stop_all() {
  transfers_.clear();
  last_image_.reset();
}

void SnapshotSender::snapshot_replaced() {
  last_image_.reset();
  damaged_.reset();
}

std::optional<uint64_t> SnapshotSender::next_due_ns() const noexcept {
  std::optional<uint64_t> due;
  for (const auto& [to, t] : transfers_) {
    const uint64_t at =
        t.blocked ? t.sent_ns + options_.retry_ns / 100 : std::max(t.heard_ns, t.sent_ns) + options_.retry_ns;
    due = std::min(due.value_or(at), at);
  }
  return due;
}

void SnapshotSender::send_offer(uint32_t to, Transfer& t, uint64_t now_ns) {
  t.sent_ns = now_ns;
  send(to, t, ChunkKind::kOffer, 0, now_ns);
}

void SnapshotSender::send_window(uint32_t to, Transfer& t, uint64_t now_ns) {
  const uint64_t window = options_.window_chunks * options_.chunk_bytes;
  t.blocked = false;
  while (t.next < t.image->id().bytes && t.next - t.acked < window) {
    if (!send(to, t, ChunkKind::kData, t.next, now_ns)) {
      t.blocked = true;
      t.sent_ns = now_ns;
      return;
    }
    t.next = std::min<uint64_t>(t.next + options_.chunk_bytes, t.image->id().bytes);
    ++t.chunks;
    ++chunks_sent_;
  }
}

bool SnapshotSender::send(uint32_t to, const Transfer& t, ChunkKind kind, uint64_t offset, uint64_t now_ns) {
  ChunkFrame frame;
  frame.kind = kind;
  frame.from = self_;
  frame.to = to;
  frame.term = t.term;
  frame.id = t.image->id();
  frame.offset = offset;
  const std::size_t length =
      kind == ChunkKind::kData ? std::min<uint64_t>(options_.chunk_bytes, frame.id.bytes - offset) : 0;
  // The chunk is read from the image straight into the frame, where encode() leaves it.
  return peers_.send_frame(to, kChunkHeaderBytes + length, now_ns, [&](std::span<std::byte> out) {
    frame.data = out.subspan(kChunkHeaderBytes, length);
    t.image->read(offset, out.subspan(kChunkHeaderBytes, length));
    return encode(frame, out);
  });
}

void SnapshotSender::refused_whole(const std::shared_ptr<const SnapshotImage>& image) {
  if (image != last_image_ || last_image_checked_ || ++last_image_refusals_ < kRefusalsBeforeCheck) return;
  if (check_) return;  // another image's check runs: the next refusal tries again
  last_image_checked_ = true;
  ++images_checked_;
  log_.warn("snapshot at index {} term {} refused whole {} times by followers: checking the leader's file",
            image->id().index, image->id().term, last_image_refusals_);
  check_ = std::make_unique<Check>();
  check_->image = image;
  check_->worker = std::thread([check = check_.get()] {
    try {
      check->intact = check->image->intact();
    } catch (const std::exception& e) {
      check->error = e.what();
    }
    check->done.store(true, std::memory_order_release);
  });
}

void SnapshotSender::finish_check() {
  check_->worker.join();
  const std::unique_ptr<Check> check = std::move(check_);
  const SnapshotId id = check->image->id();
  if (check->intact) {
    log_.warn("snapshot at index {} term {}: the leader's file checks out; the refusals are the followers'",
              id.index, id.term);
    return;
  }
  ++images_damaged_;
  damaged_ = id;
  log_.error(
      "snapshot at index {} term {}: the leader's own snapshot file {}; it is not sent again, and a new "
      "snapshot is taken for the followers that need one",
      id.index, id.term, check->error.empty() ? "fails its CRC" : "cannot be read: " + check->error);
  std::erase_if(transfers_, [&](const auto& entry) { return entry.second.image->id() == id; });
}

}  // namespace shmraft::node
