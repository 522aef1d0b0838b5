#include "pgstream/writer/writer_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "pgstream/writer/target.hpp"

namespace pgstream::writer {

struct WriterPool::Batch {
  std::vector<Job> jobs;
  std::vector<Outcome> outcomes;
  std::size_t remaining = 0;
};

namespace {

// After a failed job: roll back what is left of its transaction, or drop a
// connection that is gone or cannot roll back.
void recover(std::unique_ptr<PgConnection>& connection) noexcept {
  if (!connection) return;
  PGconn* conn = connection->get();
  if (PQstatus(conn) != CONNECTION_OK) {
    connection.reset();
    return;
  }
  // A job that threw while COPY was in progress leaves results to drain.
  while (PgResult(PQgetResult(conn))) {
  }
  if (PQtransactionStatus(conn) == PQTRANS_IDLE) return;
  const PgResult rolled_back(PQexec(conn, "ROLLBACK"));
  if (!result_ok(rolled_back.get()) || PQtransactionStatus(conn) != PQTRANS_IDLE) connection.reset();
}

}  // namespace

// Registers the connection's cancel handle in the worker's slot for the
// length of one job attempt.
class WriterPool::Running {
 public:
  Running(WriterPool& pool, std::size_t worker, PGconn* conn) : pool_(pool), worker_(worker) {
    PGcancel* cancel = PQgetCancel(conn);
    const std::lock_guard lock(pool_.cancel_mutex_);
    pool_.cancels_[worker_] = cancel;
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
  ~Running() {
    PGcancel* cancel = nullptr;
    {
      const std::lock_guard lock(pool_.cancel_mutex_);
      std::swap(cancel, pool_.cancels_[worker_]);
    }
    if (cancel != nullptr) PQfreeCancel(cancel);
  }

 private:
  WriterPool& pool_;
  std::size_t worker_;
};

WriterPool::WriterPool(WriterPoolOptions options) : options_(std::move(options)) {
  if (options_.size < 1) throw Error(ErrorKind::Usage, "writer pool size must be at least 1");
  std::random_device seeds;
  const auto size = static_cast<std::size_t>(options_.size);
  cancels_.assign(size, nullptr);
  workers_.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    workers_.emplace_back([this, i, seed = seeds()] { work(i, seed); });
  }
}

WriterPool::~WriterPool() {
  stop();
  // A job between two statements missed the first cancel; its next
  // statement may wait on a lock again.
  while (running() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel_running();
  }
  for (auto& worker : workers_) worker.join();
}

void WriterPool::stop() noexcept {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  cancel_running();
}

void WriterPool::cancel_running() noexcept {
  const std::lock_guard lock(cancel_mutex_);
  for (PGcancel* cancel : cancels_) {
    if (cancel == nullptr) continue;
    char error[256];
    // Best effort: a failed request leaves the job to end on its own (a
    // server that is gone ends it anyway).
    (void)PQcancel(cancel, error, sizeof error);
  }
}

int WriterPool::running() const noexcept {
  const std::lock_guard lock(cancel_mutex_);
  return static_cast<int>(
      std::count_if(cancels_.begin(), cancels_.end(), [](PGcancel* c) { return c != nullptr; }));
}

std::vector<WriterPool::Outcome> WriterPool::run(std::vector<Job> jobs) {
  Batch batch;
  batch.jobs = std::move(jobs);
  batch.outcomes.resize(batch.jobs.size());
  batch.remaining = batch.jobs.size();
  {
    std::unique_lock lock(mutex_);
    if (stopping_) {  // the workers may be gone already
      for (auto& outcome : batch.outcomes)
        outcome = Error(ErrorKind::Connection, "the writer pool is stopped");
      return std::move(batch.outcomes);
    }
    for (std::size_t i = 0; i < batch.jobs.size(); ++i) queue_.push_back({&batch, i});
    wake_.notify_all();
    wake_.wait(lock, [&] { return batch.remaining == 0; });
  }
  return std::move(batch.outcomes);
}

void WriterPool::finish(const Task& task, Outcome outcome) {
  {
    const std::lock_guard lock(mutex_);
    task.batch->outcomes[task.index] = std::move(outcome);
    --task.batch->remaining;
  }
  wake_.notify_all();
}

void WriterPool::work(std::size_t worker, unsigned seed) {
  std::minstd_rand rng(seed);
  std::unique_ptr<PgConnection> connection;
  for (;;) {
    Task task{};
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      task = queue_.front();
      queue_.pop_front();
    }
    finish(task, run_with_retries(worker, connection, task.batch->jobs[task.index], rng));
  }
}

WriterPool::Outcome WriterPool::run_with_retries(std::size_t worker,
                                                 std::unique_ptr<PgConnection>& connection, const Job& job,
                                                 std::minstd_rand& rng) {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  for (;;) {
    std::optional<Error> failure;
    try {
      {
        const std::lock_guard lock(mutex_);
        if (stopping_)
          return Error(ErrorKind::Connection, "the writer pool stopped before the job succeeded");
      }
      if (!connection) {
        connection = std::make_unique<PgConnection>(options_.conninfo);
        ++connects_;
        prepare_session(*connection);
      }
      const Running running(*this, worker, connection->get());
      {
        // stop() may have cancelled just before this job registered.
        const std::lock_guard lock(mutex_);
        if (stopping_)
          return Error(ErrorKind::Connection, "the writer pool stopped before the job succeeded");
      }
      job(*connection);
      return std::nullopt;
    } catch (const Error& error) {
      failure = error;
    } catch (const std::exception& error) {
      failure = Error(ErrorKind::Internal, std::string("writer job failed: ") + error.what());
    }
    const bool had_connection = connection != nullptr;
    recover(connection);
    if (had_connection && !connection) ++reconnects_;  // reopened by the next attempt or job
    if (classify(*failure) != ErrorAction::Retry) return failure;

    // Exponential backoff with jitter: a delay in [backoff/2, backoff].
    std::uniform_int_distribution<std::int64_t> jitter(backoff.count() / 2, backoff.count());
    const std::chrono::milliseconds delay(jitter(rng));
    spdlog::warn("writer: {}; retrying in {} ms", failure->describe(), delay.count());
    ++retries_;
    if (options_.on_retry) options_.on_retry(*failure);
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, delay, [&] { return stopping_; })) return failure;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace pgstream::writer
