#include "tests/cluster/chaos_harness.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>

namespace shmraft::cluster_test {

namespace {

uint64_t test_seed() {
  if (const char* env = std::getenv("SHMRAFT_SEED")) return std::strtoull(env, nullptr, 10);
  std::random_device device;
  return (uint64_t{device()} << 32) | device();
}

}  // namespace

ChaosRun run_chaos(const std::string& label, const std::vector<std::string>& args, bool keep_data) {
  ChaosRun run;
  run.seed = test_seed();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string replay = "SHMRAFT_SEED=" + std::to_string(run.seed) + " " +
                             ::testing::internal::GetArgvs().front() +
                             " --gtest_filter=" + info->test_suite_name() + "." + info->name();
  std::cout << "seed " << run.seed << " (replay: " << replay << ")" << std::endl;
  const std::string name = unique_cluster_name(label);
  run.cluster = name;
  run.data_root = "/tmp/shmraft/" + name;
  std::vector<std::string> argv{
      "chaos", "-c", name, "--data-dir", run.data_root, "--seed", std::to_string(run.seed)};
  if (keep_data) argv.push_back("--keep-data");
  argv.insert(argv.end(), args.begin(), args.end());
  run.result = run_shmraft(argv, std::chrono::minutes(30));
  std::cout << run.result.out << std::flush;
  std::smatch match;
  if (std::regex_search(run.result.out, match, std::regex("faults: (\\d+) kills"))) {
    run.kills = static_cast<uint32_t>(std::stoul(match[1]));
  }
  if (std::regex_search(
          run.result.out, match,
          std::regex("membership: (\\d+) adds, (\\d+) removes \\((\\d+) of the leader\\), (\\d+) "
                     "replaces, (\\d+) transfers"))) {
    const auto count = [&](int group) { return static_cast<uint32_t>(std::stoul(match[group])); };
    run.membership = MembershipCounts{count(1), count(2), count(3), count(4), count(5)};
  }
  if (std::regex_search(run.result.out, match,
                        std::regex("\\(voters ([0-9,]+); learners ([0-9,]+|none)\\)"))) {
    for (const std::string& list : {match[1].str(), match[2].str()}) {
      std::istringstream ids(list);
      for (std::string id; std::getline(ids, id, ',');)
        if (id != "none") run.members.push_back(static_cast<uint32_t>(std::stoul(id)));
    }
  }
  if (!keep_data) {
    std::error_code ec;
    std::filesystem::remove_all(run.data_root, ec);
    std::filesystem::remove(std::filesystem::path("/dev/shm") / ("shmraft." + name), ec);
  }
  if (!run.passed()) ADD_FAILURE() << "chaos failed; replay: " << replay << "\n" << run.result.describe();
  return run;
}

}  // namespace shmraft::cluster_test
