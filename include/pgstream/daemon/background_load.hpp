// BackgroundLoad: one stream table loaded from a snapshot of its own, on a
// thread of its own, while the stream goes on feeding the other tables.
//
// Contract:
// - The thread creates a temporary logical slot (its consistent point is
//   where the table's changes begin: the snapshot holds every transaction
//   that committed before it), reads the table's sources (or, for a FULL
//   table, its query) inside the slot's exported snapshot with
//   StreamTable::load, and ends; the slot goes with its connection.
// - The runtime belongs to the thread until it ends, then to `finished`,
//   which runs on the thread, once, with the outcome: post it to the
//   owner's loop. It must not throw.
// - cancel() makes the thread give up at its next row read (a slot
//   creation waiting for older transactions, or a COPY waiting on a lock,
//   ends only when they do). The destructor cancels and joins.
#pragma once

#include <atomic>
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

struct LoadOutcome {
  std::unique_ptr<StreamTable> runtime;    // loaded (or half loaded when failed)
  Lsn consistent;                          // the snapshot's consistent point
  std::vector<writer::DeltaRow> contents;  // the whole result at `consistent`
  std::optional<Error> error;              // set when the load failed or was cancelled
  bool cancelled = false;
};

class BackgroundLoad {
 public:
  using Finished = std::function<void(LoadOutcome)>;

  // `slot_name`: the temporary slot's name (unique per daemon).
  BackgroundLoad(std::string conninfo, std::string slot_name, std::unique_ptr<StreamTable> runtime,
                 Finished finished);
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;
  ~BackgroundLoad();

  void cancel() noexcept { cancelled_.store(true); }

 private:
  void run() noexcept;

  std::string conninfo_;
  std::string slot_name_;
  std::unique_ptr<StreamTable> runtime_;
  Finished finished_;
  std::atomic<bool> cancelled_{false};
  std::thread thread_;  // last: starts once the members above are set
};

}  // namespace pgstream::daemon
