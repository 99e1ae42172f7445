#include "node/raft/ready_handler.h"

namespace shmraft::raft {

bool ReadyHandler::handle(Core& core, ReadyHost& host) {
  if (!core.has_ready()) return false;
  begin(core, host);
  finish(core, host);
  return true;
}

const Ready& ReadyHandler::begin(Core& core, ReadyHost& host) {
  if (check_invariants_) invariants_.check_state(local_state(core));  // the first call records a baseline
  const Ready& ready = core.ready();
  if (ready.soft_state) host.on_soft_state(*ready.soft_state);
  for (const Message& m : ready.messages) host.send(m);
  return ready;
}

void ReadyHandler::finish(Core& core, ReadyHost& host) {
  const Ready& ready = core.pending_ready();
  if (check_invariants_) invariants_.check_ready(ready);
  if (ready.must_persist()) host.persist(ready);
  for (const Message& m : ready.messages_after_persist) host.send_after_persist(m);
  if (ready.snapshot) host.restore(*ready.snapshot);
  if (!ready.committed_entries.empty()) host.apply(ready.committed_entries);
  host.serve_reads(ready.read_states);
  core.advance();
  if (check_invariants_) invariants_.check_state(local_state(core));
}

}  // namespace shmraft::raft
