// The two hand-overs of `shmraft bench --in-leader` in-process: the load on the nodes' command line
// (flag value and back), and the figures the leader writes into its directory (file and back: 0600
// whatever the umask, all or nothing, no symlink followed, a damaged file refused naming it).
#include "launcher/bench/in_leader_result.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "launcher/bench/in_leader_node.h"

namespace shmraft::bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("in-leader-result-" + std::to_string(getpid()))) {
    fs::remove_all(path_);
    fs::create_directory(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(InLeaderFlag, CarriesEveryDimensionOfTheLoad) {
  InLeaderLoad load;
  BenchConfig& c = load.config;
  c.nodes = 5;
  c.clients = 7;
  c.client_threads = 2;
  c.pipeline = 3;
  c.payload_bytes = 100;
  c.fsync = "batch";
  c.wait = "spin";
  c.rate_ops_per_s = 500;
  c.reads = 0.25;
  c.keys = 100;
  c.key_dist = "zipfian";
  c.warmup = milliseconds(500);
  c.measure = milliseconds(1250);
  c.in_leader = true;
  load.spin_us = 40;
  const InLeaderLoad back = in_leader_load_of(in_leader_flag_value(load));
  const BenchConfig& b = back.config;
  EXPECT_EQ(b.nodes, 5u);
  EXPECT_EQ(b.clients, 7u);
  EXPECT_EQ(b.client_threads, 2u);
  EXPECT_EQ(b.pipeline, 3u);
  EXPECT_EQ(b.payload_bytes, 100u);
  EXPECT_EQ(b.fsync, "batch");
  EXPECT_EQ(b.wait, "spin");
  EXPECT_EQ(b.rate_ops_per_s, 500);
  EXPECT_EQ(b.reads, 0.25);
  EXPECT_EQ(b.keys, 100u);
  EXPECT_EQ(b.key_dist, "zipfian");
  EXPECT_EQ(b.warmup, c.warmup);
  EXPECT_EQ(b.measure, c.measure);
  EXPECT_TRUE(b.in_leader);
  EXPECT_EQ(back.spin_us, 40u);
  // A closed loop over each client's own keys: the nulls of the report's JSON.
  InLeaderLoad plain;
  const InLeaderLoad plain_back = in_leader_load_of(in_leader_flag_value(plain));
  EXPECT_EQ(plain_back.config.rate_ops_per_s, 0);
  EXPECT_EQ(plain_back.config.keys, 0u);
  EXPECT_FALSE(plain_back.config.in_leader);
}

TEST(InLeaderFlag, RefusesWhatIsNotALoad) {
  EXPECT_THROW(in_leader_load_of("not json"), std::invalid_argument);
  EXPECT_THROW(in_leader_load_of(R"({"spin_us": 16})"), std::invalid_argument);
  EXPECT_THROW(in_leader_load_of(R"({"config": {"nodes": 3}, "spin_us": 16})"), std::invalid_argument);
  EXPECT_THROW(in_leader_load_of(R"({"config": {"nodes": "three"}, "spin_us": 16})"), std::invalid_argument);
}

InLeaderResult sample_result() {
  InLeaderResult r;
  r.node = 2;
  r.term = 7;
  LoadResult& l = r.load;
  l.run.ops = 3;
  l.run.duration_s = 1.5;
  for (const uint64_t ns : {1000, 2000, 400'000}) l.run.latency.record(ns);
  l.phases.push_back({"replication", Histogram(2)});
  l.phases.back().histogram.record(900);
  l.operations.push_back({"writes", 3, l.run.latency});
  l.failed_ops = 1;
  l.resent_ops = 2;
  l.client_thread_cpu = {0.25, 0.5};
  r.node_cpu = CpuUsage{{{100, {1, 2}}, {101, {0.5, 0.25}}}, {1.5, 2.25}, 1.5};
  r.node_sleeps = {4, 5, 6};
  return r;
}

TEST(InLeaderResultFile, IsReadBackWholeAndPrivate) {
  TempDir dir;
  const fs::path file = in_leader_result_file(dir.path());
  EXPECT_FALSE(read_in_leader_result(file)) << "no file yet: nothing";
  const mode_t old_umask = umask(0);
  write_in_leader_result(file, sample_result());
  umask(old_umask);
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(fs::path(file).concat(".partial")));
  const std::optional<InLeaderResult> back = read_in_leader_result(file);
  ASSERT_TRUE(back);
  const InLeaderResult expected = sample_result();
  EXPECT_EQ(back->node, 2u);
  EXPECT_EQ(back->term, 7u);
  EXPECT_TRUE(back->error.empty());
  EXPECT_EQ(back->load.run.ops, 3u);
  EXPECT_EQ(back->load.run.duration_s, 1.5);
  EXPECT_EQ(back->load.run.latency.count(), 3u);
  EXPECT_EQ(back->load.run.latency.max(), expected.load.run.latency.max());
  EXPECT_EQ(back->load.run.latency.value_at_percentile(50),
            expected.load.run.latency.value_at_percentile(50));
  ASSERT_EQ(back->load.phases.size(), 1u);
  EXPECT_EQ(back->load.phases[0].name, "replication");
  EXPECT_EQ(back->load.phases[0].histogram.count(), 1u);
  ASSERT_EQ(back->load.operations.size(), 1u);
  EXPECT_EQ(back->load.operations[0].name, "writes");
  EXPECT_EQ(back->load.operations[0].ops, 3u);
  EXPECT_EQ(back->load.failed_ops, 1u);
  EXPECT_EQ(back->load.resent_ops, 2u);
  EXPECT_EQ(back->load.client_thread_cpu.user_s, 0.25);
  EXPECT_EQ(back->load.client_thread_cpu.system_s, 0.5);
  ASSERT_TRUE(back->node_cpu);
  ASSERT_EQ(back->node_cpu->per_process.size(), 2u);
  EXPECT_EQ(back->node_cpu->per_process[1].pid, 101);
  EXPECT_EQ(back->node_cpu->total.system_s, 2.25);
  EXPECT_EQ(back->node_cpu->wall_s, 1.5);
  EXPECT_EQ(back->node_sleeps, (std::vector<uint64_t>{4, 5, 6}));
}

TEST(InLeaderResultFile, AFailureTravelsWithoutFigures) {
  TempDir dir;
  const fs::path file = in_leader_result_file(dir.path());
  InLeaderResult failed;
  failed.node = 1;
  failed.error = "leadership moved";
  write_in_leader_result(file, failed);
  const std::optional<InLeaderResult> back = read_in_leader_result(file);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->error, "leadership moved");
  EXPECT_FALSE(back->node_cpu);
}

TEST(InLeaderResultFile, NoSymlinkIsFollowed) {
  TempDir dir;
  const fs::path file = in_leader_result_file(dir.path());
  const fs::path elsewhere = dir.path() / "elsewhere";
  std::ofstream(elsewhere) << "keep";
  fs::create_symlink(elsewhere, file);
  EXPECT_THROW(read_in_leader_result(file), std::runtime_error);
  write_in_leader_result(file, sample_result());  // replaces the link, does not write through it
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(file)));
  std::ifstream kept(elsewhere);
  std::string text;
  kept >> text;
  EXPECT_EQ(text, "keep");
  EXPECT_TRUE(read_in_leader_result(file));
}

TEST(InLeaderResultFile, ADamagedFileIsRefusedNamingIt) {
  TempDir dir;
  const fs::path file = in_leader_result_file(dir.path());
  std::ofstream(file) << "garbage";
  try {
    read_in_leader_result(file);
    FAIL() << "a damaged file was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shmraft::bench
