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

constexpr int kMaxProcesses = 8;
// How long a wait lasts before the parent checks its children (and a child its parent).
constexpr std::chrono::milliseconds kLivenessCheck(100);

// One process's inbox: the token word stands for a ring's tail, on its own line like the tail, and the
// doorbell on the next line like the consumer's doorbell in the segment.
struct Inbox {
  alignas(ipc::kCacheLine) std::atomic<uint32_t> token{0};
  ipc::Doorbell bell;
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct Shared {
  Inbox inbox[kMaxProcesses];
  std::atomic<uint32_t> stop{0};
};

void post(Inbox& inbox, uint32_t token) noexcept {
  inbox.token.store(token, std::memory_order_release);  // as a ring's publish
  inbox.bell.ring();
}

// Waits until the inbox holds a token other than `last` and returns it; returns `last` if `alive()`
// says the peer that should send it is gone.
template <typename Alive>
uint32_t receive(Inbox& inbox, uint32_t last, ipc::Waiter& waiter, Alive&& alive) {
  const auto changed = [&] { return inbox.token.load(std::memory_order_acquire) != last; };
  while (!waiter.wait_for(changed, kLivenessCheck)) {
    if (!alive()) return last;
  }
  return inbox.token.load(std::memory_order_acquire);
}

[[noreturn]] void run_child(Shared& shared, int position, const FloorSpec& spec, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed parent, spinning on a core
  if (getppid() != parent) _exit(0);
  Inbox& mine = shared.inbox[position];
  Inbox& next = shared.inbox[(position + 1) % spec.processes];
  ipc::Waiter waiter(mine.bell, spec.wait, spec.spin_time);
  uint32_t last = 0;
  for (;;) {
    const uint32_t token = receive(mine, last, waiter, [&] { return getppid() == parent; });
    if (token == last || shared.stop.load(std::memory_order_acquire)) _exit(0);
    last = token;
    post(next, token);
  }
}

void validate(const FloorSpec& spec) {
  if (spec.processes < 2 || spec.processes > kMaxProcesses) {
    throw std::invalid_argument("floor: processes must be 2.." + std::to_string(kMaxProcesses) + ", got " +
                                std::to_string(spec.processes));
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

  FloorResult result{spec, Histogram()};
  Children children(shared);
  const pid_t parent = getpid();
  for (int position = 1; position < spec.processes; ++position) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("floor: fork: ") + std::strerror(errno));
    if (pid == 0) run_child(shared, position, spec, parent);
    children.add(pid);
  }

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
  return result;
}

}  // namespace shmraft::bench
