#pragma once
// What a KV client asks for and what it gets back: shared by the synchronous Client (client.h) and the
// pipelined AsyncClient (async_client.h).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipc/wait.h"
#include "launcher/client/client_channel.h"
#include "node/kv/command.h"

namespace shmraft::checker {
class HistoryWriter;
}

namespace shmraft::client {

enum class Status : uint8_t {
  ok,          // applied (put, append, delete, cas that matched) or read (get)
  cas_failed,  // cas: the key held another value; nothing changed
  unknown,     // no answer within the overall timeout, the session expired, or (without a session) the
               // leader lost leadership after logging it: it may or may not have taken effect, at any
               // time after it was first sent
  rejected,    // the cluster refused the command as malformed or too large: it never took effect
};
std::string_view to_string(Status status) noexcept;

// CLOCK_MONOTONIC ns of the attempt that succeeded (see node/process/client_wire.h). All zero except
// client_receive_ns for an outcome that came from no leader (unknown).
struct Phases {
  uint64_t client_send_ns = 0;
  uint64_t leader_receive_ns = 0;
  uint64_t leader_persist_ns = 0;  // reads: = leader_receive_ns
  uint64_t commit_ns = 0;          // reads: ReadIndex confirmed
  uint64_t apply_ns = 0;           // reads: value read
  uint64_t client_receive_ns = 0;

  uint64_t client_to_leader_ns() const noexcept { return leader_receive_ns - client_send_ns; }
  uint64_t leader_persist_phase_ns() const noexcept { return leader_persist_ns - leader_receive_ns; }
  uint64_t replication_ns() const noexcept { return commit_ns - leader_persist_ns; }
  uint64_t apply_phase_ns() const noexcept { return apply_ns - commit_ns; }
  uint64_t leader_to_client_ns() const noexcept { return client_receive_ns - apply_ns; }
  uint64_t total_ns() const noexcept { return client_receive_ns - client_send_ns; }
};

// One KV command. Views: copied by submit(), so they need not outlive the call.
struct Request {
  kv::Op op = kv::Op::get;
  std::string_view key;
  std::string_view value;     // put, append; cas: the new value
  std::string_view expected;  // cas only
};

struct ClientOptions {
  // Per attempt: without an answer by then, try the next node (with the SAME sequence number) — unless
  // the attempt is at the live leader the segment names, which is waited for up to operation_timeout.
  std::chrono::milliseconds attempt_timeout{250};
  // Overall: past this, the outcome is unknown.
  std::chrono::milliseconds operation_timeout{5000};
  // Pause before retrying when no node knows a leader (an election is running).
  std::chrono::milliseconds no_leader_backoff{10};
  ipc::WaitStrategy wait = ipc::kDefaultWaitStrategy;
  std::chrono::nanoseconds spin{ipc::kDefaultSpinTime};  // adaptive: spin this long before sleeping
  // How the cluster's nodes were started (`--transport`): the client must speak the same.
  TransportKind transport = TransportKind::shm;
  // Exactly-once session (client id + sequence, Raft dissertation §6.3). Without one a command resent
  // after an attempt timeout may apply twice — acceptable only for benchmark load, so a history
  // requires a session (the constructor throws otherwise). Sessions need pipeline == 1 to be exact: a
  // command overtaken by a later one of the same session is refused as stale (outcome unknown).
  bool session = true;
  std::optional<uint64_t> client_id;  // session id; default: random, non-zero
  uint32_t pipeline = 1;              // AsyncClient: requests outstanding at once (1..1024)
  // Records every operation of a session client in the JSON-lines history (DESIGN §6); not owned.
  checker::HistoryWriter* history = nullptr;
  std::optional<uint64_t> history_client;  // the "client" field; default: the slot number
};

}  // namespace shmraft::client
