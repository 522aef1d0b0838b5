// WriterPool: `size` connections applying independent targets in parallel.
//
// Contract:
// - Each worker is a std::thread owning one connection, opened lazily and
//   prepared with prepare_session(). run() hands each job to some worker and
//   blocks until every job of that call has finished; it may be called from
//   several threads at once. A job must be one transaction (apply_delta,
//   reconcile, advance_frontiers are) and leave the connection idle.
// - A job that throws is rolled back (ROLLBACK if the connection is still in
//   a transaction). If classify() says Retry (connection loss, serialization
//   failure, deadlock, admin shutdown, ...), the job is retried on a fresh
//   connection if the old one is gone, after an exponential backoff with
//   jitter (initial_backoff doubling up to max_backoff), until it succeeds or
//   stop() is called. Any other error is returned for that job only, so that
//   the caller puts only that stream table into ERROR. Exceptions that are not
//   pgstream::Error are returned as Error{Internal}.
// - stop() is thread-safe and idempotent: retries and jobs not yet started
//   end with an error, and the statements of jobs in flight are cancelled
//   (PQcancel), so that a job waiting on a lock ends too; cancel_running()
//   cancels them again (a job may have been between two statements). The
//   destructor stops, cancels until every job has ended, and joins.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/common/pg.hpp"

namespace pgstream::writer {

struct WriterPoolOptions {
  std::string conninfo;
  int size = 2;  // connections (and threads), >= 1
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // Called on a worker thread before each retry's backoff, with the error.
  std::function<void(const Error&)> on_retry;
};

class WriterPool {
 public:
  using Job = std::function<void(PgConnection&)>;
  // nullopt: the job succeeded (perhaps after retries); else its final error.
  using Outcome = std::optional<Error>;

  // Starts the workers; connections open on first use. Throws Error{Usage}
  // if size < 1.
  explicit WriterPool(WriterPoolOptions options);
  WriterPool(const WriterPool&) = delete;
  WriterPool& operator=(const WriterPool&) = delete;
  ~WriterPool();

  // Runs every job, in parallel across the connections; one outcome per job,
  // in the order of `jobs`.
  [[nodiscard]] std::vector<Outcome> run(std::vector<Job> jobs);

  void stop() noexcept;
  // Cancels the statement each job in flight runs (nothing if none).
  void cancel_running() noexcept;
  // Jobs running on a connection right now.
  [[nodiscard]] int running() const noexcept;

  [[nodiscard]] int size() const noexcept { return static_cast<int>(workers_.size()); }
  // Counters since construction: attempts that were retried, connections opened.
  [[nodiscard]] std::uint64_t retries() const noexcept { return retries_.load(); }
  [[nodiscard]] std::uint64_t connects() const noexcept { return connects_.load(); }
  // Connections dropped after a failure (each is opened again by the next attempt or job).
  [[nodiscard]] std::uint64_t reconnects() const noexcept { return reconnects_.load(); }

 private:
  struct Batch;
  struct Task {
    Batch* batch;
    std::size_t index;
  };

  class Running;  // a job's cancel handle, registered while the job runs

  void work(std::size_t worker, unsigned seed);
  Outcome run_with_retries(std::size_t worker, std::unique_ptr<PgConnection>& connection, const Job& job,
                           std::minstd_rand& rng);
  void finish(const Task& task, Outcome outcome);

  WriterPoolOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;  // workers: a task or stop; batches: a task finished
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  // One slot per worker: the cancel handle of its job in flight, or null.
  mutable std::mutex cancel_mutex_;
  std::vector<PGcancel*> cancels_;
  std::vector<std::thread> workers_;
};

}  // namespace pgstream::writer
