// Applier: the thread that hands the engine's epochs to the writer pool, in
// order, and moves the slot's confirmed LSN.
//
// Contract:
// - Work is applied in the order submitted. Consecutive epochs waiting in
//   the queue are applied together (one MERGE per target for all of them,
//   the deltas summed, up to max_batch_rows delta rows), so a writer that
//   falls behind catches up with bigger, fewer transactions instead of a
//   longer queue.
// - An epoch's LSN is confirmed (`confirm`) only after every target in it
//   has committed or failed for good: the slot never runs ahead of what is
//   durable. Reconcile work (a table loaded from its own snapshot) never
//   confirms anything.
// - A target whose apply fails for good is reported through `on_failure`
//   (on the applier thread); transient errors are retried by the pool.
// - `observer` (optional) hears, per table and apply that committed, the
//   rows it changed, its duration and its new frontier time (metrics).
// - submit() blocks while `max_queue` items wait (backpressure on the
//   engine, hence on the stream). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/common/lsn.hpp"
#include "pgstream/writer/apply.hpp"
#include "pgstream/writer/target.hpp"
#include "pgstream/writer/writer_pool.hpp"

namespace pgstream::daemon {

struct TableDelta {
  std::int64_t pgs_id = 0;
  std::shared_ptr<const writer::TargetSpec> target;
  std::vector<writer::DeltaRow> rows;
};

struct ApplyWork {
  enum class Kind { Epoch, Reconcile };
  Kind kind = Kind::Epoch;
  Lsn lsn;
  std::optional<std::chrono::system_clock::time_point> commit_time;
  std::vector<TableDelta> deltas;           // Epoch: changed targets; Reconcile: one, its full contents
  std::vector<std::int64_t> frontier_only;  // Epoch: tables whose frontier moves without a change
  bool confirm = true;                      // Epoch of the main stream: confirm `lsn` once applied
  // Epoch: not applied together with the epochs before it. Merged epochs
  // give every table in them the last one's LSN, which is wrong for a
  // table that stopped being fed in between (a load started).
  bool barrier = false;
  writer::Action action = writer::Action::Differential;
  // Reconcile: called once it committed (error null) or failed.
  std::function<void(const Error*)> done;
};

// What one apply did to one table, for the metrics. Reported on the applier
// thread after the writer committed; never for a failed apply.
struct AppliedTable {
  std::int64_t pgs_id = 0;
  bool merged = false;       // its delta went through MERGE (else only its frontier moved)
  bool reconciled = false;   // a reconcile: `result_rows` is the whole result's row count
  writer::ApplyStats stats;  // rows inserted/updated/deleted by the MERGE
  std::int64_t result_rows = 0;
  double seconds = 0;  // the writer transaction's duration (merged only)
  // The source commit time the table's frontier now stands at, if known.
  std::optional<std::chrono::system_clock::time_point> data_timestamp;
};

using ApplyObserver = std::function<void(const AppliedTable&)>;

struct ApplierStats {
  std::uint64_t epochs = 0;
  std::uint64_t transactions = 0;  // writer transactions (merges + frontier updates)
  std::uint64_t rows = 0;          // delta rows handed to the writer
  Lsn applied;                     // the last epoch LSN applied
};

class Applier {
 public:
  // `on_idle` (optional) is called on the applier thread whenever it runs
  // out of work: the engine may hand over what it accumulated meanwhile.
  Applier(writer::WriterPool& pool, std::string catalog_schema, std::function<void(Lsn)> confirm,
          std::function<void(std::int64_t pgs_id, const Error&)> on_failure,
          std::function<void()> on_idle = {}, std::size_t max_batch_rows = 50000, std::size_t max_queue = 8,
          ApplyObserver observer = {});
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;
  ~Applier();

  // Blocks while the queue is full (backpressure); `while_waiting`, if
  // given, is called about every second meanwhile (without the lock): the
  // caller's loop is alive, only held back.
  void submit(ApplyWork work, const std::function<void()>& while_waiting = {});
  // Waits until everything submitted so far has been applied.
  void drain();
  // drain(), for at most `limit`; false if work was still left then.
  [[nodiscard]] bool drain_for(std::chrono::steady_clock::duration limit);
  // Stops after the work in hand (queued work is dropped).
  void stop();

  [[nodiscard]] ApplierStats stats() const;
  [[nodiscard]] std::size_t queued() const;
  // Nothing queued and nothing being applied.
  [[nodiscard]] bool idle() const;

 private:
  void run();
  void apply_epochs(std::vector<ApplyWork>& epochs);
  void apply_reconcile(ApplyWork& work);

  writer::WriterPool& pool_;
  std::string catalog_schema_;
  std::function<void(Lsn)> confirm_;
  std::function<void(std::int64_t, const Error&)> on_failure_;
  std::function<void()> on_idle_;
  ApplyObserver observer_;
  std::size_t max_batch_rows_;
  std::size_t max_queue_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<ApplyWork> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  ApplierStats stats_;
  std::thread thread_;
};

}  // namespace pgstream::daemon
