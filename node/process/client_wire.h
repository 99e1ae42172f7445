#pragma once
// The envelope of client requests and responses on the client rings (one request ring per client slot
// to each node, one response ring back). Shared by the node process and the client library; both ends
// are built from this header, so the layout is the host's (the rings never leave the host).
//
//   request frame  (type kRequestFrame):  RequestHeader  | KV command (node/kv/command.h)
//                                          RequestHeader  | AdminCommand     (kind kAdminRequest)
//   response frame (type kResponseFrame): ResponseHeader | KV result (node/kv/result.h) when status ok,
//                                                          or a one-line reason when bad_request
//                                          ResponseHeader | AdminReply (an admin request's ok or refused)
//
// The timestamps (CLOCK_MONOTONIC ns, one clock for every process on the host) let the client split a
// request's latency into phases (DESIGN §5):
//   client -> leader   leader_receive_ns - client_send_ns
//   leader persist     leader_persist_ns - leader_receive_ns   (reads: 0)
//   replication        commit_ns - leader_persist_ns            (the majority's acknowledgement arrived;
//                                                                 reads: the ReadIndex heartbeat round)
//   apply              apply_ns - commit_ns
//   leader -> client   the client's receive time - apply_ns
// The node takes each timestamp once per loop iteration and shares it among that iteration's requests.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace shmraft::node {

inline constexpr uint16_t kRequestFrame = 1;
inline constexpr uint16_t kResponseFrame = 2;
inline constexpr uint16_t kPeerFrame = 3;  // peer rings: one Raft message (node/raft/codec.h)

// Under `--transport tcp` a client connects to each node as endpoint kTcpClientEndpoint + its slot
// (nodes are endpoints 1..n, their ids; ipc/tcp/transport.h).
inline constexpr uint32_t kTcpClientEndpoint = 1u << 20;

// RequestHeader::kind
inline constexpr uint32_t kKvRequest = 0;     // a KV command
inline constexpr uint32_t kAdminRequest = 1;  // an AdminCommand: membership and leadership

struct RequestHeader {
  uint64_t request_id = 0;      // chosen by the client, echoed back; unique among its outstanding requests
  uint64_t client_send_ns = 0;  // echoed back
  uint32_t generation = 0;      // the client slot's claim generation, echoed back (stale replies)
  uint32_t kind = kKvRequest;
};

enum class ResponseStatus : uint8_t {
  ok = 0,           // applied (or read) on the leader; the payload is the KV result
  not_leader = 1,   // this node is not (or no longer) the leader; retry at leader_hint if known
  bad_request = 2,  // the command did not decode or is too large; payload holds the reason
  busy = 3,         // the leader cannot take it now (transfer in progress, full log); retry later
  // A write this node appended to its log as leader, but it lost leadership before the entry committed
  // here: the next leader may still commit it. Resending is safe only within a session (applied once).
  in_doubt = 4,
  // An admin request the leader refused (AdminReply::status says why: a member already, another change
  // pending, the last voter, ...). Retrying the same request is refused the same way.
  refused = 5,
};

struct ResponseHeader {
  uint64_t request_id = 0;
  uint64_t client_send_ns = 0;
  uint64_t leader_receive_ns = 0;
  uint64_t leader_persist_ns = 0;
  uint64_t commit_ns = 0;
  uint64_t apply_ns = 0;
  uint32_t generation = 0;
  uint32_t leader_hint = 0;  // the leader's node id (1..N) as this node knows it, 0 = unknown
  ResponseStatus status = ResponseStatus::ok;
  uint8_t reserved[7] = {};
};

// Membership changes (one server at a time, raft::ConfChange) and leadership transfer, asked of the
// leader like a write (not_leader redirects, busy retries). A change is answered ok once its entry is
// committed and applied on the leader; a transfer once the leader has started it (the caller watches
// the leader record for the outcome); kConfiguration at once, with the leader's configuration.
enum class AdminOp : uint8_t {
  kAddLearner = 1,  // node joins as a learner
  kPromote = 2,     // a learner becomes a voter
  kRemove = 3,      // a voter or learner leaves
  kTransfer = 4,    // leadership goes to node
  kConfiguration = 5,
};
inline constexpr uint8_t kAdminVersion = 1;

struct AdminCommand {
  uint8_t version = kAdminVersion;
  AdminOp op = AdminOp::kConfiguration;
  uint8_t reserved[2] = {};
  uint32_t node = 0;  // 1..max_nodes; 0 for kConfiguration
};

struct AdminReply {
  uint8_t status = 0;  // raft::Status: 0 ok, else the core's refusal
  uint8_t reserved[3] = {};
  uint32_t leader = 0;    // the answering leader
  uint64_t index = 0;     // a change's log index; the leader's commit index for kConfiguration
  uint64_t voters = 0;    // kConfiguration: the configuration in force (raft::NodeSet bits)
  uint64_t learners = 0;  //   (latest in the leader's log, committed or not)
};

static_assert(std::is_trivially_copyable_v<RequestHeader> && sizeof(RequestHeader) == 24);
static_assert(std::is_trivially_copyable_v<AdminCommand> && sizeof(AdminCommand) == 8);
static_assert(std::is_trivially_copyable_v<AdminReply> && sizeof(AdminReply) == 32);
static_assert(std::is_trivially_copyable_v<ResponseHeader> && sizeof(ResponseHeader) == 64);

// The largest value a get reply carries in a frame of `frame_payload` bytes: the bound a client declares
// on an append (kv::Command::bound), so no append can make its key unreadable.
constexpr std::size_t max_value_in_reply(std::size_t frame_payload) noexcept {
  constexpr std::size_t kResultOverhead = 1 + 10;  // the result code and the value's length, at most
  constexpr std::size_t kOverhead = sizeof(ResponseHeader) + kResultOverhead;
  return frame_payload > kOverhead ? frame_payload - kOverhead : 0;
}

// Reads a header from the front of a frame payload (4-byte aligned in the ring: memcpy, never a cast).
template <class Header>
std::optional<Header> read_header(std::span<const std::byte> payload) noexcept {
  if (payload.size() < sizeof(Header)) return std::nullopt;
  Header header;
  std::memcpy(&header, payload.data(), sizeof header);
  return header;
}

template <class Header>
void write_header(const Header& header, std::byte* out) noexcept {
  std::memcpy(out, &header, sizeof header);
}

}  // namespace shmraft::node
