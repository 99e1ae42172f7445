// libFuzzer target: the ring consumer's frame parsing and resynchronisation (ipc/ring.h), starting from
// shared indices and buffer bytes taken from the input (what a dead or hostile process can leave
// behind), then a script that interleaves a real producer, the consumer, restarts and scribbles.
//
// Input: u8 capacity exponent | u64 head | u64 tail - head | u16 n | n bytes written at head |
//        then operations, each u8 opcode and its operands (see the switch below).
//
// Properties: every frame handed out lies inside the buffer, carries a correct CRC and re-frames
// (push into a fresh ring, read back) to itself; and on a consistent ring — one that started empty, or
// whose garbage the consumer has drained and resynchronised past — the consumer returns exactly the
// frames published since, in order, and never resynchronises until something scribbles on it again.
#include <algorithm>
#include <deque>
#include <memory>
#include <span>

#include "ipc/ring.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/reused_buffer.h"

namespace {

using namespace shmraft::ipc;

struct PushedFrame {
  uint32_t serial;
  uint32_t length;
  uint16_t type;
  uint16_t flags;
};

std::byte pattern(uint32_t serial, std::size_t i) {
  return static_cast<std::byte>(serial * 131 + i * 7 + 1);
}

constexpr uint64_t kMaxCapacity = kMinRingCapacity << 6;  // the input picks 64 B .. 4 KiB

// One ring in private memory, as the segment would hold it: a control block and a buffer, allocated once
// and reset for each input (reused_buffer.h says why and how ASan still sees the buffer's exact end).
class Ring {
 public:
  Ring() : control_(std::make_unique<RingControl>()), buffer_memory_(kMaxCapacity) {}
  // Empty (all zeros, as a fresh segment) with the given capacity.
  void reset(uint64_t capacity) {
    std::destroy_at(control_.get());
    std::construct_at(control_.get());
    buffer_ = buffer_memory_.zeroed(capacity);
  }
  RingProducer producer() { return RingProducer(*control_, buffer_.data(), buffer_.size()); }
  RingConsumer consumer() { return RingConsumer(*control_, buffer_.data(), buffer_.size()); }
  RingControl& control() { return *control_; }
  std::span<std::byte> buffer() const { return buffer_; }

 private:
  std::unique_ptr<RingControl> control_;
  shmraft::fuzz::ReusedBuffer buffer_memory_;
  std::span<std::byte> buffer_;
};

// What the harness keeps from one input to the next, so that an execution allocates nothing.
struct Workspace {
  Ring ring;
  Ring echo;
  shmraft::fuzz::ReusedBuffer payload{max_payload_for(kMaxCapacity)};
};

class Harness {
 public:
  Harness(shmraft::fuzz::FuzzInput& input, uint64_t capacity, Workspace& workspace)
      : input_(input), ring_(workspace.ring), echo_(workspace.echo), payload_(workspace.payload) {
    ring_.reset(capacity);
    echo_.reset(capacity);
    const uint64_t head = input.integer<uint64_t>();
    const uint64_t tail = head + input.integer<uint64_t>();
    ring_.control().head.store(head);
    ring_.control().tail.store(tail);
    const std::span<const std::byte> garbage = input.take(input.integer<uint16_t>());
    for (std::size_t i = 0; i < garbage.size(); ++i) ring_.buffer()[(head + i) & (capacity - 1)] = garbage[i];
    producer_ = ring_.producer();
    consumer_ = ring_.consumer();
    echo_producer_ = echo_.producer();
    echo_consumer_ = echo_.consumer();
    resume_model_if_drained();
  }

  void run() {
    while (!input_.empty()) step(input_.integer<uint8_t>());
    publish();
    consume(SIZE_MAX);
    if (model_valid_) FUZZ_CHECK(pushed_.empty());
  }

 private:
  void step(uint8_t opcode) {
    switch (opcode % 6) {
      case 0:
        push(input_.integer<uint16_t>(), input_.integer<uint16_t>(), input_.integer<uint8_t>());
        break;
      case 1:
        publish();
        break;
      case 2: {
        const uint8_t max_frames = input_.integer<uint8_t>();
        consume(max_frames == 0 ? SIZE_MAX : max_frames);
        resume_model_if_drained();
        break;
      }
      case 3:
        if (const std::optional<Frame> frame = consumer_.peek()) {
          check(*frame);
          consumer_.release();
        }
        resume_model_if_drained();
        break;
      case 4: {
        const uint16_t offset = input_.integer<uint16_t>();
        ring_.buffer()[offset & (ring_.buffer().size() - 1)] = std::byte{input_.integer<uint8_t>()};
        model_valid_ = false;
        break;
      }
      case 5:
        // A process restarts and builds a fresh view from the shared indices alone.
        if (input_.integer<uint8_t>() & 1) {
          producer_ = ring_.producer();
          pushed_.erase(pushed_.end() - static_cast<std::ptrdiff_t>(unpublished_), pushed_.end());
          unpublished_ = 0;
        } else {
          consumer_ = ring_.consumer();
        }
        break;
    }
  }

  void publish() {
    producer_.publish();
    unpublished_ = 0;
  }

  void push(uint16_t length_seed, uint16_t type, uint8_t flags) {
    const uint32_t length = length_seed % (producer_.max_payload() + 1);
    const uint32_t serial = next_serial_++;
    const std::span<std::byte> payload = payload_.zeroed(length);
    for (std::size_t i = 0; i < length; ++i) payload[i] = pattern(serial, i);
    if (!producer_.try_write(type, payload, flags)) return;
    pushed_.push_back({serial, length, type, flags});
    ++unpublished_;
  }

  void consume(std::size_t max_frames) {
    consumer_.drain([this](const Frame& frame) { check(frame); }, max_frames);
    if (model_valid_) FUZZ_CHECK(consumer_.bad_frames() == bad_frames_when_consistent_);
  }

  // Once everything published has been read and nothing is pending, whatever garbage came before is
  // behind the consumer: from here on it must return exactly what the producer publishes.
  void resume_model_if_drained() {
    if (model_valid_ || unpublished_ != 0 || consumer_.has_frames()) return;
    if (ring_.control().head.load() % kFrameAlignment != 0) return;
    pushed_.clear();
    model_valid_ = true;
    bad_frames_when_consistent_ = consumer_.bad_frames();
  }

  void check(const Frame& frame) {
    const std::byte* begin = ring_.buffer().data();
    const std::byte* header = frame.payload.data() - sizeof(FrameHeader);
    FUZZ_CHECK(header >= begin && (header - begin) % kFrameAlignment == 0);
    FUZZ_CHECK(frame.payload.data() + frame.payload.size() <= begin + ring_.buffer().size());
    FUZZ_CHECK(frame.payload.size() <= consumer_.max_payload());
    FrameHeader stored;
    std::memcpy(&stored, header, sizeof stored);
    FUZZ_CHECK(stored.length == frame.payload.size() && stored.type == frame.type &&
               stored.flags == frame.flags);
    FUZZ_CHECK(stored.crc == frame_crc(stored.length, stored.type, stored.flags, frame.payload.data()));
    check_reframes(frame);
    if (!model_valid_) return;
    FUZZ_CHECK(!pushed_.empty() && pushed_.size() > unpublished_);
    const PushedFrame expected = pushed_.front();
    pushed_.pop_front();
    FUZZ_CHECK(frame.type == expected.type && frame.flags == expected.flags);
    FUZZ_CHECK(frame.payload.size() == expected.length);
    for (std::size_t i = 0; i < expected.length; ++i)
      FUZZ_CHECK(frame.payload[i] == pattern(expected.serial, i));
  }

  // The round trip: a frame the consumer accepted, written by a producer into an empty ring, reads back
  // the same.
  void check_reframes(const Frame& frame) {
    FUZZ_CHECK(echo_producer_.try_push(frame.type, frame.payload, frame.flags));
    const std::optional<Frame> echoed = echo_consumer_.peek();
    FUZZ_CHECK(echoed && echoed->type == frame.type && echoed->flags == frame.flags);
    FUZZ_CHECK(std::equal(echoed->payload.begin(), echoed->payload.end(), frame.payload.begin(),
                          frame.payload.end()));
    echo_consumer_.release();
  }

  shmraft::fuzz::FuzzInput& input_;
  Ring& ring_;
  Ring& echo_;
  shmraft::fuzz::ReusedBuffer& payload_;
  RingProducer producer_;
  RingConsumer consumer_;
  RingProducer echo_producer_;
  RingConsumer echo_consumer_;
  // Per input, not in the workspace: libFuzzer runs a leak check (a scan of the whole heap) after any
  // execution whose allocations and frees do not balance, which a deque kept across inputs would cause.
  std::deque<PushedFrame> pushed_;  // published or not, oldest first; meaningful while model_valid_
  std::size_t unpublished_ = 0;     // the newest entries of pushed_ not yet published
  uint32_t next_serial_ = 0;
  bool model_valid_ = false;
  uint64_t bad_frames_when_consistent_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  shmraft::fuzz::FuzzInput input(shmraft::fuzz::input_bytes(data, size));
  static Workspace workspace;
  const uint64_t capacity = kMinRingCapacity << (input.integer<uint8_t>() % 7);
  Harness(input, capacity, workspace).run();
  return 0;
}
