#include "bench/kit/floor.h"

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/kit/clock.h"

namespace shmraft::bench {

namespace {

constexpr int kMaxProcesses = 8;
constexpr uint64_t kStallCheckNs = 100'000'000;  // the parent checks its children when waiting this long

// One hop's mailbox, alone on its cache line: the token value and whether its owner sleeps on it.
struct alignas(64) Mailbox {
  std::atomic<uint32_t> token{0};
  std::atomic<uint32_t> sleepers{0};
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct Shared {
  Mailbox box[kMaxProcesses];
  std::atomic<uint32_t> stop{0};
};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Not FUTEX_PRIVATE: the word lives in a mapping shared between processes.
long futex_wait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t timeout_ns) noexcept {
  timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000),
                   static_cast<long>(timeout_ns % 1'000'000'000)};
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &timeout, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>* word) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// Publishing and sleeping pair up as an eventcount: the poster stores the token then reads `sleepers`,
// the sleeper raises `sleepers` then re-reads the token, both sequentially consistent, so at least one
// of them sees the other and no wake-up is lost.
void post(Mailbox& box, uint32_t token) noexcept {
  box.token.store(token, std::memory_order_seq_cst);
  if (box.sleepers.load(std::memory_order_seq_cst) != 0) futex_wake_all(&box.token);
}

void sleep_while_unchanged(Mailbox& box, uint32_t last, uint64_t timeout_ns) noexcept {
  box.sleepers.fetch_add(1, std::memory_order_seq_cst);
  if (box.token.load(std::memory_order_seq_cst) == last) futex_wait(&box.token, last, timeout_ns);
  box.sleepers.fetch_sub(1, std::memory_order_seq_cst);
}

// Waits until the mailbox holds something other than `last`, and returns it. `stalled` is called about
// every kStallCheckNs of waiting; it returns false to give up (then the result is `last`).
template <typename Stalled>
uint32_t wait_for_change(Mailbox& box, uint32_t last, const FloorSpec& spec, Stalled&& stalled) {
  uint64_t wait_start = 0;
  uint64_t next_check = 0;
  const auto spin_ns = static_cast<uint64_t>(spec.spin_before_block.count());
  for (uint32_t polls = 0;; ++polls) {
    const uint32_t token = box.token.load(std::memory_order_acquire);
    if (token != last) return token;
    // Read the clock only every 64 polls: it costs more than a poll.
    if ((polls & 63) == 0) {
      const uint64_t now = monotonic_ns();
      if (wait_start == 0) {
        wait_start = now;
        next_check = now + kStallCheckNs;
      }
      if (now >= next_check) {
        if (!stalled()) return last;
        next_check = now + kStallCheckNs;
      }
      const bool block = spec.wait == WaitStrategy::block ||
                         (spec.wait == WaitStrategy::adaptive && now - wait_start >= spin_ns);
      if (block) {
        sleep_while_unchanged(box, last, kStallCheckNs);
        continue;
      }
    }
    if (spec.wait == WaitStrategy::yield) {
      sched_yield();
    } else {
      cpu_relax();
    }
  }
}

[[noreturn]] void run_child(Shared& shared, int position, int processes, const FloorSpec& spec,
                            pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed parent, spinning on a core
  if (getppid() != parent) _exit(0);
  Mailbox& mine = shared.box[position];
  Mailbox& next = shared.box[(position + 1) % processes];
  uint32_t last = 0;
  for (;;) {
    const uint32_t token = wait_for_change(mine, last, spec, [&] { return getppid() == parent; });
    if (token == last || shared.stop.load(std::memory_order_acquire)) _exit(0);
    last = token;
    post(next, last);
  }
}

void validate(const FloorSpec& spec) {
  if (spec.processes < 2 || spec.processes > kMaxProcesses) {
    throw std::invalid_argument("floor: processes must be 2.." + std::to_string(kMaxProcesses) + ", got " +
                                std::to_string(spec.processes));
  }
  if (spec.rounds == 0) throw std::invalid_argument("floor: rounds must be positive");
  if (spec.spin_before_block.count() < 0)
    throw std::invalid_argument("floor: spin time must not be negative");
  if (spec.max_duration.count() <= 0) throw std::invalid_argument("floor: max duration must be positive");
}

class Children {
 public:
  Children(Shared& shared) : shared_(shared) {}
  ~Children() { stop(); }

  void add(pid_t pid) { pids_.push_back(pid); }
  // The first child that has exited, or 0.
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
    for (Mailbox& box : shared_.box) post(box, box.token.load() + 1);
    for (pid_t& pid : pids_) {
      if (pid <= 0) continue;
      // A child wakes within kStallCheckNs at worst; give it a second, then make sure.
      int status;
      const uint64_t deadline = monotonic_ns() + 1'000'000'000;
      while (waitpid(pid, &status, WNOHANG) == 0) {
        if (monotonic_ns() > deadline) {
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

const char* to_string(WaitStrategy wait) noexcept {
  switch (wait) {
    case WaitStrategy::spin:
      return "spin";
    case WaitStrategy::yield:
      return "yield";
    case WaitStrategy::block:
      return "block";
    case WaitStrategy::adaptive:
      return "adaptive";
  }
  return "?";
}

WaitStrategy parse_wait_strategy(std::string_view name) {
  for (WaitStrategy w :
       {WaitStrategy::spin, WaitStrategy::yield, WaitStrategy::block, WaitStrategy::adaptive}) {
    if (name == to_string(w)) return w;
  }
  throw std::invalid_argument("unknown wait strategy '" + std::string(name) +
                              "' (expected spin, yield, block or adaptive)");
}

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
  {
    Children children(shared);
    const pid_t parent = getpid();
    for (int position = 1; position < spec.processes; ++position) {
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error(std::string("floor: fork: ") + std::strerror(errno));
      if (pid == 0) run_child(shared, position, spec.processes, spec, parent);
      children.add(pid);
    }

    pid_t dead = 0;
    const auto children_alive = [&] { return (dead = children.first_dead()) == 0; };
    Mailbox& mine = shared.box[0];
    Mailbox& first = shared.box[1];
    uint32_t token = 0;
    // One round: the token goes to process 1 and comes back from process N-1.
    const auto round_trip = [&] {
      ++token;
      post(first, token);
      if (wait_for_change(mine, token - 1, spec, children_alive) == token - 1) {
        throw std::runtime_error("floor: child process " + std::to_string(dead) +
                                 " died during the measurement");
      }
    };
    // Warm-up gets at most a quarter of the time budget, so a busy host still leaves time to measure.
    const auto budget = static_cast<uint64_t>(spec.max_duration.count());
    uint64_t now = monotonic_ns();
    const uint64_t warmup_deadline = now + budget / 4;
    for (uint64_t round = 0; round < spec.warmup_rounds && now < warmup_deadline; ++round) {
      round_trip();
      now = monotonic_ns();
    }
    const uint64_t deadline = now + budget - budget / 4;
    for (uint64_t round = 0; round < spec.rounds; ++round) {
      const uint64_t round_start = now;
      round_trip();
      now = monotonic_ns();
      result.round_trip.record(now - round_start);
      if (now >= deadline) break;
    }
  }
  return result;
}

}  // namespace shmraft::bench
