#include "node/process/snapshot_receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "ipc/clock.h"
#include "ipc/crc32c.h"
#include "node/storage/snapshot_file.h"

namespace shmraft::node {
namespace {

namespace fs = std::filesystem;
using storage::format::SnapshotHeader;

SnapshotHeader header_for(const SnapshotId& id) noexcept {
  SnapshotHeader h = storage::snapshot_header(storage_meta(id), id.bytes);
  h.crc = id.crc;
  return h;
}

}  // namespace

storage::SnapshotMeta storage_meta(const SnapshotId& id) noexcept {
  return {id.index, id.term, id.voters, id.learners, id.repairing, id.repair_incarnation};
}

SnapshotReceiver::SnapshotReceiver(fs::path partial_file, uint32_t self, std::vector<std::string>& notes,
                                   uint64_t writeback_bytes)
    : path_(std::move(partial_file)), self_(self), writeback_bytes_(writeback_bytes) {
  const int raw = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);  // a planted link is refused
  if (raw < 0) {
    if (errno == ENOENT) return;
    storage::throw_errno("cannot open", path_, errno);
  }
  storage::UniqueFd fd(raw);
  const uint64_t size = storage::file_size(fd.get(), path_);
  SnapshotHeader h{};
  if (size >= kPartialHeaderBytes) storage::read_all_at(fd.get(), &h, sizeof h, 0, path_);
  if (size < kPartialHeaderBytes || h.magic != storage::format::kSnapshotMagic ||
      h.version != storage::format::kSnapshotVersion || size - kPartialHeaderBytes > h.data_bytes) {
    notes.push_back(path_.filename().string() + ": removed, not a partial snapshot this build can resume");
    fs::remove(path_);
    return;
  }
  fd_ = std::move(fd);
  started_ns_ = ipc::monotonic_ns();
  id_ = {h.last_index, h.last_term, h.data_bytes, h.crc,
         h.voters,     h.learners,  h.repairing,  h.repair_incarnation};
  held_ = size - kPartialHeaderBytes;
  // The running CRC, taken up where the previous process left it: the held bytes are read once.
  crc_ = storage::snapshot_crc_seed(header_for(id_));
  std::vector<std::byte> piece(std::min<uint64_t>(held_, uint64_t{1} << 20));
  for (uint64_t at = 0; at < held_; at += piece.size()) {
    const std::size_t n = std::min<uint64_t>(piece.size(), held_ - at);
    storage::read_all_at(fd_.get(), piece.data(), n, kPartialHeaderBytes + at, path_);
    crc_ = ipc::crc32c(piece.data(), n, crc_);
  }
  notes.push_back(path_.filename().string() + ": kept, " + std::to_string(held_) + " of " +
                  std::to_string(id_.bytes) + " bytes of the snapshot at index " + std::to_string(id_.index) +
                  " term " + std::to_string(id_.term));
}

std::optional<ChunkFrame> SnapshotReceiver::on_frame(const ChunkFrame& frame) {
  if (installed_ && frame.id == *installed_) return reply(frame, ChunkKind::kDone);
  const bool same = fd_ && frame.id == id_;
  if (complete_ && !same) return std::nullopt;  // the node installs the whole image in the file
  bool written = true;                          // or held already (a repeat): nothing to send again
  if (frame.kind == ChunkKind::kOffer) {
    if (same && held_ > 0) ++resumes_;
    if (!same) start(frame.id);
    if (!complete_ && held_ == id_.bytes) written = check_whole();  // killed before it was installed
  } else if (frame.kind == ChunkKind::kData && !complete_) {
    if (!same) start(frame.id);
    if (!intact(frame)) {
      ++chunks_refused_;
      written = false;
    } else if (frame.offset > held_) {
      written = false;  // a chunk before it was lost
    } else if (frame.offset == held_ && !frame.data.empty()) {
      storage::write_all_at(fd_.get(), frame.data.data(), frame.data.size(), kPartialHeaderBytes + held_,
                            path_);
      held_ += frame.data.size();
      crc_ = ipc::crc32c(frame.data.data(), frame.data.size(), crc_);
      bytes_received_ += frame.data.size();
      ++chunks_received_;
      if (held_ - written_back_ >= writeback_bytes_ || held_ == id_.bytes) start_writeback();
      if (held_ == id_.bytes) written = check_whole();
    }
  }
  return reply(frame, complete_ ? ChunkKind::kDone : written ? ChunkKind::kAck : ChunkKind::kNack);
}

bool SnapshotReceiver::check_whole() {
  if (crc_ == id_.crc) {
    complete_ = true;
    return true;
  }
  ++images_refused_;
  start(id_);  // fetch it again, whole
  return false;
}

void SnapshotReceiver::start_writeback() {
  // Only a head start for the installer's fdatasync, which reports any error: none is acted on here.
  (void)::sync_file_range(fd_.get(), static_cast<off_t>(kPartialHeaderBytes + written_back_),
                          static_cast<off_t>(held_ - written_back_), SYNC_FILE_RANGE_WRITE);
  written_back_ = held_;
  ++writebacks_;
}

void SnapshotReceiver::start(const SnapshotId& id) {
  discard();
  const SnapshotHeader h = header_for(id);
  fd_ = storage::open_file(path_, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
  if (::fchmod(fd_.get(), 0600) != 0)
    storage::throw_errno("cannot chmod", path_, errno);  // whatever the umask
  storage::write_all_at(fd_.get(), &h, sizeof h, 0, path_);
  id_ = id;
  held_ = 0;
  written_back_ = 0;
  crc_ = storage::snapshot_crc_seed(h);
  started_ns_ = ipc::monotonic_ns();
}

void SnapshotReceiver::discard() {
  if (fd_) fs::remove(path_);
  fd_ = {};
  id_ = {};
  held_ = 0;
  written_back_ = 0;
  complete_ = false;
}

void SnapshotReceiver::installed() {
  installed_ = id_;
  fd_ = {};  // the file was moved away: nothing to remove
  discard();
}

ChunkFrame SnapshotReceiver::reply(const ChunkFrame& to, ChunkKind kind) const {
  ChunkFrame r;
  r.kind = kind;
  r.from = self_;
  r.to = to.from;
  r.term = to.term;
  r.id = to.id;
  r.offset = kind == ChunkKind::kDone ? to.id.bytes : held_;
  return r;
}

}  // namespace shmraft::node
