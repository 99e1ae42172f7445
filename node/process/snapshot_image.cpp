#include "node/process/snapshot_image.h"

#include <algorithm>
#include <vector>

#include "ipc/crc32c.h"

namespace shmraft::node {

SnapshotFileImage::SnapshotFileImage(const std::filesystem::path& file)
    : reader_(file), id_{reader_.meta().last_index, reader_.meta().last_term,
                         reader_.data_bytes(),      reader_.crc(),
                         reader_.meta().voters,     reader_.meta().learners,
                         reader_.meta().repairing,  reader_.meta().repair_incarnation} {}

bool SnapshotFileImage::intact() const {
  // The CRC a current-format file of this snapshot records (SnapshotReader::crc), recomputed.
  uint32_t crc = storage::snapshot_crc_seed(storage::snapshot_header(meta(), reader_.data_bytes()));
  std::vector<std::byte> piece(std::min<uint64_t>(reader_.data_bytes(), uint64_t{1} << 20));
  for (uint64_t at = 0; at < reader_.data_bytes(); at += piece.size()) {
    const std::size_t n = std::min<uint64_t>(piece.size(), reader_.data_bytes() - at);
    reader_.read(at, std::span(piece).first(n));
    crc = ipc::crc32c(piece.data(), n, crc);
  }
  return crc == id_.crc;
}

}  // namespace shmraft::node
