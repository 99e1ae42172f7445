// A child process writes the log in mode `none` and reports, through a pipe, every operation as soon as
// the call returns; the parent SIGKILLs it at a random moment, reopens the directory and checks that
// everything acknowledged is present and intact (and that whatever else survived is intact too). Then it
// starts the next child on the same directory. Kills land in every phase: opening and recovering,
// appending, creating segments, truncating, saving the hard state.
//
// SHMRAFT_SEED replays a run; SHMRAFT_STORAGE_KILLS overrides the number of kills.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <random>

#include "storage_test_support.h"

namespace shmraft::storage {
namespace {

using namespace testing;

// The long variant is another binary; its tests need names of their own for ctest to label them apart.
#ifdef SHMRAFT_STORAGE_LONG
constexpr int kScale = 25;
#define CRASH_SUITE StorageCrashLong
#else
constexpr int kScale = 1;
#define CRASH_SUITE StorageCrash
#endif

int kills(int default_kills) {
  if (const char* env = std::getenv("SHMRAFT_STORAGE_KILLS")) return std::atoi(env);
  return default_kills * kScale;
}

// Mostly small records, one in 32 between 4 and 20 KiB: a large record keeps the kill window open mid-write
// long enough to produce torn records, and forces segment changes.
std::size_t crash_payload_size(uint64_t index, uint64_t term) {
  const uint64_t r = mix(index * 131 + term);
  return r % 32 == 0 ? 4096 + (r >> 8) % 16384 : (r >> 8) % 121;
}
constexpr uint64_t kEntriesPerLife = 2500;  // a child then idles, bounding the log's growth

Options crash_options() {
  return options_with(Durability::none, 64 * 1024);  // small segments: many creations to interrupt
}

// What a child reports: {kind, a, b}, written after the call it describes returned.
enum Kind : uint64_t { kAppended = 1, kTruncateBegin, kTruncateDone, kHardState };
struct Message {
  uint64_t kind, a, b;
};

void send(int fd, Message message) {
  if (::write(fd, &message, sizeof message) != sizeof message) ::_exit(4);
}

void sleep_us(long us) {
  timespec ts{us / 1000000, (us % 1000000) * 1000};
  ::nanosleep(&ts, nullptr);
}

// Runs `life` in a child, kills it after a random delay, and returns what it reported.
std::vector<Message> run_and_kill(std::mt19937_64& rng, const std::function<void(int)>& life) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);  // the child must not block on a full pipe while we sleep
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    try {
      life(fds[1]);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "child failed: %s\n", error.what());
      ::_exit(3);
    }
    for (;;) ::pause();  // done: wait to be killed
  }
  ::close(fds[1]);
  // A fifth of the kills come early, most of them while the child is still opening and recovering.
  const long delay = (rng() % 5 == 0) ? static_cast<long>(rng() % 400) : static_cast<long>(rng() % 5000);
  sleep_us(delay);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::vector<Message> messages;
  Message message;
  for (ssize_t n; (n = ::read(fds[0], &message, sizeof message)) == sizeof message;)
    messages.push_back(message);
  ::close(fds[0]);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    throw std::runtime_error("the child ended by itself (status " + std::to_string(status) +
                             ") instead of being killed");
  }
  return messages;
}

// Appends `count` entries of term `term` after the last one, in batches of 1..8, reporting each batch.
void append_some(NodeStorage& storage, std::mt19937_64& rng, uint64_t count, uint64_t term, int report) {
  std::vector<std::vector<std::byte>> payloads;
  std::vector<LogEntry> entries;
  for (uint64_t done = 0; done < count;) {
    const uint64_t batch = std::min<uint64_t>(1 + rng() % 8, count - done);
    payloads.clear();
    entries.clear();
    const uint64_t first = storage.last_index() + 1;
    for (uint64_t i = first; i < first + batch; ++i)
      payloads.push_back(payload(i, term, crash_payload_size(i, term)));
    for (uint64_t i = first; i < first + batch; ++i) entries.push_back({i, term, payloads[i - first]});
    storage.append(entries);
    send(report, {kAppended, storage.last_index(), term});
    done += batch;
  }
}

// Counts what recovery reported across all reopens, to show which crash states the run produced.
struct RecoveryTally {
  std::map<std::string, int> counts;
  void add(const RecoveryReport& report) {
    for (const std::string& note : report.notes) {
      for (const char* kind :
           {"torn record", "unfinished record", "creation was interrupted", "empty segment"}) {
        if (note.find(kind) != std::string::npos) ++counts[kind];
      }
    }
  }
  std::string summary() const {
    std::string text;
    for (const auto& [kind, count] : counts) text += " " + kind + ": " + std::to_string(count) + ";";
    return text.empty() ? " nothing to repair" : text;
  }
};

// Checks every entry in the log is intact for its term, terms never fall, and every entry in `model`
// (index -> term known to be present) has that term. Returns the terms found.
std::vector<uint64_t> verify_log(const NodeStorage& storage, const std::vector<uint64_t>& model,
                                 uint64_t must_hold) {
  EXPECT_GE(storage.last_index(), must_hold);
  std::vector<uint64_t> found(storage.last_index() + 1, 0);
  uint64_t previous = 0;
  for (uint64_t i = 1; i <= storage.last_index(); ++i) {
    const EntryView view = storage.entry(i);
    found[i] = view.term;
    if (view.term < previous) ADD_FAILURE() << "term falls at entry " << i;
    previous = view.term;
    const std::vector<std::byte> expected = payload(i, view.term, crash_payload_size(i, view.term));
    if (!std::equal(view.payload.begin(), view.payload.end(), expected.begin(), expected.end())) {
      ADD_FAILURE() << "entry " << i << " (term " << view.term << ") is not intact";
    }
    if (i <= must_hold && i < model.size() && model[i] != view.term) {
      ADD_FAILURE() << "entry " << i << " has term " << view.term << " but term " << model[i]
                    << " was acknowledged";
    }
  }
  return found;
}

// The case the issue describes: appends only, each acknowledged index reported through the pipe.
TEST(CRASH_SUITE, KilledAppenderNeverLosesAcknowledgedEntries) {
  const uint64_t seed = announce_seed();
  SCOPED_TRACE(replay_command(seed));
  std::mt19937_64 rng(seed);
  TempDir tmp;
  std::vector<uint64_t> model(1, 0);  // model[i]: term of entry i, acknowledged or seen after a reopen
  RecoveryTally tally;
  const int total = kills(200);
  for (int life = 0; life < total; ++life) {
    const uint64_t term = static_cast<uint64_t>(life) + 1;
    const uint64_t child_seed = rng();
    const std::vector<Message> messages = run_and_kill(rng, [&](int report) {
      std::mt19937_64 child_rng(child_seed);
      NodeStorage storage(tmp.node(), crash_options());
      append_some(storage, child_rng, kEntriesPerLife, term, report);
    });
    uint64_t acknowledged = model.size() - 1;
    for (const Message& message : messages) {
      ASSERT_EQ(message.kind, kAppended);
      ASSERT_GT(message.a, acknowledged) << "acknowledged indexes must grow";
      model.resize(message.a + 1, term);
      acknowledged = message.a;
    }
    NodeStorage storage(tmp.node(), crash_options());
    tally.add(storage.recovery());
    model = verify_log(storage, model, acknowledged);
    if (::testing::Test::HasFailure()) FAIL() << "after kill " << life + 1 << " of " << total;
  }
  std::cout << total << " kills, " << model.size() - 1 << " entries; recovery:" << tally.summary() << "\n";
}

// Appends, truncations and hard-state saves, all killed at random. Truncation and the hard state are
// where the order of stores matters most: truncation zeroes newest first, so a kill leaves a prefix of
// the doomed entries; the hard state alternates slots, so a kill never loses the saved one.
TEST(CRASH_SUITE, KilledWriterWithTruncationsAndHardStates) {
  const uint64_t seed = announce_seed();
  SCOPED_TRACE(replay_command(seed));
  std::mt19937_64 rng(seed);
  TempDir tmp;
  std::vector<uint64_t> model(1, 0);
  HardState acknowledged_state;
  RecoveryTally tally;
  int truncations_interrupted = 0;
  const int total = kills(100);
  for (int life = 0; life < total; ++life) {
    const uint64_t term = static_cast<uint64_t>(life) + 1;
    const uint64_t child_seed = rng();
    const std::vector<Message> messages = run_and_kill(rng, [&](int report) {
      std::mt19937_64 child_rng(child_seed);
      NodeStorage storage(tmp.node(), crash_options());
      for (uint64_t appended = 0; appended < kEntriesPerLife;) {
        const uint64_t choice = child_rng() % 100;
        const HardState state = storage.hard_state();
        if (choice < 10 && storage.last_index() > state.commit) {
          const uint64_t from = state.commit + 1 + child_rng() % (storage.last_index() - state.commit);
          send(report, {kTruncateBegin, from, 0});
          storage.truncate_suffix(from);
          send(report, {kTruncateDone, from, 0});
        } else if (choice < 25) {
          const uint64_t commit = state.commit + (storage.last_index() - state.commit) / 2;
          storage.save_hard_state({term, 1, commit});
          storage.sync();
          send(report, {kHardState, term, commit});
        } else {
          const uint64_t count = 1 + child_rng() % 40;
          append_some(storage, child_rng, count, term, report);
          appended += count;
        }
      }
    });
    // Replay the acknowledgements onto the model. A truncation begun but not acknowledged leaves the
    // entries from its index on uncertain: they may survive or not, but survivors must be intact.
    uint64_t must_hold = model.size() - 1;
    uint64_t pending_truncation = 0;  // index of a truncation begun but not acknowledged, or 0
    for (const Message& message : messages) {
      switch (message.kind) {
        case kAppended:
          ASSERT_EQ(pending_truncation, 0u);
          model.resize(message.a + 1, message.b);
          must_hold = message.a;
          break;
        case kTruncateBegin:
          pending_truncation = message.a;
          break;
        case kTruncateDone:
          model.resize(message.a);
          must_hold = message.a - 1;
          pending_truncation = 0;
          break;
        case kHardState:
          acknowledged_state = {message.a, 1, message.b};
          break;
        default:
          FAIL() << "unknown message " << message.kind;
      }
    }
    if (pending_truncation != 0) {
      ++truncations_interrupted;
      must_hold = pending_truncation - 1;
    }
    NodeStorage storage(tmp.node(), crash_options());
    tally.add(storage.recovery());
    EXPECT_GE(storage.hard_state().term, acknowledged_state.term);
    EXPECT_GE(storage.hard_state().commit, acknowledged_state.commit);
    EXPECT_LE(storage.hard_state().commit, storage.last_index());
    if (pending_truncation != 0) {
      // Survivors of an interrupted truncation are a prefix of what was there.
      EXPECT_LE(storage.last_index(), model.size() - 1);
      for (uint64_t i = pending_truncation; i <= std::min<uint64_t>(storage.last_index(), model.size() - 1);
           ++i) {
        if (storage.term(i) != model[i])
          ADD_FAILURE() << "entry " << i << " changed during an interrupted truncation";
      }
    }
    model = verify_log(storage, model, must_hold);
    acknowledged_state = storage.hard_state();
    if (::testing::Test::HasFailure()) FAIL() << "after kill " << life + 1 << " of " << total;
  }
  std::cout << total << " kills (" << truncations_interrupted << " during a truncation), " << model.size() - 1
            << " entries; recovery:" << tally.summary() << "\n";
}

}  // namespace
}  // namespace shmraft::storage
