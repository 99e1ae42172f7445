#include "launcher/bench/in_leader_result.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace shmraft::bench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw std::runtime_error("in-leader result " + file.string() + ": " + what);
}

json histogram_json(const Histogram& h) {
  const std::string bytes = h.serialize();
  return json::binary(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

Histogram histogram_of(const json& j) {
  const json::binary_t& bytes = j.get_binary();
  return Histogram::deserialize(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

json cpu_times_json(const CpuTimes& t) {
  return json{{"user_s", t.user_s}, {"system_s", t.system_s}};
}

CpuTimes cpu_times_of(const json& j) {
  return {j.at("user_s").get<double>(), j.at("system_s").get<double>()};
}

json to_json(const InLeaderResult& r) {
  const LoadResult& l = r.load;
  json phases = json::array();
  for (const NamedHistogram& p : l.phases)
    phases.push_back(json{{"name", p.name}, {"latency", histogram_json(p.histogram)}});
  json operations = json::array();
  for (const OperationOutcome& o : l.operations)
    operations.push_back(json{{"name", o.name}, {"ops", o.ops}, {"latency", histogram_json(o.latency)}});
  json out{{"node", r.node},
           {"term", r.term},
           {"error", r.error},
           {"ops", l.run.ops},
           {"duration_s", l.run.duration_s},
           {"interrupted", l.run.interrupted},
           {"latency", histogram_json(l.run.latency)},
           {"phases", std::move(phases)},
           {"operations", std::move(operations)},
           {"failed_ops", l.failed_ops},
           {"resent_ops", l.resent_ops},
           {"client_thread_cpu", cpu_times_json(l.client_thread_cpu)},
           {"node_sleeps", r.node_sleeps}};
  if (r.node_cpu) {
    json processes = json::array();
    for (const ProcessCpu& p : r.node_cpu->per_process)
      processes.push_back(json{{"pid", p.pid}, {"cpu", cpu_times_json(p.cpu)}});
    out["node_cpu"] = json{{"per_process", std::move(processes)},
                           {"total", cpu_times_json(r.node_cpu->total)},
                           {"wall_s", r.node_cpu->wall_s}};
  }
  return out;
}

InLeaderResult result_of(const json& j) {
  InLeaderResult r;
  r.node = j.at("node").get<uint32_t>();
  r.term = j.at("term").get<uint64_t>();
  r.error = j.at("error").get<std::string>();
  LoadResult& l = r.load;
  l.run.ops = j.at("ops").get<uint64_t>();
  l.run.duration_s = j.at("duration_s").get<double>();
  l.run.interrupted = j.at("interrupted").get<bool>();
  l.run.latency = histogram_of(j.at("latency"));
  for (const json& p : j.at("phases"))
    l.phases.push_back({p.at("name").get<std::string>(), histogram_of(p.at("latency"))});
  for (const json& o : j.at("operations"))
    l.operations.push_back(
        {o.at("name").get<std::string>(), o.at("ops").get<uint64_t>(), histogram_of(o.at("latency"))});
  l.failed_ops = j.at("failed_ops").get<uint64_t>();
  l.resent_ops = j.at("resent_ops").get<uint64_t>();
  l.client_thread_cpu = cpu_times_of(j.at("client_thread_cpu"));
  r.node_sleeps = j.at("node_sleeps").get<std::vector<uint64_t>>();
  if (const auto cpu = j.find("node_cpu"); cpu != j.end()) {
    CpuUsage usage;
    for (const json& p : cpu->at("per_process"))
      usage.per_process.push_back({p.at("pid").get<pid_t>(), cpu_times_of(p.at("cpu"))});
    usage.total = cpu_times_of(cpu->at("total"));
    usage.wall_s = cpu->at("wall_s").get<double>();
    r.node_cpu = std::move(usage);
  }
  return r;
}

}  // namespace

fs::path in_leader_result_file(const fs::path& node_dir) {
  return node_dir / "in-leader-result.cbor";
}

void write_in_leader_result(const fs::path& file, const InLeaderResult& result) {
  const std::vector<uint8_t> bytes = json::to_cbor(to_json(result));
  const fs::path partial = fs::path(file).concat(".partial");
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) fail(partial, std::strerror(errno));
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      fail(partial, std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  // 0600 whatever the umask (O_CREAT applied it) and whoever created the file before us.
  if (::fchmod(fd, 0600) != 0 || ::close(fd) != 0) fail(partial, std::strerror(errno));
  // rename replaces a symlink planted at `file` rather than writing through it.
  if (::rename(partial.c_str(), file.c_str()) != 0) fail(file, std::strerror(errno));
}

std::optional<InLeaderResult> read_in_leader_result(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail(file, std::strerror(errno));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      fail(file, std::strerror(error));
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  ::close(fd);
  try {
    return result_of(json::from_cbor(bytes));
  } catch (const json::exception& e) {
    fail(file, e.what());
  } catch (const std::invalid_argument& e) {  // a malformed histogram
    fail(file, e.what());
  }
}

}  // namespace shmraft::bench
