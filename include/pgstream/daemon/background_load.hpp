// BackgroundLoad: stream tables loaded from one snapshot of their own, on a
// thread of their own, while the stream goes on feeding the other tables.
//
// Contract:
// - The thread creates a temporary logical slot (its consistent point is
//   where the tables' changes begin: the snapshot holds every transaction
//   that committed before it), reads each table's sources (or, for a FULL
//   table, its query) inside the slot's exported snapshot with
//   StreamTable::load, and ends; the slot goes with its connection.
// - Members come upstream first: a chain (tables reading each other's
//   targets in memory, linked with StreamTable::link before) loads
//   together, each member's result pushed into the members after it that
//   read its target, as an epoch does.
// - A member that fails for good (a permanent error) fails alone, with the
//   members that read it; anything else (the slot, the snapshot, a
//   transient error, a source rewritten after the snapshot: 40001, a
//   cancel) fails the whole load.
// - The runtimes belong to the thread until it ends, then to `finished`,
//   which runs on the thread, once, with the outcome: post it to the
//   owner's loop. It must not throw.
// - cancel() makes the thread give up at its next row read (a slot
//   creation waiting for older transactions, or a COPY waiting on a lock,
//   ends only when they do). The destructor cancels and joins.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/common/lsn.hpp"
#include "pgstream/daemon/stream_table.hpp"
#include "pgstream/writer/apply.hpp"

namespace pgstream::daemon {

struct LoadMember {
  std::unique_ptr<StreamTable> runtime;  // built, its chained sources linked
  std::uint32_t target_oid = 0;          // what the members after it read
};

struct LoadedTable {
  std::unique_ptr<StreamTable> runtime;    // loaded (or half loaded when failed)
  std::vector<writer::DeltaRow> contents;  // the whole result at the consistent point
  std::optional<Error> error;              // it, or an upstream member, failed for good
};

struct LoadOutcome {
  Lsn consistent;                   // the snapshot's consistent point
  std::vector<LoadedTable> tables;  // one per member, in the members' order
  std::optional<Error> error;       // set when the whole load failed or was cancelled
  bool cancelled = false;
};

class BackgroundLoad {
 public:
  using Finished = std::function<void(LoadOutcome)>;

  // `slot_name`: the temporary slot's name (unique per daemon).
  BackgroundLoad(std::string conninfo, std::string slot_name, std::vector<LoadMember> members,
                 Finished finished);
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;
  ~BackgroundLoad();

  void cancel() noexcept { cancelled_.store(true); }

 private:
  void run() noexcept;
  void load_members(replication::SnapshotReader& reader, LoadOutcome& outcome);

  std::string conninfo_;
  std::string slot_name_;
  std::vector<LoadMember> members_;
  Finished finished_;
  std::atomic<bool> cancelled_{false};
  std::thread thread_;  // last: starts once the members above are set
};

}  // namespace pgstream::daemon
