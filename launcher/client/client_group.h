#pragma once
// Many logical clients driven by one thread: `size` AsyncClients, each with its own client slot, session
// and outstanding window, sharing one attach of the segment and — over shared memory — one reply
// doorbell (the first client's slot's), which the nodes ring for any of the group's replies. The thread
// sleeps on that one bell, then lets each client that has replies handle them; every kTimerScan the
// clients with a timer due (retries, give-ups) run it, and all of them follow a newly announced leader
// or candidate.
// Requests submitted by all the clients are published with one doorbell per node, by the clients that
// wrote some: the group's costs per wake-up are a load per client (the reply rings of the nodes its
// outstanding requests were written to, usually one) and the work the replies and requests bring.
//
//     ClientGroup group("demo", 512, {.pipeline = 16, .session = false});
//     group.client(i).submit({kv::Op::put, "k", "v"}, tag);
//     group.wait([](uint32_t i, const Completion& done) { ... }, 20ms);
//
// A group of one is exactly an AsyncClient (its own bell, its own timers), the arrangement of a client
// per thread. Over tcp every client has its own sockets and cannot share a bell: a tcp group is of one.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "ipc/segment.h"
#include "ipc/wait.h"
#include "launcher/client/async_client.h"
#include "launcher/client/client_channel.h"

namespace shmraft::client {

class ClientGroup {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(uint32_t client, const Completion&)>;
  // How often every client's timers are run even if no reply woke the thread: a retry or a give-up is
  // late by at most this (attempt timeouts are hundreds of milliseconds, back-offs ten).
  static constexpr std::chrono::milliseconds kTimerScan{1};

  // Throws like AsyncClient's constructor (no cluster, too few free slots: every slot claimed so far is
  // given back), and std::invalid_argument for an empty group or a tcp group of more than one.
  ClientGroup(std::string_view cluster, uint32_t size, const ClientOptions& options);

  uint32_t size() const noexcept { return static_cast<uint32_t>(clients_.size()); }
  AsyncClient& client(uint32_t index) noexcept { return *clients_[index]; }

  // Publishes what the clients submitted, waits until a reply arrives, a new leader is announced or
  // `timeout` passes, then handles every arrived reply and due timer; calls on_done(client, completion)
  // once per finished request. Returns how many finished.
  std::size_t wait(const Callback& on_done, Clock::duration timeout);

 private:
  bool has_replies() noexcept;
  bool leader_changed() const noexcept;

  std::shared_ptr<ipc::Segment> segment_;
  SharedBells bells_;
  std::vector<std::unique_ptr<AsyncClient>> clients_;
  std::unique_ptr<ipc::Waiter> waiter_;  // on the shared reply bell; none for a group of one
  uint64_t seen_leader_term_ = 0;
  uint64_t seen_candidate_term_ = 0;  // a candidate named in the leader record moves the clients too
  uint64_t next_timer_scan_ns_ = 0;
  const Callback* on_done_ = nullptr;  // during wait()
  uint32_t polling_ = 0;               // during wait(): the client whose replies are being handled
  AsyncClient::Callback forward_;      // to on_done_, with polling_
};

}  // namespace shmraft::client
