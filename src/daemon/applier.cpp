#include "pgstream/daemon/applier.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <utility>

namespace pgstream::daemon {

namespace {

std::size_t delta_rows(const ApplyWork& work) {
  std::size_t rows = 0;
  for (const TableDelta& delta : work.deltas) rows += delta.rows.size();
  return rows;
}

double seconds_since(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace

Applier::Applier(writer::WriterPool& pool, std::string catalog_schema, std::function<void(Lsn)> confirm,
                 std::function<void(std::int64_t, const Error&)> on_failure, std::function<void()> on_idle,
                 std::size_t max_batch_rows, std::size_t max_queue, ApplyObserver observer)
    : pool_(pool),
      catalog_schema_(std::move(catalog_schema)),
      confirm_(std::move(confirm)),
      on_failure_(std::move(on_failure)),
      on_idle_(std::move(on_idle)),
      observer_(std::move(observer)),
      max_batch_rows_(max_batch_rows),
      max_queue_(max_queue),
      thread_([this] { run(); }) {}

Applier::~Applier() { stop(); }

void Applier::submit(ApplyWork work, const std::function<void()>& while_waiting) {
  std::unique_lock lock(mutex_);
  while (!changed_.wait_for(lock, std::chrono::seconds(1),
                            [&] { return stopping_ || queue_.size() < max_queue_; })) {
    if (!while_waiting) continue;
    lock.unlock();
    while_waiting();
    lock.lock();
  }
  if (stopping_) return;
  queue_.push_back(std::move(work));
  changed_.notify_all();
}

void Applier::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return stopping_ || (queue_.empty() && !busy_); });
}

bool Applier::drain_for(std::chrono::steady_clock::duration limit) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, limit, [&] { return stopping_ || (queue_.empty() && !busy_); });
}

void Applier::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    queue_.clear();
    changed_.notify_all();
  }
  pool_.stop();
  if (thread_.joinable()) thread_.join();
}

ApplierStats Applier::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool Applier::idle() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && !busy_;
}

std::size_t Applier::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void Applier::run() {
  for (;;) {
    std::vector<ApplyWork> batch;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      // Consecutive epochs go together; a reconcile goes alone.
      if (queue_.front().kind == ApplyWork::Kind::Reconcile) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        // ... up to max_batch_rows delta rows per apply (the first always goes).
        std::size_t rows = 0;
        while (!queue_.empty() && queue_.front().kind == ApplyWork::Kind::Epoch &&
               (batch.empty() ||
                (!queue_.front().barrier && rows + delta_rows(queue_.front()) <= max_batch_rows_))) {
          rows += delta_rows(queue_.front());
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      busy_ = true;
      changed_.notify_all();
    }
    if (batch.front().kind == ApplyWork::Kind::Reconcile) {
      apply_reconcile(batch.front());
    } else {
      apply_epochs(batch);
    }
    bool now_idle = false;
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
      now_idle = queue_.empty() && !stopping_;
      changed_.notify_all();
    }
    if (now_idle && on_idle_) on_idle_();
  }
}

void Applier::apply_epochs(std::vector<ApplyWork>& epochs) {
  // One delta per target over all the epochs, in order; the writer sums
  // equal rows, so a row inserted by one epoch and deleted by the next
  // never reaches the table.
  std::map<std::int64_t, TableDelta> deltas;
  std::map<std::int64_t, bool> frontier_only;
  Lsn lsn;
  std::optional<std::chrono::system_clock::time_point> commit_time;
  bool confirm = false;
  std::size_t rows = 0;
  for (ApplyWork& epoch : epochs) {
    lsn = std::max(lsn, epoch.lsn);
    if (epoch.commit_time) commit_time = epoch.commit_time;
    confirm = confirm || epoch.confirm;
    for (TableDelta& delta : epoch.deltas) {
      rows += delta.rows.size();
      auto [it, inserted] = deltas.try_emplace(delta.pgs_id);
      if (inserted) {
        it->second = std::move(delta);
      } else {
        it->second.target = delta.target;
        it->second.rows.insert(it->second.rows.end(), std::make_move_iterator(delta.rows.begin()),
                               std::make_move_iterator(delta.rows.end()));
      }
    }
    for (const std::int64_t id : epoch.frontier_only) frontier_only[id] = true;
  }
  const writer::Frontier frontier{lsn, commit_time};
  std::vector<std::function<void(PgConnection&)>> jobs;
  std::vector<std::int64_t> job_tables;
  // One report per MERGE job, written by that job only (a retry overwrites it).
  std::vector<AppliedTable> reports(deltas.size());
  jobs.reserve(deltas.size() + 1);
  job_tables.reserve(deltas.size() + 1);
  for (auto& [id, delta] : deltas) {
    frontier_only.erase(id);
    const TableDelta* table = &delta;
    AppliedTable* report = &reports[jobs.size()];
    report->pgs_id = id;
    report->merged = true;
    report->data_timestamp = commit_time;
    jobs.emplace_back([table, frontier, report](PgConnection& connection) {
      const auto started = std::chrono::steady_clock::now();
      report->stats = writer::apply_delta(connection, *table->target, table->rows, frontier,
                                          writer::Action::Differential);
      report->seconds = seconds_since(started);
    });
    job_tables.push_back(id);
  }
  std::vector<std::pair<std::int64_t, writer::Frontier>> frontiers;
  frontiers.reserve(frontier_only.size());
  for (const auto& [id, unused] : frontier_only) frontiers.emplace_back(id, frontier);
  if (!frontiers.empty()) {
    const std::string schema = catalog_schema_;
    jobs.emplace_back([&frontiers, schema](PgConnection& connection) {
      writer::advance_frontiers(connection, schema, frontiers);
    });
    job_tables.push_back(0);
  }
  const auto started = std::chrono::steady_clock::now();
  const std::size_t job_count = jobs.size();
  const auto results = pool_.run(std::move(jobs));
  spdlog::debug(
      "applied {} epoch(s) up to {}: {} delta rows, {} transaction(s) in {:.2f} ms", epochs.size(),
      lsn.to_string(), rows, job_count,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  bool stopped = false;
  {
    std::lock_guard lock(mutex_);
    stopped = stopping_;
  }
  for (std::size_t i = 0; i < results.size() && i < job_tables.size(); ++i) {
    // A job the stop cut short (cancelled, or its retries ended) is not the
    // table's failure: the next start reconciles it.
    if (results[i] && stopped) continue;
    if (!results[i]) {
      if (!observer_) continue;
      if (job_tables[i] != 0) {
        observer_(reports[i]);
      } else {
        for (const auto& [id, unused] : frontiers) {
          AppliedTable report;
          report.pgs_id = id;
          report.data_timestamp = commit_time;
          observer_(report);
        }
      }
      continue;
    }
    if (job_tables[i] != 0) {
      on_failure_(job_tables[i], *results[i]);
    } else {
      for (const auto& [id, unused] : frontiers) on_failure_(id, *results[i]);
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // the pool gave up: nothing may be confirmed
    stats_.epochs += epochs.size();
    stats_.transactions += results.size();
    stats_.rows += rows;
    stats_.applied = std::max(stats_.applied, lsn);
  }
  if (confirm && lsn.is_valid()) confirm_(lsn);
}

void Applier::apply_reconcile(ApplyWork& work) {
  std::vector<std::function<void(PgConnection&)>> jobs;
  const writer::Frontier frontier{work.lsn, work.commit_time};
  std::vector<AppliedTable> reports(work.deltas.size());
  jobs.reserve(work.deltas.size());
  for (const TableDelta& table : work.deltas) {
    const TableDelta* delta = &table;
    const writer::Action action = work.action;
    AppliedTable* report = &reports[jobs.size()];
    report->pgs_id = delta->pgs_id;
    report->merged = true;
    report->reconciled = true;
    report->data_timestamp = work.commit_time;
    for (const writer::DeltaRow& row : delta->rows) report->result_rows += row.weight;
    jobs.emplace_back([delta, frontier, action, report](PgConnection& connection) {
      const auto started = std::chrono::steady_clock::now();
      writer::create_target(connection, *delta->target);
      report->stats = writer::reconcile(connection, *delta->target, delta->rows, frontier, action);
      report->seconds = seconds_since(started);
    });
  }
  const auto results = pool_.run(std::move(jobs));
  const Error* failure = nullptr;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i]) {
      failure = &*results[i];
    } else if (observer_ && i < reports.size()) {
      observer_(reports[i]);
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stats_.transactions += results.size();
  }
  if (work.done) work.done(failure);
}

}  // namespace pgstream::daemon
