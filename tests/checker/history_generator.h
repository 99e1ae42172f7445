#pragma once
// Random KV histories that are linearizable by construction: every operation gets a linearization point
// inside its [call, return] interval and is applied, in point order, to the real kv::StateMachine, whose
// answers become the recorded outputs. Some operations are recorded with unknown outcome, and some of
// those are never applied at all.
#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "launcher/checker/history.h"
#include "node/kv/state_machine.h"

namespace shmraft::checker::test {

struct GeneratorOptions {
  int clients = 4;
  int ops_per_client = 50;
  int keys = 3;
  bool concurrent = true;     // false: no two operations overlap in time
  double unknown = 0.0;       // fraction recorded with "return": null
  bool appends_only = false;  // writes are appends of unique tokens
};

// Concatenation written so GCC 12 does not raise its false -Wrestrict on `"c" + std::to_string(n)`.
inline std::string token(std::string_view prefix, uint64_t a, uint64_t b) {
  std::string s(prefix);
  s += std::to_string(a);
  s += '.';
  s += std::to_string(b);
  s += ';';
  return s;
}

struct GeneratedHistory {
  std::vector<Operation> ops;
  std::map<std::string, std::string> final_state;
};

inline GeneratedHistory generate_history(std::mt19937_64& rng, const GeneratorOptions& options) {
  struct Planned {
    Operation op;
    uint64_t point;  // linearization point
    bool applied;    // false: an unknown-outcome op that never took effect
  };
  std::vector<Planned> planned;
  const auto uniform = [&rng](uint64_t lo, uint64_t hi) { return lo + rng() % (hi - lo + 1); };
  std::vector<uint64_t> cursor(options.clients, 0);
  uint64_t global = 0;
  std::vector<int> remaining(options.clients, options.ops_per_client);
  for (int left = options.clients * options.ops_per_client; left > 0; --left) {
    int client = static_cast<int>(rng() % options.clients);
    while (remaining[client] == 0) client = (client + 1) % options.clients;
    const int number = options.ops_per_client - remaining[client]--;
    Planned p;
    Operation& op = p.op;
    op.client = static_cast<uint64_t>(client) + 1;
    op.key = "k";
    op.key += std::to_string(rng() % options.keys);
    const int kind = static_cast<int>(rng() % 10);
    const std::string written = token("c", client, number);
    if (kind < 4) {
      op.op = OpKind::get;
    } else if (options.appends_only || kind < 6) {
      op.op = OpKind::append;
      op.value = written;
    } else if (kind < 8) {
      op.op = OpKind::put;
      op.value = written;
    } else if (kind < 9) {
      op.op = OpKind::cas;
      op.expect = rng() % 2 ? std::string() : token("c", rng() % options.clients, number);
      op.value = written;
    } else {
      op.op = OpKind::del;
    }
    // Times are in units of 1000 so points never coincide with a call or return.
    uint64_t& start = options.concurrent ? cursor[client] : global;
    op.call = (start + uniform(1, 5)) * 1000;
    const uint64_t ret = op.call + uniform(1, options.concurrent ? 40 : 5) * 1000;
    p.point = uniform(op.call + 1, ret - 1);
    start = ret / 1000;
    op.ret = ret;
    p.applied = true;
    if (std::uniform_real_distribution<double>(0, 1)(rng) < options.unknown) {
      op.ret.reset();
      p.applied = rng() % 2 == 0;
    }
    planned.push_back(std::move(p));
  }

  std::sort(planned.begin(), planned.end(),
            [](const Planned& a, const Planned& b) { return a.point < b.point; });
  kv::StateMachine machine;
  uint64_t index = 0;
  std::map<uint64_t, uint64_t> applied_per_client;  // sequence numbers count applied commands only
  GeneratedHistory out;
  for (Planned& p : planned) {
    if (p.applied) {
      static constexpr kv::Op kOps[] = {kv::Op::put, kv::Op::get, kv::Op::append, kv::Op::cas, kv::Op::del};
      const kv::Command command{p.op.client,
                                ++applied_per_client[p.op.client],
                                kOps[static_cast<int>(p.op.op)],
                                p.op.key,
                                p.op.value,
                                p.op.expect};
      const kv::Result r = machine.apply(++index, command);
      const bool read = r.code == kv::ResultCode::value || r.code == kv::ResultCode::absent;
      p.op.output = read ? std::string(r.value) : r.code == kv::ResultCode::cas_failed ? "fail" : "ok";
    }
    if (!p.op.known()) p.op.output.clear();
    out.ops.push_back(std::move(p.op));
  }
  // Histories are recorded in completion order, not point order; shuffle to keep the checker honest.
  std::shuffle(out.ops.begin(), out.ops.end(), rng);
  for (auto& [key, value] : machine.dump()) out.final_state[key] = value;
  return out;
}

}  // namespace shmraft::checker::test
