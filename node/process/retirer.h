#pragma once
// Lets go of things whose destruction takes long, on a thread of its own, so the node loop does not
// pause for it: a state machine of a GiB is freed key by key, and closing the last descriptor of a
// replaced snapshot file frees its blocks, which takes ext4 with discard about a second per GiB.
#include <thread>
#include <tuple>
#include <utility>

namespace shmraft::node {

class Retirer {
 public:
  Retirer() = default;
  ~Retirer() { wait(); }
  Retirer(const Retirer&) = delete;
  Retirer& operator=(const Retirer&) = delete;

  // Destroys `things` on a new thread, after whatever was retired before: the new thread joins its
  // predecessor, so the caller (the loop) never waits for a retirement still going.
  template <class... Things>
  void retire(Things... things) {
    thread_ = std::thread(
        [previous = std::move(thread_), held = std::tuple<Things...>(std::move(things)...)]() mutable {
          if (previous.joinable()) previous.join();
          const std::tuple<Things...> dying = std::move(held);
        });
  }

 private:
  void wait() {
    if (thread_.joinable()) thread_.join();
  }

  std::thread thread_;
};

}  // namespace shmraft::node
