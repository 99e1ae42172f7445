#include "bench/kit/floor.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "ipc/clock.h"
#include "ipc/doorbell.h"

namespace shmraft::bench {

namespace {

// How long a wait lasts before the parent checks its children (and a child its parent).
constexpr std::chrono::milliseconds kLivenessCheck(100);

// One process's inbox: the token word stands for a ring's tail, on its own line like the tail, and the
// doorbell on the next line like the consumer's doorbell in the segment.
struct Inbox {
  alignas(ipc::kCacheLine) std::atomic<uint32_t> token{0};
  ipc::Doorbell bell;
};
// Commit shape: a follower's answer to the leader, on a line of its own like its ring to the leader.
struct Ack {
  alignas(ipc::kCacheLine) std::atomic<uint32_t> token{0};
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct Shared {
  Inbox inbox[kMaxFloorProcesses];
  Ack ack[kMaxFloorProcesses];
  std::atomic<uint32_t> reached[kMaxFloorProcesses] = {};  // 1 once the token reached that process
  std::atomic<uint32_t> stop{0};
};

void post(Inbox& inbox, uint32_t token) noexcept {
  inbox.token.store(token, std::memory_order_release);  // as a ring's publish
  inbox.bell.ring();
}

// Waits until ready(); false if `alive()` says the peer that should make it true is gone.
template <typename Ready, typename Alive>
bool await(ipc::Waiter& waiter, Ready&& ready, Alive&& alive) {
  while (!waiter.wait_for(ready, kLivenessCheck)) {
    if (!alive()) return false;
  }
  return true;
}

// Waits until the inbox holds a token other than `last` and returns it; returns `last` if the peer
// that should send it is gone.
template <typename Alive>
uint32_t receive(Inbox& inbox, uint32_t last, ipc::Waiter& waiter, Alive&& alive) {
  const auto changed = [&] { return inbox.token.load(std::memory_order_acquire) != last; };
  if (!await(waiter, changed, alive)) return last;
  return inbox.token.load(std::memory_order_acquire);
}

// Where a child passes each token on: the next process of a ring; in the commit shape the leader
// (position 1) sends it to every follower and, once enough have answered, back to the client
// (position 0), and a follower answers the leader.
struct Role {
  FloorShape shape;
  int position;
  int processes;
  int acks_needed;  // leader: followers that complete a majority of the nodes with the leader
};

template <typename Alive>
bool pass_on(Shared& shared, const Role& role, uint32_t token, ipc::Waiter& waiter, Alive&& alive) {
  if (role.shape == FloorShape::ring) {
    post(shared.inbox[(role.position + 1) % role.processes], token);
    return true;
  }
  if (role.position > 1) {  // a follower
    shared.ack[role.position].token.store(token, std::memory_order_release);
    shared.inbox[1].bell.ring();
    return true;
  }
  for (int follower = 2; follower < role.processes; ++follower) post(shared.inbox[follower], token);
  const auto majority = [&] {
    int acks = 0;
    for (int follower = 2; follower < role.processes; ++follower)
      acks += shared.ack[follower].token.load(std::memory_order_acquire) == token;
    return acks >= role.acks_needed || shared.stop.load(std::memory_order_acquire) != 0;
  };
  if (!await(waiter, majority, alive)) return false;
  post(shared.inbox[0], token);
  return true;
}

[[noreturn]] void run_child(Shared& shared, const Role& role, const FloorSpec& spec, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed parent, spinning on a core
  if (getppid() != parent) _exit(0);
  Inbox& mine = shared.inbox[role.position];
  ipc::Waiter waiter(mine.bell, spec.wait, spec.spin_time);
  const auto alive = [&] { return getppid() == parent && shared.stop.load() == 0; };
  uint32_t last = 0;
  for (;;) {
    const uint32_t token = receive(mine, last, waiter, alive);
    if (token == last || shared.stop.load(std::memory_order_acquire)) _exit(0);
    shared.reached[role.position].store(1, std::memory_order_relaxed);
    last = token;
    if (!pass_on(shared, role, token, waiter, alive)) _exit(0);
  }
}

void validate(const FloorSpec& spec) {
  if (spec.processes < 2 || spec.processes > kMaxFloorProcesses) {
    throw std::invalid_argument("floor: processes must be 2.." + std::to_string(kMaxFloorProcesses) +
                                ", got " + std::to_string(spec.processes));
  }
  if (spec.rounds == 0) throw std::invalid_argument("floor: rounds must be positive");
  if (spec.spin_time.count() < 0) throw std::invalid_argument("floor: spin time must not be negative");
  if (spec.max_duration.count() <= 0) throw std::invalid_argument("floor: max duration must be positive");
}

// The forked children; stops and reaps every one of them on destruction, whatever happened.
class Children {
 public:
  explicit Children(Shared& shared) : shared_(shared) {}
  ~Children() { stop(); }
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;

  void add(pid_t pid) { pids_.push_back(pid); }

  // The first child that has exited (reaped here), or 0.
  pid_t first_dead() {
    for (pid_t& pid : pids_) {
      int status;
      if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
        const pid_t dead = pid;
        pid = -1;
        return dead;
      }
    }
    return 0;
  }

  void stop() {
    shared_.stop.store(1, std::memory_order_release);
    for (Inbox& inbox : shared_.inbox) post(inbox, inbox.token.load() + 1);
    for (pid_t& pid : pids_) {
      if (pid <= 0) continue;
      // A child notices within kLivenessCheck at worst; give it a second, then make sure.
      int status;
      const uint64_t deadline = ipc::monotonic_ns() + 1'000'000'000;
      while (waitpid(pid, &status, WNOHANG) == 0) {
        if (ipc::monotonic_ns() > deadline) {
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          break;
        }
        usleep(1000);
      }
      pid = -1;
    }
  }

 private:
  Shared& shared_;
  std::vector<pid_t> pids_;
};

}  // namespace

FloorResult measure_floor(const FloorSpec& spec) {
  validate(spec);
  void* mapping = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw std::runtime_error(std::string("floor: mmap: ") + std::strerror(errno));
  struct Unmap {
    void* p;
    ~Unmap() { munmap(p, sizeof(Shared)); }
  } unmap{mapping};
  Shared& shared = *new (mapping) Shared{};

  FloorResult result{spec, Histogram(), 0};
  Children children(shared);
  const pid_t parent = getpid();
  const int nodes = spec.processes - 1;
  for (int position = 1; position < spec.processes; ++position) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("floor: fork: ") + std::strerror(errno));
    if (pid == 0) run_child(shared, Role{spec.shape, position, spec.processes, nodes / 2}, spec, parent);
    children.add(pid);
  }
  shared.reached[0].store(1);

  Inbox& mine = shared.inbox[0];
  Inbox& first = shared.inbox[1];
  ipc::Waiter waiter(mine.bell, spec.wait, spec.spin_time);
  pid_t dead = 0;
  const auto children_alive = [&] { return (dead = children.first_dead()) == 0; };
  uint32_t token = 0;
  // One round: the token goes to process 1 and comes back from process N-1.
  const auto round_trip = [&] {
    ++token;
    post(first, token);
    if (receive(mine, token - 1, waiter, children_alive) == token - 1) {
      throw std::runtime_error("floor: child process " + std::to_string(dead) +
                               " died during the measurement");
    }
  };
  // Warm-up gets at most a quarter of the time budget, so a busy host still leaves time to measure.
  const auto budget = static_cast<uint64_t>(spec.max_duration.count());
  uint64_t now = ipc::monotonic_ns();
  const uint64_t warmup_deadline = now + budget / 4;
  for (uint64_t round = 0; round < spec.warmup_rounds && now < warmup_deadline; ++round) {
    round_trip();
    now = ipc::monotonic_ns();
  }
  const uint64_t deadline = now + budget - budget / 4;
  for (uint64_t round = 0; round < spec.rounds; ++round) {
    const uint64_t round_start = now;
    round_trip();
    now = ipc::monotonic_ns();
    result.round_trip.record(now - round_start);
    if (now >= deadline) break;
  }
  // A follower outside the majority is on no round's path, so a loaded host may not have run it yet:
  // give it a moment to take its token before counting who took part.
  const uint64_t reach_deadline = ipc::monotonic_ns() + 1'000'000'000;
  for (int position = 1; position < spec.processes && ipc::monotonic_ns() < reach_deadline;)
    if (shared.reached[position].load() != 0)
      ++position;
    else
      usleep(1000);
  children.stop();
  for (const std::atomic<uint32_t>& reached : shared.reached)
    result.participants += static_cast<int>(reached.load());
  return result;
}

std::string_view to_string(FloorShape shape) noexcept {
  return shape == FloorShape::ring ? "ring" : "commit";
}

FloorSpec commit_floor_spec(uint32_t nodes) {
  FloorSpec spec;
  spec.shape = FloorShape::commit;
  spec.processes = static_cast<int>(nodes) + 1;
  return spec;
}

const FloorResult* best_floor(const std::vector<FloorResult>& floors, FloorShape shape, int processes) {
  const FloorResult* best = nullptr;
  for (const FloorResult& f : floors) {
    if (f.spec.shape != shape || f.spec.processes != processes || f.round_trip.empty()) continue;
    if (best == nullptr || f.round_trip.value_at_percentile(50) < best->round_trip.value_at_percentile(50))
      best = &f;
  }
  return best;
}

}  // namespace shmraft::bench
