#include "node/process/snapshot_receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "ipc/crc32c.h"

namespace shmraft::node {
namespace {

namespace fs = std::filesystem;

// The partial file's header: which snapshot it holds. The image follows at kPartialHeaderBytes.
struct PartialHeader {
  uint64_t magic;
  uint64_t index;
  uint64_t term;
  uint64_t bytes;
  uint64_t voters;
  uint64_t learners;
  uint64_t repairing;  // a node id (SnapshotId::repairing), widened so that no padding goes unchecked
  uint64_t repair_incarnation;
  uint32_t crc;
  uint32_t header_crc;  // over the fields above
};
// "SHRASNP3" (1 had no configuration, 2 no repair mark: a partial file of either is fetched again)
constexpr uint64_t kPartialMagic = 0x33504E5341524853ull;
static_assert(sizeof(PartialHeader) == kPartialHeaderBytes);

uint32_t header_crc(const PartialHeader& h) noexcept {
  return ipc::crc32c(&h, offsetof(PartialHeader, header_crc));
}

}  // namespace

SnapshotReceiver::SnapshotReceiver(fs::path partial_file, uint32_t self, std::vector<std::string>& notes)
    : path_(std::move(partial_file)), self_(self) {
  const int raw = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (raw < 0) {
    if (errno == ENOENT) return;
    storage::throw_errno("cannot open", path_, errno);
  }
  storage::UniqueFd fd(raw);
  const uint64_t size = storage::file_size(fd.get(), path_);
  PartialHeader h{};
  if (size >= kPartialHeaderBytes) storage::read_all_at(fd.get(), &h, sizeof h, 0, path_);
  if (size < kPartialHeaderBytes || h.magic != kPartialMagic || h.header_crc != header_crc(h) ||
      size - kPartialHeaderBytes > h.bytes) {
    notes.push_back(path_.filename().string() + ": removed, not a partial snapshot this build can resume");
    fs::remove(path_);
    return;
  }
  fd_ = std::move(fd);
  id_ = {h.index,
         h.term,
         h.bytes,
         h.crc,
         h.voters,
         h.learners,
         static_cast<uint32_t>(h.repairing),
         h.repair_incarnation};
  held_ = size - kPartialHeaderBytes;
  notes.push_back(path_.filename().string() + ": kept, " + std::to_string(held_) + " of " +
                  std::to_string(id_.bytes) + " bytes of the snapshot at index " + std::to_string(id_.index) +
                  " term " + std::to_string(id_.term));
}

ChunkFrame SnapshotReceiver::on_frame(const ChunkFrame& frame) {
  const bool same = fd_ && frame.id == id_;
  bool written = true;  // or held already (a repeat): nothing to send again
  if (frame.kind == ChunkKind::kOffer) {
    if (same && held_ > 0) ++resumes_;
    if (!same) start(frame.id);
    if (!complete_ && held_ == id_.bytes) written = verify_whole();  // killed before it was handed on
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
      bytes_received_ += frame.data.size();
      ++chunks_received_;
      if (held_ == id_.bytes) written = verify_whole();
    }
  }
  return reply(frame, complete_ ? ChunkKind::kDone : written ? ChunkKind::kAck : ChunkKind::kNack);
}

bool SnapshotReceiver::verify_whole() {
  image_.resize(id_.bytes);
  storage::read_all_at(fd_.get(), image_.data(), image_.size(), kPartialHeaderBytes, path_);
  if (ipc::crc32c(image_.data(), image_.size()) == id_.crc) {
    complete_ = true;
    return true;
  }
  ++images_refused_;
  image_ = {};
  start(id_);  // fetch it again, whole
  return false;
}

void SnapshotReceiver::start(const SnapshotId& id) {
  discard();
  PartialHeader h{kPartialMagic,         id.index, id.term, id.bytes, id.voters, id.learners, id.repairing,
                  id.repair_incarnation, id.crc,   0};
  h.header_crc = header_crc(h);
  fd_ = storage::open_file(path_, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (::fchmod(fd_.get(), 0600) != 0)
    storage::throw_errno("cannot chmod", path_, errno);  // whatever the umask
  storage::write_all_at(fd_.get(), &h, sizeof h, 0, path_);
  id_ = id;
  held_ = 0;
}

void SnapshotReceiver::discard() {
  if (fd_) fs::remove(path_);
  fd_ = {};
  id_ = {};
  held_ = 0;
  complete_ = false;
}

void SnapshotReceiver::finish() {
  discard();
  image_ = {};
}

ChunkFrame SnapshotReceiver::reply(const ChunkFrame& to, ChunkKind kind) const {
  ChunkFrame r;
  r.kind = kind;
  r.from = self_;
  r.to = to.from;
  r.term = to.term;
  r.id = to.id;
  r.offset = held_;
  return r;
}

}  // namespace shmraft::node
