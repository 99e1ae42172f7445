#include "node/raft/conf_state.h"

namespace shmraft::raft {

std::vector<std::uint32_t> NodeSet::ids() const {
  std::vector<std::uint32_t> out;
  out.reserve(size());
  for (std::uint64_t rest = bits_; rest != 0; rest &= rest - 1)
    out.push_back(static_cast<std::uint32_t>(std::countr_zero(rest)));
  return out;
}

}  // namespace shmraft::raft
