// Writes the seed corpus of every fuzz target with the project's own encoders:
//   fuzz_seed_corpus <out-dir>   ->   <out-dir>/<target>/<seed name>
// One seed per message kind, op, result code and file kind; rings filled by a real producer; node
// directories made by driving NodeStorage the way the node loop does (append, hard state, snapshot,
// compaction, truncation) and flattened with node_dir_image.h. tests/fuzz/corpus holds its output (the
// named files), beside the minimised finds of a long run (named by their SHA-1).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "ipc/ring.h"
#include "launcher/checker/history.h"
#include "node/kv/command.h"
#include "node/kv/result.h"
#include "node/kv/state_machine.h"
#include "node/process/client_wire.h"
#include "node/raft/codec.h"
#include "node/storage/node_storage.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/node_dir_image.h"
#include "tests/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using namespace shmraft;
using Bytes = std::vector<std::byte>;

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path root) : root_(std::move(root)) {}

  void write(const std::string& target, const std::string& name, std::span<const std::byte> bytes) {
    const fs::path dir = root_ / target;
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all);
    std::string file = name;
    std::replace(file.begin(), file.end(), ' ', '-');  // "cas failed" -> cas-failed
    const fs::path path = dir / file;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
      throw std::system_error(errno, std::generic_category(), "cannot write " + path.string());
    ::close(fd);
    ++written_;
  }
  void write(const std::string& target, const std::string& name, std::string_view text) {
    write(target, name, std::as_bytes(std::span(text)));
  }
  int written() const { return written_; }

 private:
  fs::path root_;
  int written_ = 0;
};

Bytes encode(const kv::Command& command) {
  Bytes out(kv::encoded_size(command));
  kv::encode_command(command, out);
  return out;
}

Bytes encode(const kv::Result& result) {
  Bytes out(kv::encoded_size(result));
  kv::encode_result(result, out);
  return out;
}

Bytes encode(const raft::Message& message) {
  Bytes out(raft::encoded_size(message));
  raft::encode(message, out);
  return out;
}

template <class Header>
Bytes frame(uint8_t type, const Header& header, std::span<const std::byte> body) {
  Bytes out(1 + sizeof header);
  out[0] = std::byte{type};
  node::write_header(header, out.data() + 1);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

const std::vector<kv::Command>& commands() {
  static const std::vector<kv::Command> all = {
      {7, 1, kv::Op::put, "k1", "v1", ""},       {7, 2, kv::Op::get, "k1", "", ""},
      {7, 3, kv::Op::append, "k1", "+tail", ""}, {7, 4, kv::Op::cas, "k1", "new", "v1+tail"},
      {7, 5, kv::Op::del, "k1", "", ""},         {kv::kNoSession, 0, kv::Op::put, "bench-key-300", "x", ""},
  };
  return all;
}

// A state machine that applied every command above (sessions included).
kv::StateMachine applied_state() {
  kv::StateMachine machine;
  uint64_t index = 0;
  for (const kv::Command& command : commands()) machine.apply(++index, encode(command));
  machine.apply(++index, encode(kv::Command{9, 1, kv::Op::put, "k2", "v2", ""}));
  return machine;
}

void kv_seeds(CorpusWriter& out) {
  for (const kv::Command& command : commands())
    out.write("kv_command_fuzz",
              std::string(kv::to_string(command.op)) + (command.client_id ? "" : "-nosession"),
              encode(command));
  for (uint8_t code = 0; code <= static_cast<uint8_t>(kv::ResultCode::session_expired); ++code) {
    const kv::Result result{static_cast<kv::ResultCode>(code), code == 1 ? "value" : "", false};
    out.write("kv_result_fuzz", std::string(kv::to_string(result.code)), encode(result));
  }
  // kv_snapshot_fuzz's input: u8 flags (bit 0: reseal the CRC) | snapshot.
  auto snapshot_seed = [&out](const std::string& name, uint8_t flags, const kv::StateMachine& machine) {
    Bytes seed{std::byte{flags}};
    const Bytes snapshot = machine.snapshot();
    seed.insert(seed.end(), snapshot.begin(), snapshot.end());
    out.write("kv_snapshot_fuzz", name, seed);
  };
  snapshot_seed("empty", 0, kv::StateMachine());
  snapshot_seed("sessions", 0, applied_state());
  snapshot_seed("sessions-sealed", 1, applied_state());
}

void client_wire_seeds(CorpusWriter& out) {
  const node::RequestHeader request{42, 1000, 3, 0};
  out.write("client_wire_fuzz", "request-put", frame(node::kRequestFrame, request, encode(commands()[0])));
  out.write("client_wire_fuzz", "request-cas", frame(node::kRequestFrame, request, encode(commands()[3])));
  node::ResponseHeader response;
  response.request_id = 42;
  response.client_send_ns = 1000;
  response.generation = 3;
  response.leader_hint = 1;
  out.write("client_wire_fuzz", "response-value",
            frame(node::kResponseFrame, response, encode(kv::Result{kv::ResultCode::value, "v1", false})));
  response.status = node::ResponseStatus::bad_request;
  const std::string_view reason = kv::to_string(kv::DecodeError::bad_op);
  out.write("client_wire_fuzz", "response-bad-request",
            frame(node::kResponseFrame, response, std::as_bytes(std::span(reason))));
  response.status = node::ResponseStatus::not_leader;
  out.write("client_wire_fuzz", "response-not-leader", frame(node::kResponseFrame, response, {}));
}

void raft_seeds(CorpusWriter& out) {
  using namespace raft;
  const Bytes put = encode(commands()[0]);
  const Bytes cas = encode(commands()[3]);
  const Bytes snapshot = applied_state().snapshot();
  const Entry entries[] = {
      {3, 11, EntryType::kNoop, {}}, {3, 12, EntryType::kNormal, put}, {3, 13, EntryType::kNormal, cas}};
  const std::pair<const char*, Message> messages[] = {
      {"vote-request", VoteRequest{1, 2, 3, 10, 2, false, false}},
      {"pre-vote-request", VoteRequest{1, 2, 4, 10, 2, true, true}},
      {"vote-response", VoteResponse{2, 1, 3, false, true}},
      {"append-entries", AppendEntries{1, 2, 3, 10, 2, 9, entries}},
      {"append-entries-empty", AppendEntries{1, 2, 3, 13, 3, 13, {}}},
      {"append-response", AppendResponse{2, 1, 3, true, 13, 0, 0, 0, 7}},
      {"append-response-reject", AppendResponse{2, 1, 3, false, 0, 10, 8, 2, 7}},
      {"heartbeat", Heartbeat{1, 2, 3, 13, 77}},
      {"heartbeat-response", HeartbeatResponse{2, 1, 3, 77, 7}},
      {"install-snapshot", InstallSnapshot{1, 2, 3, SnapshotMeta{7, 3}, snapshot}},
      {"install-snapshot-response", InstallSnapshotResponse{2, 1, 3, 7, 7}},
      {"timeout-now", TimeoutNow{1, 2, 3}},
  };
  for (const auto& [name, message] : messages) out.write("raft_codec_fuzz", name, encode(message));
}

void history_seeds(CorpusWriter& out) {
  using checker::OpKind;
  const std::vector<checker::Operation> ops = {
      {1, OpKind::put, "k1", "v1", "", "ok", 100, 200},
      {2, OpKind::get, "k1", "", "", "v1", 150, 260},
      {1, OpKind::append, "k1", "+", "", "ok", 300, 400},
      {3, OpKind::cas, "k1", "w", "v1+", "fail", 310, 420},
      {2, OpKind::del, "k1", "", "", "ok", 500, 600},
      {3, OpKind::put, "k2", "x", "", "", 700, std::nullopt},
      {4, OpKind::get, "k\u00e9", "", "", "", 800, 900},
  };
  for (const checker::Operation& op : ops) {
    out.write("history_fuzz", std::string(checker::to_string(op.op)) + (op.known() ? "" : "-unknown"),
              checker::format_operation(op));
  }
  std::ostringstream all;
  checker::write_history(all, ops);
  out.write("history_fuzz", "history", "\n" + all.str() + " \t\n");
}

// A ring image in ring_fuzz's input layout: the buffer as a producer left it, then a script.
class RingSeed {
 public:
  RingSeed(uint8_t capacity_exponent, uint64_t start)
      : capacity_(ipc::kMinRingCapacity << capacity_exponent),
        exponent_(capacity_exponent),
        control_(std::make_unique<ipc::RingControl>()),
        buffer_(capacity_) {
    control_->head.store(start);
    control_->tail.store(start);
    producer_ = ipc::RingProducer(*control_, buffer_.data(), capacity_);
  }
  void push(uint16_t type, std::span<const std::byte> payload) { producer_.try_push(type, payload); }
  void consume(std::size_t frames) {
    ipc::RingConsumer consumer(*control_, buffer_.data(), capacity_);
    consumer.drain([](const ipc::Frame&) {}, frames);
  }
  ipc::RingControl& control() { return *control_; }
  std::vector<std::byte>& buffer() { return buffer_; }

  // Image of the current state, followed by `script` (opcodes and operands of ring_fuzz).
  Bytes image(std::span<const std::byte> script) const {
    fuzz::FuzzInputWriter w;
    const uint64_t head = control_->head.load();
    w.integer(exponent_);
    w.integer(head);
    w.integer(control_->tail.load() - head);
    w.integer(static_cast<uint16_t>(capacity_));
    for (uint64_t i = 0; i < capacity_; ++i) w.integer(buffer_[(head + i) & (capacity_ - 1)]);
    w.bytes(script);
    return w.data();
  }

 private:
  uint64_t capacity_;
  uint8_t exponent_;
  std::unique_ptr<ipc::RingControl> control_;
  std::vector<std::byte> buffer_;
  ipc::RingProducer producer_;
};

void ring_seeds(CorpusWriter& out) {
  const Bytes drain_all = {std::byte{2}, std::byte{0}};
  // Peer traffic that wrapped around the end of a 256-byte ring (one pad), then consumed.
  RingSeed peers(2, 0);
  peers.push(node::kPeerFrame, encode(raft::Message{raft::Heartbeat{1, 2, 3, 13, 77}}));
  peers.push(node::kPeerFrame, encode(raft::Message{raft::VoteRequest{1, 2, 3, 10, 2, false, false}}));
  peers.consume(2);
  peers.push(node::kPeerFrame, encode(raft::Message{raft::TimeoutNow{1, 2, 3}}));
  peers.push(node::kPeerFrame, encode(raft::Message{raft::AppendResponse{2, 1, 3, true, 13, 0, 0, 0, 7}}));
  out.write("ring_fuzz", "peer-frames-wrapped", peers.image(drain_all));
  // The same with one payload byte flipped: the consumer must resynchronise.
  peers.buffer()[(peers.control().head.load() + 20) & 255] ^= std::byte{0x40};
  out.write("ring_fuzz", "peer-frames-corrupt", peers.image(drain_all));
  // Client requests in a 1 KiB ring, the indices near 2^64 (they wrap while the ring runs).
  RingSeed clients(4, ~uint64_t{0} - 511);
  for (const kv::Command& command : commands()) {
    Bytes request(sizeof(node::RequestHeader));
    node::write_header(node::RequestHeader{1, 2, 3, 0}, request.data());
    const Bytes body = encode(command);
    request.insert(request.end(), body.begin(), body.end());
    clients.push(node::kRequestFrame, request);
  }
  out.write("ring_fuzz", "client-requests", clients.image(drain_all));
  // An empty, consistent 64-byte ring and a script: two pushes, publish, drain one, restart the
  // consumer, drain the rest, push, restart the producer (losing that unpublished frame), drain.
  RingSeed empty(0, 0);
  const std::vector<uint8_t> ops = {
      0,      20, 0,      1,  0, 0, /**/ 0, 8, 0,      3, 0,      1,      /**/ 1, /**/ 2, 1, /**/ 5, 0,
      /**/ 2, 0,  /**/ 0, 16, 0, 2, 0,      0, /**/ 5, 1, /**/ 1, /**/ 2, 0};
  const std::span<const std::byte> script = std::as_bytes(std::span(ops));
  out.write("ring_fuzz", "script", empty.image(script));
}

void storage_seed(CorpusWriter& out, const std::string& name, const fs::path& dir) {
  out.write("storage_recovery_fuzz", name, fuzz::serialize_image(fuzz::read_node_directory(dir)));
}

void storage_seeds(CorpusWriter& out) {
  using namespace storage;
  testing::TempDir root("shmraft-fuzz-seeds");
  Options options;
  options.segment_bytes = 4096;
  options.durability = Durability::none;
  std::vector<Bytes> payloads;
  for (int i = 0; i < 40; ++i) {
    kv::Command command = commands()[i % commands().size()];
    command.sequence = command.client_id ? static_cast<uint64_t>(i + 1) : 0;
    payloads.push_back(encode(command));
  }
  auto append = [&payloads](NodeStorage& node, uint64_t from, uint64_t to, uint64_t term) {
    std::vector<LogEntry> entries;
    for (uint64_t index = from; index <= to; ++index) entries.push_back({index, term, payloads[index % 40]});
    node.append(entries);
  };
  { NodeStorage fresh(root.path() / "fresh", options); }
  storage_seed(out, "fresh", root.path() / "fresh");
  {
    NodeStorage node(root.path() / "log", options);
    append(node, 1, 12, 1);
    append(node, 13, 30, 2);
    node.save_hard_state({2, 1, 24});
    node.sync();
  }
  storage_seed(out, "log", root.path() / "log");
  {
    NodeStorage node(root.path() / "log", options);
    node.truncate_suffix(27);
    append(node, 27, 28, 3);
    node.save_hard_state({3, 2, 26});
    node.sync();
  }
  storage_seed(out, "truncated", root.path() / "log");
  {
    NodeStorage node(root.path() / "log", options);
    node.save_snapshot({20, 2}, applied_state().snapshot());
    node.compact(20);
    append(node, 29, 34, 3);
    node.save_hard_state({3, 2, 33});
    node.sync();
  }
  storage_seed(out, "snapshot-compacted", root.path() / "log");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <out-dir>   (writes <out-dir>/<fuzz target>/<seed>)\n";
    return 2;
  }
  try {
    CorpusWriter out(argv[1]);
    kv_seeds(out);
    client_wire_seeds(out);
    raft_seeds(out);
    history_seeds(out);
    ring_seeds(out);
    storage_seeds(out);
    std::cout << "wrote " << out.written() << " seeds under " << argv[1] << "\n";
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seed_corpus: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
