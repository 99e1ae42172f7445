#include "node/process/snapshot_image.h"

namespace shmraft::node {

SnapshotFileImage::SnapshotFileImage(const std::filesystem::path& file)
    : reader_(file), id_{reader_.meta().last_index, reader_.meta().last_term,
                         reader_.data_bytes(),      reader_.crc(),
                         reader_.meta().voters,     reader_.meta().learners,
                         reader_.meta().repairing,  reader_.meta().repair_incarnation} {}

}  // namespace shmraft::node
