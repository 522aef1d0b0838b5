#include "pgstream/daemon/daemon.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <pthread.h>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <csignal>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pgstream/catalog/migrations.hpp"
#include "pgstream/catalog/store.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/common/pg.hpp"
#include "pgstream/daemon/applier.hpp"
#include "pgstream/daemon/background_load.hpp"
#include "pgstream/daemon/stream_table.hpp"
#include "pgstream/ops/http_server.hpp"
#include "pgstream/ops/metrics.hpp"
#include "pgstream/ops/systemd_notify.hpp"
#include "pgstream/replication/replication_connection.hpp"
#include "pgstream/replication/replication_stream.hpp"
#include "pgstream/sql/collation.hpp"
#include "pgstream/sql/compiler.hpp"
#include "pgstream/writer/apply.hpp"
#include "pgstream/writer/target.hpp"
#include "pgstream/writer/writer_pool.hpp"

namespace pgstream::daemon {

namespace {

using Clock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

constexpr auto kTick = std::chrono::milliseconds(250);
constexpr int kTicksPerStatus = 4;  // a standby status (and so a keepalive with wal_end) every second
constexpr auto kSourceCheckEvery = std::chrono::seconds(5);
// How long SIGTERM waits for the epoch in flight before it stops anyway (a
// second SIGTERM/SIGINT stops at once).
constexpr auto kStopDrainLimit = std::chrono::seconds(20);
constexpr auto kFrontierOnlyEvery = std::chrono::milliseconds(250);
constexpr auto kFrontierIdleEvery = std::chrono::milliseconds(250);
// The shortest time between two epochs handed to the writer (see flush_if_ready).
constexpr auto kMinEpochGap = std::chrono::milliseconds(5);
// A load still waiting for older transactions is reported after this, then
// every kLoadWaitReportEvery.
constexpr auto kLoadWaitReportAfter = std::chrono::seconds(5);
constexpr auto kLoadWaitReportEvery = std::chrono::seconds(60);
// Loads in a row that may start over at once when a source was rewritten
// (TRUNCATE) between their snapshot and their read of it.
constexpr int kRewrittenLoads = 10;
// A FULL table without a schedule recomputes when its sources changed, at
// most this often.
constexpr auto kFullRefreshEvery = std::chrono::seconds(1);
// Operations: the watch loop (heartbeat, watchdog, gauges) turns this often;
// /healthz fails once the loop has not turned for kLivenessTimeout (loading
// a snapshot beats too); /readyz wants a catalog interaction that succeeded
// within kCatalogFresh.
constexpr auto kWatchEvery = std::chrono::milliseconds(500);
constexpr auto kLivenessTimeout = std::chrono::seconds(15);
constexpr auto kCatalogFresh = std::chrono::seconds(5);
// Snapshot rows between two heartbeats while loading.
constexpr std::uint64_t kRowsPerBeat = 4096;

double seconds_between(SystemClock::time_point from, SystemClock::time_point to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

enum class TableState { Active, Loading, Suspended, Error };

std::string key_of(const QualifiedName& name) { return name.schema + "." + name.name; }

struct Table {
  std::unique_ptr<StreamTable> runtime;
  std::int64_t pgs_id = 0;
  TableState state = TableState::Error;
  std::shared_ptr<const writer::TargetSpec> target;
  SystemClock::time_point next_beat{};
  std::string last_error;
  std::optional<Error> last_failure;  // the error itself (SQLSTATE, hint) for the SQL API's answer
  bool transient_error = false;
  Clock::time_point retry_at{};
  int failures = 0;

  [[nodiscard]] const StreamTableDefinition& definition() const { return runtime->definition(); }
  [[nodiscard]] bool continuous() const {
    return runtime->differential() && definition().schedule.kind() == Schedule::Kind::Continuous;
  }
  [[nodiscard]] bool fed() const { return state == TableState::Active && runtime->differential(); }
  // FULL: a source changed after the snapshot of its last refresh.
  bool dirty = false;
  // FULL: every source is published, so `dirty` is known.
  bool tracked = false;
  // FULL tables whose sources are tracked are current while not dirty.
  [[nodiscard]] bool full_and_current() const {
    return state == TableState::Active && !runtime->differential() && tracked && !dirty;
  }
  // A load on a thread of its own (BackgroundLoad): its ticket, the
  // relations it reads, and the stream's transactions on them that arrive
  // meanwhile (fed once it ends, from its consistent point on). `runtime`
  // is a placeholder until then.
  std::uint64_t load_ticket = 0;
  int rewritten_loads = 0;  // loads in a row that found a source rewritten after their snapshot
  std::vector<std::uint32_t> loading_relations;
  std::vector<std::shared_ptr<const replication::ChangeBatch>> held;
  [[nodiscard]] bool loading() const { return load_ticket != 0; }
  // Chains: the oid of its target (what a downstream's query reads), the
  // stream tables it reads in memory (DIFFERENTIAL; kept while in ERROR, so
  // that it follows them when they come back), and the upstream that put it
  // in ERROR (it is reloaded with that upstream's chain).
  std::uint32_t target_oid = 0;
  std::vector<std::string> upstreams;
  std::string blocked_by;
  bool created_target = false;  // its last build created the target (not kept an existing one)
  [[nodiscard]] bool reads(const std::string& key) const {
    return std::find(upstreams.begin(), upstreams.end(), key) != upstreams.end();
  }
};

class Daemon {
 public:
  Daemon(std::filesystem::path config_path, Config config)
      : config_path_(std::move(config_path)),
        config_(std::move(config)),
        tick_(io_),
        epoch_timer_(io_),
        watch_(io_),
        ready_max_lag_ms_(config_.metrics.ready_max_lag.count()) {}
  // run() stops both on its way out; this covers an exception escaping it
  // (no thread may outlive the members it reads).
  ~Daemon() {
    stop_listener();
    if (applier_) applier_->stop();
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int run();

 private:
  // Lifecycle.
  void start();
  void start_pipeline();
  void stop_pipeline();
  void restart_pipeline(const std::string& why);
  void shutdown();
  void on_signal(int signal);
  void reload();
  void arm_tick();
  void on_tick();

  // Connections.
  PgConnection& control();
  void reset_control() noexcept {
    control_lost_ = control_lost_ || control_ != nullptr;
    control_.reset();
  }
  std::string dsn() const { return config_.postgres.dsn; }
  const std::string& schema() const { return config_.postgres.catalog_schema; }

  // Tables.
  std::vector<StreamTableDefinition> wanted_definitions();
  Table& add_table(const StreamTableDefinition& definition);
  // Builds the runtime; with `create_target`, the target too (a downstream's
  // query reads it). Failures go to fail_table(), or into `deferred` (the
  // caller retries once other tables were built: an upstream's target).
  bool build_table(Table& table, bool create_target = true, std::optional<Error>* deferred = nullptr);
  // Chains (docs/ARCHITECTURE.md): the tables that load together with
  // `table` (the connected stream tables that read each other in memory),
  // upstream first; links built tables to their upstreams and orders them
  // (those that cannot be linked, or read each other in a cycle, go to ERROR).
  std::vector<Table*> chain_group(Table& table);
  std::vector<Table*> link_group(const std::vector<Table*>& tables);
  // The stream table, not built, whose missing target `error` (42P01 from
  // a query's compile) names; null if none.
  [[nodiscard]] const Table* unbuilt_stream_table(const Error& error) const;
  // Puts the DIFFERENTIAL tables reading `upstream` in ERROR (`why` says
  // what happened to it); they are reloaded with it once it is ACTIVE.
  void block_downstreams(const Table& upstream, const std::string& why);
  void block(Table& table, const Table& upstream, const std::string& why);
  // Links one chained source of `table` to `upstream` (null: none found),
  // which is `loading` with it; throws what stops it.
  void link_source(Table& table, const sql::SourceRelation& relation, Table* upstream, bool loading);
  // Hands the upstream's delta of the step just run to its downstreams.
  void forward(Table& upstream);
  std::vector<writer::DeltaRow> step_table(Table& table);
  void publish(const std::vector<Table*>& tables);
  void load_from_snapshot(const std::vector<Table*>& tables, replication::SnapshotReader& reader,
                          Lsn consistent, const std::function<void(Table&, const Error*)>& done = {});
  void load_now(Table& table, const std::function<void(Table&, const Error*)>& done = {});
  // Builds `group` (a chain, or one table; `fresh` is built already) anew
  // and loads it in the background.
  void load_group(std::vector<Table*> group, const std::function<void(Table&, const Error*)>& answer,
                  const Table* fresh = nullptr);
  void start_load(const std::vector<Table*>& group, std::function<void(Table&, const Error*)> done);
  void end_load(std::uint64_t ticket, LoadOutcome outcome);
  // The tables of a load, still with it, upstream first (empty if any left it).
  std::vector<Table*> load_members(std::uint64_t ticket, const std::vector<std::int64_t>& pgs_ids);
  // Gives up the load `table` is in. The other tables of that load go to
  // `others` when given (the caller loads them again), else to ERROR as
  // transient (retried with their chain).
  void abandon_load(Table& table, std::vector<Table*>* others = nullptr);
  static std::vector<std::shared_ptr<const replication::ChangeBatch>> stop_loading(Table& table);
  void hold(const replication::ChangeBatch& batch, std::uint32_t relation,
            std::shared_ptr<const replication::ChangeBatch>& copy);
  void feed_held(Table& table, Lsn consistent,
                 const std::vector<std::shared_ptr<const replication::ChangeBatch>>& held);
  void submit_loaded(Table& table, Lsn frontier, std::vector<writer::DeltaRow> contents,
                     const std::function<void(Table&, const Error*)>& done);
  void drop_table(const std::string& key, bool drop_target);
  void fail_table(Table& table, const Error& error, bool transient = false);
  // Starts feeding a loaded table; false (and the table in ERROR) if its
  // sources no longer match its query.
  bool activate(Table& table);
  void record_definition(Table& table);
  void index_tables();
  void check_sources();
  void retry_failed_tables();
  // Names the sessions whose transactions keep a load's snapshot waiting.
  void report_waiting_loads();
  struct PendingLoad;
  void report_waiting_load(const PendingLoad& pending);
  void run_beats();

  // Stream.
  void on_batch(const replication::ChangeBatch& batch);
  void on_idle(Lsn wal_end);
  void on_message(const replication::ChangeBatch& batch, const replication::Change& change);
  void flush_epoch();
  void flush_if_ready();
  void arm_epoch_timer(Clock::duration after);
  void step_into(Table& table, ApplyWork& work);
  // To the applier; while backpressure holds this thread, it still beats.
  void submit(ApplyWork work) {
    if (work.kind == ApplyWork::Kind::Epoch && epoch_barrier_) {
      work.barrier = true;
      epoch_barrier_ = false;
    }
    applier_->submit(std::move(work), [this] {
      beat();
      update_gauges();
    });
  }
  void submit_frontiers(Lsn lsn, bool force);
  void handle_request(const catalog::Request& request);
  void authorize(const catalog::Request& request, const QualifiedName& name);

  // Operations (docs/METRICS.md): the HTTP listener runs on a thread of its
  // own, so that /healthz answers while this thread loads a snapshot; the
  // probes read only what the watch loop and the handlers below recorded.
  void start_listener();
  void stop_listener();
  void arm_watch();
  void on_watch();
  void beat();  // this thread turns: heartbeat, and WATCHDOG=1 when due
  void update_gauges();
  [[nodiscard]] ops::ProbeResult liveness() const;
  [[nodiscard]] ops::ProbeResult readiness() const;
  void observe_applied(const AppliedTable& applied);
  void track_table(const Table& table);
  void forget_untracked_tables();
  void count_error(const Error& error) { metrics_.errors(to_string(error.kind())).Increment(); }
  void set_phase(const std::string& phase);
  void catalog_succeeded();
  void catalog_failed(const Error& error);
  void set_connected(bool connected);

  std::filesystem::path config_path_;
  Config config_;
  boost::asio::io_context io_;
  std::atomic<bool> stop_requested_{false};  // SIGTERM/SIGINT arrived (set by the signal thread)
  std::atomic<bool> exiting_{false};
  std::atomic<bool> force_stop_{false};  // a second SIGTERM/SIGINT: do not wait for the epoch
  boost::asio::steady_timer tick_;
  boost::asio::steady_timer epoch_timer_;
  bool stopping_ = false;
  int exit_code_ = 0;

  std::unique_ptr<PgConnection> control_;
  std::unique_ptr<PgConnection> evaluation_;
  std::mutex evaluation_mutex_;  // evaluation_ is shared with background loads (outlives loads_)
  std::shared_ptr<const engine::Collation> collation_;
  std::shared_ptr<const replication::TypeMap> types_;
  std::unique_ptr<writer::WriterPool> pool_;
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<replication::ReplicationStream> stream_;
  bool pipeline_up_ = false;

  std::map<std::string, Table> tables_;
  std::vector<Table*> order_;  // every table, the upstreams of a chain first (index_tables)
  std::multimap<std::uint32_t, Table*> by_relation_;
  std::multimap<std::uint32_t, Table*> loading_by_relation_;  // tables loading in the background
  // Background loads by ticket, with what to call when each ends.
  struct PendingLoad {
    std::vector<std::int64_t> pgs_ids;  // upstream first
    std::function<void(Table&, const Error*)> done;
    std::unique_ptr<BackgroundLoad> load;
    std::string slot;             // its temporary slot
    std::string names;            // its tables, for messages
    Clock::time_point report_at;  // when to say what it waits for, if it still waits
  };
  std::map<std::uint64_t, PendingLoad> loads_;
  std::vector<std::pair<std::uint64_t, LoadOutcome>> deferred_ends_;  // ended in a transaction
  bool epoch_barrier_ = false;  // the next epoch is not merged with earlier ones (ApplyWork::barrier)
  std::multimap<std::uint32_t, Table*> full_by_relation_;  // FULL tables, to know when they are stale
  std::map<std::int64_t, std::string> by_id_;

  // The epoch being assembled.
  Lsn epoch_lsn_;
  std::optional<SystemClock::time_point> epoch_commit_time_;
  std::int64_t epoch_rows_ = 0;
  bool epoch_open_ = false;      // whole transactions are waiting in the dataflows
  bool in_transaction_ = false;  // parts of an unfinished transaction were fed
  bool epoch_timer_armed_ = false;
  bool skipping_ = false;
  bool flush_posted_ = false;          // a flush_if_ready() is queued on the io_context
  Clock::time_point epoch_started_{};  // when the open epoch's first transaction was fed
  Clock::time_point last_flush_{};     // when the last epoch went to the applier
  Lsn fed_lsn_;                        // end of the last transaction fed (a reconnect may resend it)
  Lsn submitted_lsn_;                  // the last LSN handed to the applier
  Lsn idle_lsn_;                       // the last keepalive's wal_end with no transaction open
  Clock::time_point last_frontier_only_{};
  Clock::time_point last_source_check_{};
  std::uint64_t load_counter_ = 0;
  std::uint64_t ticks_ = 0;
  int restart_failures_ = 0;

  // Operations.
  ops::Metrics metrics_;
  ops::SystemdNotifier notifier_;
  boost::asio::io_context http_io_;
  std::unique_ptr<ops::HttpServer> http_;
  std::thread http_thread_;
  boost::asio::steady_timer watch_;
  std::atomic<std::int64_t> heartbeat_{0};  // steady_clock ticks of this thread's last turn
  std::atomic<std::int64_t> ready_max_lag_ms_;
  Clock::time_point last_watchdog_{};
  std::uint64_t rows_loaded_ = 0;
  bool ready_sent_ = false;
  // Readiness, written here and read by the probe on the HTTP thread.
  struct Health {
    bool loaded = false;     // the start's snapshot is loaded and applied
    bool connected = false;  // the replication connection streams
    Clock::time_point catalog_ok{};
    Clock::time_point catalog_failed{};
    std::string catalog_error;
    double lag_seconds = 0;
    std::string phase = "starting";
  };
  mutable std::mutex health_mutex_;
  Health health_;
  // Reconciles of the start's snapshot not yet applied; a generation tells
  // a callback of an earlier pipeline from one of this pipeline.
  std::size_t start_loads_pending_ = 0;
  std::uint64_t generation_ = 0;
  // Per-table series, by pgs_id: written on this thread (add, drop) and on
  // the applier thread (observe_applied).
  struct TableSeries {
    std::string key;
    ops::TableMetrics metrics;
    std::optional<SystemClock::time_point> data_timestamp;  // at the frontier
  };
  std::mutex series_mutex_;
  std::map<std::int64_t, TableSeries> series_;
  // Epochs handed to the applier: (end LSN, commit time of their first
  // transaction), for the replication lag in seconds.
  std::deque<std::pair<Lsn, SystemClock::time_point>> epochs_in_flight_;
  std::optional<SystemClock::time_point> epoch_first_commit_;
  std::size_t epoch_changes_ = 0;  // row changes fed into the open epoch, every part
  // Counters of the current stream and pool, to export their increments.
  std::uint64_t seen_bytes_received_ = 0;
  std::uint64_t seen_spilled_bytes_ = 0;
  std::uint64_t seen_writer_reconnects_ = 0;
  std::uint64_t stream_connects_ = 0;
  bool control_lost_ = false;  // the catalog connection failed: its next connect is a reconnect
};

PgConnection& Daemon::control() {
  if (!control_) {
    control_ = std::make_unique<PgConnection>(dsn());
    control_->exec("SET application_name = 'pgstream control'");
    if (control_lost_) metrics_.reconnects("catalog").Increment();
    control_lost_ = false;
  }
  return *control_;
}

// ---------------------------------------------------------------- lifecycle

// Signals are taken by a thread of their own (sigwait; every other thread
// blocks them), which raises stop_requested_ at once: the replication
// thread stops feeding in the middle of a backlog instead of finishing it.
int Daemon::run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts: they inherit it
  beat();
  try {
    start_listener();  // first: /healthz answers while the snapshot loads
  } catch (const Error& error) {
    spdlog::error("cannot start: {}", error.describe());
    notifier_.status("cannot start: " + error.message());
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    return exit_code(error.kind());
  }
  set_phase("starting: connecting to PostgreSQL");
  std::thread signal_thread([this, signals] {
    bool stopping = false;
    for (;;) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (exiting_.load()) return;
      if (signal == SIGHUP) {
        if (!stopping) boost::asio::post(io_, [this] { on_signal(SIGHUP); });
        continue;
      }
      if (stopping) {
        // The second one: the operator will not wait for the epoch (the
        // server may be gone and the writers retrying).
        force_stop_.store(true);
        continue;
      }
      stopping = true;
      stop_requested_.store(true);
      notifier_.stopping("stopping: applying the epoch in flight");
      boost::asio::post(io_, [this, signal] { on_signal(signal); });
    }
  });
  boost::asio::post(io_, [this] { start(); });
  arm_watch();
  io_.run();
  exiting_.store(true);
  pthread_kill(signal_thread.native_handle(), SIGHUP);  // wakes the signal thread to end
  signal_thread.join();
  stop_listener();
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  return exit_code_;
}

void Daemon::on_signal(int signal) {
  if (signal == SIGHUP) {
    spdlog::info("SIGHUP: reloading {}", config_path_.string());
    if (ready_sent_) notifier_.reloading("reloading " + config_path_.string());
    reload();
    ready_max_lag_ms_.store(config_.metrics.ready_max_lag.count());
    if (ready_sent_) notifier_.ready("streaming: " + std::to_string(tables_.size()) + " stream table(s)");
    return;
  }
  spdlog::info("{}: finishing the epoch in flight, then stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
  shutdown();
}

void Daemon::start() {
  if (stopping_) return;
  try {
    start_pipeline();
    restart_failures_ = 0;
  } catch (const Error& error) {
    const ErrorAction action = classify(error);
    count_error(error);
    if (error.kind() == ErrorKind::Connection || action == ErrorAction::Retry) catalog_failed(error);
    stop_pipeline();
    if (action != ErrorAction::Retry && restart_failures_ == 0 &&
        (error.kind() == ErrorKind::Config || error.kind() == ErrorKind::Usage)) {
      spdlog::error("cannot start: {}", error.describe());
      notifier_.status("cannot start: " + error.message());
      exit_code_ = exit_code(error.kind());
      shutdown();
      return;
    }
    ++restart_failures_;
    const auto delay =
        std::chrono::milliseconds(std::min(30'000, 250 * (1 << std::min(restart_failures_, 7))));
    spdlog::warn("starting failed ({}); retrying in {} ms", error.describe(), delay.count());
    set_phase("starting failed, retrying in " + std::to_string(delay.count()) + " ms: " + error.message());
    tick_.expires_after(delay);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) start();
    });
  }
}

void Daemon::start_pipeline() {
  ++generation_;
  start_loads_pending_ = 0;
  epochs_in_flight_.clear();
  epoch_first_commit_.reset();
  epoch_changes_ = 0;
  seen_bytes_received_ = 0;
  seen_spilled_bytes_ = 0;
  seen_writer_reconnects_ = 0;
  stream_connects_ = 0;
  reset_control();
  control_lost_ = false;
  set_phase("starting: migrating the catalog");
  PgConnection& conn = control();
  const int before = catalog::migrate(conn, schema());
  if (before != catalog::kCatalogVersion) {
    spdlog::info("catalog schema {} migrated from version {} to {}", schema(), before,
                 catalog::kCatalogVersion);
  }
  evaluation_ = std::make_unique<PgConnection>(dsn());
  evaluation_->exec("SET application_name = 'pgstream evaluation'");
  writer::prepare_session(*evaluation_);
  types_ = std::make_shared<replication::TypeMap>(replication::TypeMap::load(conn));
  try {
    collation_ = sql::database_collation(conn);
  } catch (const Error& error) {
    spdlog::warn("the database's collation cannot be reproduced here ({}); text ordering will be rejected",
                 error.message());
    collation_.reset();
  }
  writer::WriterPoolOptions pool_options;
  pool_options.conninfo = dsn();
  pool_options.size = config_.writer.pool_size;
  pool_options.on_retry = [this](const Error& error) {
    // The server is shutting down, or the writers lost it: a fast shutdown
    // waits for our walsender until we confirm what it sent, which we cannot
    // while it refuses the writes. Let the walsender go; the stream
    // reconnects and resends what was not confirmed (skipped as fed).
    const std::string& state = error.sqlstate();
    const bool going = state == "57P01" || state == "57P02" || state == "57P03" ||
                       (state.empty() && error.kind() == ErrorKind::Connection);
    if (!going) return;
    boost::asio::post(io_, [this, error] {
      if (stream_) stream_->interrupt(error);
    });
  };
  pool_ = std::make_unique<writer::WriterPool>(pool_options);
  applier_ = std::make_unique<Applier>(
      *pool_, schema(),
      [this](Lsn lsn) {
        if (stream_) stream_->confirm(lsn);
      },
      [this](std::int64_t pgs_id, const Error& error) {
        boost::asio::post(io_, [this, pgs_id, error] {
          auto it = by_id_.find(pgs_id);
          if (it == by_id_.end()) return;
          auto table = tables_.find(it->second);
          if (table != tables_.end()) fail_table(table->second, error);
        });
      },
      [this] { boost::asio::post(io_, [this] { flush_if_ready(); }); },
      static_cast<std::size_t>(config_.writer.max_batch_rows), std::size_t{8},
      [this](const AppliedTable& applied) { observe_applied(applied); });

  // Every wanted table, built; the catalog records them all. A table whose
  // query reads another stream table's target is built after it (on a fresh
  // start the target does not exist before its table is built): what failed
  // is tried again while another table got built.
  tables_.clear();
  order_.clear();
  std::vector<Table*> loadable;
  std::vector<std::pair<Table*, std::optional<Error>>> waiting;
  for (const StreamTableDefinition& definition : wanted_definitions()) {
    waiting.emplace_back(&add_table(definition), std::nullopt);
  }
  for (bool progress = true; progress && !waiting.empty();) {
    progress = false;
    std::vector<std::pair<Table*, std::optional<Error>>> still;
    for (auto& [table, failure] : waiting) {
      failure.reset();
      if (build_table(*table, true, &failure)) {
        loadable.push_back(table);
        progress = true;
      } else {
        still.emplace_back(table, std::move(failure));
      }
    }
    waiting = std::move(still);
  }
  for (auto& [table, failure] : waiting) {
    if (!failure) continue;
    // Its query reads the target of a stream table that failed before
    // creating it: it waits for that one, and comes back with it.
    if (const Table* upstream = unbuilt_stream_table(*failure); upstream != nullptr && upstream != table) {
      block(*table, *upstream, "is in ERROR");
    } else {
      fail_table(*table, *failure);
    }
  }
  forget_untracked_tables();
  loadable = link_group(loadable);
  publish(loadable);

  // One snapshot for all: the slot's consistent point is where the stream starts.
  replication::ReplicationConnection slot_connection(dsn());
  if (slot_connection.find_slot(config_.postgres.slot)) {
    spdlog::info("dropping slot {} to start from a new snapshot", config_.postgres.slot);
    slot_connection.drop_slot(config_.postgres.slot);
  }
  const replication::CreatedSlot slot =
      slot_connection.create_slot(config_.postgres.slot, replication::SlotLifetime::Permanent);
  spdlog::info("slot {} created at {}", slot.slot_name, slot.consistent_point.to_string());
  catalog_succeeded();
  set_phase("loading " + std::to_string(loadable.size()) + " stream table(s) from a snapshot");
  {
    replication::SnapshotReader reader(dsn(), slot.snapshot_name);
    load_from_snapshot(loadable, reader, slot.consistent_point);
    reader.finish();
  }
  fed_lsn_ = slot.consistent_point;
  idle_lsn_ = slot.consistent_point;
  submitted_lsn_ = slot.consistent_point;
  index_tables();

  replication::StreamOptions options;
  options.conninfo = dsn();
  options.slot = config_.postgres.slot;
  options.publications = {config_.postgres.publication};
  options.start_lsn = slot.consistent_point;
  replication::StreamHandler handler;
  handler.on_batch = [this](const replication::ChangeBatch& batch) { on_batch(batch); };
  handler.on_idle = [this](Lsn wal_end) { on_idle(wal_end); };
  handler.on_reset = [this] {
    boost::asio::post(io_, [this] { restart_pipeline("a transaction was cut off by a reconnect"); });
  };
  handler.on_disconnect = [this](const Error& error) {
    spdlog::warn("replication connection lost ({}); reconnecting", error.message());
    count_error(error);
    set_connected(false);
    set_phase("replication connection lost, reconnecting: " + error.message());
    if (!in_transaction_) flush_epoch();
  };
  handler.on_error = [this](const Error& error) {
    spdlog::error("replication stopped: {}", error.describe());
    count_error(error);
    set_connected(false);
    boost::asio::post(io_, [this] { restart_pipeline("the replication stream stopped"); });
  };
  handler.on_connected = [this](Lsn lsn) {
    spdlog::info("streaming from {}", lsn.to_string());
    if (++stream_connects_ > 1) metrics_.reconnects("replication").Increment();
    set_connected(true);
  };
  stream_ = std::make_unique<replication::ReplicationStream>(io_, options, handler);
  stream_->start();
  pipeline_up_ = true;
  set_phase("catching up: applying the snapshot and streaming");
  arm_tick();
  spdlog::info("pgstream is running: {} stream table(s)", tables_.size());
}

void Daemon::stop_pipeline() {
  pipeline_up_ = false;
  set_connected(false);
  {
    std::lock_guard lock(health_mutex_);
    health_.loaded = false;
  }
  epoch_timer_.cancel();
  epoch_timer_armed_ = false;
  if (stream_) stream_->stop();
  if (applier_) applier_->stop();
  for (auto& [ticket, pending] : loads_) {
    if (pending.load) pending.load->cancel();
  }
  loads_.clear();  // joins the loads' threads
  deferred_ends_.clear();
  loading_by_relation_.clear();
  stream_.reset();
  applier_.reset();
  pool_.reset();
  order_.clear();
  tables_.clear();
  by_relation_.clear();
  by_id_.clear();
  epoch_open_ = false;
  in_transaction_ = false;
  epoch_rows_ = 0;
}

void Daemon::restart_pipeline(const std::string& why) {
  if (stopping_) return;
  spdlog::warn("rebuilding every stream table from a new snapshot: {}", why);
  set_phase("rebuilding every stream table from a new snapshot: " + why);
  if (applier_ && !in_transaction_) {
    flush_epoch();
    applier_->drain();
  }
  stop_pipeline();
  start();
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  set_phase("stopping: applying the epoch in flight");
  tick_.cancel();
  watch_.cancel();
  if (pipeline_up_ && applier_) {
    if (!in_transaction_) flush_epoch();
    const auto deadline = Clock::now() + kStopDrainLimit;
    bool drained = false;
    while (!(drained = applier_->drain_for(std::chrono::milliseconds(100)))) {
      if (force_stop_.load() || Clock::now() >= deadline) break;
    }
    if (drained) {
      if (stream_) spdlog::info("stopped at {}", stream_->confirmed().to_string());
    } else {
      // The writers keep retrying (the server is gone?) or wait on a lock:
      // stop anyway, cancelling their statements. What was not applied was
      // not confirmed either; the next start reconciles.
      spdlog::warn(
          "stopping without the epoch in flight: {} (is the server reachable, is a target locked?); "
          "nothing unapplied was confirmed, and the next start reconciles every target",
          force_stop_.load()
              ? std::string("a second signal asked not to wait")
              : "it was not applied within " +
                    std::to_string(
                        std::chrono::duration_cast<std::chrono::seconds>(kStopDrainLimit).count()) +
                    " s");
    }
  }
  stop_pipeline();
  io_.stop();
}

void Daemon::arm_tick() {
  tick_.expires_after(kTick);
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_tick();
  });
}

void Daemon::on_tick() {
  if (stopping_ || !pipeline_up_) return;
  try {
    // SQL API requests are WAL the server may not flush on its own.
    catalog::nudge_wal_flush(control());
    catalog_succeeded();
    if (++ticks_ % kTicksPerStatus != 0) {
      arm_tick();
      return;
    }
    if (stream_) stream_->send_status_now();  // the keepalive that answers carries wal_end (on_idle)
    if (!in_transaction_ && !epoch_open_ && idle_lsn_ > submitted_lsn_) submit_frontiers(idle_lsn_, false);
    run_beats();
    retry_failed_tables();
    report_waiting_loads();
    if (Clock::now() - last_source_check_ >= kSourceCheckEvery) {
      last_source_check_ = Clock::now();
      check_sources();
    }
  } catch (const Error& error) {
    if (classify(error) == ErrorAction::Retry) reset_control();
    spdlog::warn("periodic work failed: {}", error.describe());
    count_error(error);
    catalog_failed(error);
  }
  arm_tick();
}

// ---------------------------------------------------------------- operations

void Daemon::start_listener() {
  ops::HttpHandlers handlers;
  handlers.metrics = [this] { return metrics_.serialize(); };
  handlers.liveness = [this] { return liveness(); };
  handlers.readiness = [this] { return readiness(); };
  http_ = std::make_unique<ops::HttpServer>(http_io_, config_.metrics.listen_host,
                                            config_.metrics.listen_port, std::move(handlers));
  spdlog::info("metrics and health endpoints on {}:{} (/metrics, /healthz, /readyz)",
               config_.metrics.listen_host, http_->port());
  http_thread_ = std::thread([this] { http_io_.run(); });
}

void Daemon::stop_listener() {
  if (!http_) return;
  http_io_.stop();
  if (http_thread_.joinable()) http_thread_.join();
  http_.reset();
}

void Daemon::arm_watch() {
  watch_.expires_after(kWatchEvery);
  watch_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_watch();
  });
}

void Daemon::on_watch() {
  if (stopping_) return;
  beat();
  update_gauges();
  if (pipeline_up_ && start_loads_pending_ == 0) {
    std::lock_guard lock(health_mutex_);
    health_.loaded = true;
  }
  if (!ready_sent_ && readiness().ok) {
    ready_sent_ = true;
    const std::string status = "streaming: " + std::to_string(tables_.size()) + " stream table(s), caught up";
    spdlog::info("ready: {}", status);
    notifier_.ready(status);
    set_phase(status);
  }
  arm_watch();
}

void Daemon::beat() {
  const auto now = Clock::now();
  heartbeat_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  // From the watch loop, and between its turns while a snapshot loads. Half
  // a watch period early, so that timer jitter never makes it late.
  if (const auto interval = notifier_.watchdog_interval();
      interval && now - last_watchdog_ >= *interval - std::min<Clock::duration>(*interval, kWatchEvery / 2)) {
    notifier_.watchdog();
    last_watchdog_ = now;
  }
}

void Daemon::set_phase(const std::string& phase) {
  notifier_.status(phase);
  std::lock_guard lock(health_mutex_);
  health_.phase = phase;
}

void Daemon::set_connected(bool connected) {
  metrics_.replication_connected.Set(connected ? 1 : 0);
  std::lock_guard lock(health_mutex_);
  health_.connected = connected;
}

void Daemon::catalog_succeeded() {
  std::lock_guard lock(health_mutex_);
  health_.catalog_ok = Clock::now();
}

void Daemon::catalog_failed(const Error& error) {
  std::lock_guard lock(health_mutex_);
  health_.catalog_failed = Clock::now();
  health_.catalog_error = error.message();
}

ops::ProbeResult Daemon::liveness() const {
  const Clock::time_point last{Clock::duration(heartbeat_.load(std::memory_order_relaxed))};
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last);
  if (age <= kLivenessTimeout) return {};
  return {false, "the daemon's event loop has not turned for " + std::to_string(age.count()) + " ms"};
}

ops::ProbeResult Daemon::readiness() const {
  if (ops::ProbeResult alive = liveness(); !alive.ok) return alive;  // what it recorded is stale
  std::lock_guard lock(health_mutex_);
  if (!health_.loaded) return {false, health_.phase};
  if (!health_.connected) return {false, "the replication connection is down (" + health_.phase + ")"};
  if (health_.catalog_failed >= health_.catalog_ok) {
    return {false, "the catalog is not reachable: " + health_.catalog_error};
  }
  if (Clock::now() - health_.catalog_ok > kCatalogFresh) {
    return {false, "no catalog query succeeded in the last " + std::to_string(kCatalogFresh.count()) + " s"};
  }
  const double max_lag = static_cast<double>(ready_max_lag_ms_.load()) / 1000.0;
  if (health_.lag_seconds > max_lag) {
    return {false, fmt::format("replication lag {:.1f} s exceeds metrics.ready_max_lag ({:.1f} s)",
                               health_.lag_seconds, max_lag)};
  }
  return {};
}

// The replication lag in seconds: how long the oldest source transaction
// received but not yet applied has been committed (0 when none waits).
// Transactions the server has not sent yet show in the lag in bytes.
void Daemon::update_gauges() {
  const auto now = SystemClock::now();
  if (stream_) {
    const replication::StreamStats& stats = stream_->stats();
    metrics_.decoded_bytes_total.Increment(
        static_cast<double>(stats.bytes_received - std::min(stats.bytes_received, seen_bytes_received_)));
    seen_bytes_received_ = stats.bytes_received;
    const Lsn flushed = std::max(stream_->confirmed(), stats.reported_flush);
    metrics_.confirmed_flush_lsn.Set(static_cast<double>(stats.reported_flush.value()));
    metrics_.replication_lag_bytes.Set(
        stats.server_wal_end > flushed ? static_cast<double>(stats.server_wal_end.value() - flushed.value())
                                       : 0.0);
    const replication::SpoolStats& spool = stream_->decoder().spool_stats();
    metrics_.spool_memory_bytes.Set(static_cast<double>(spool.memory_bytes));
    metrics_.spilled_bytes_total.Increment(
        static_cast<double>(spool.spilled_bytes - std::min(spool.spilled_bytes, seen_spilled_bytes_)));
    seen_spilled_bytes_ = spool.spilled_bytes;
  }
  // The open epoch (or a transaction being fed in parts) is the youngest.
  std::optional<SystemClock::time_point> oldest =
      epoch_open_ || in_transaction_ ? epoch_first_commit_ : std::nullopt;
  if (applier_) {
    metrics_.apply_queue_epochs.Set(static_cast<double>(applier_->queued()));
    const Lsn applied = applier_->stats().applied;
    while (!epochs_in_flight_.empty() && epochs_in_flight_.front().first <= applied)
      epochs_in_flight_.pop_front();
    if (!epochs_in_flight_.empty()) oldest = epochs_in_flight_.front().second;
  }
  if (pool_) {
    const std::uint64_t reconnects = pool_->reconnects();
    if (reconnects > seen_writer_reconnects_) {
      metrics_.reconnects("writer").Increment(static_cast<double>(reconnects - seen_writer_reconnects_));
    }
    seen_writer_reconnects_ = std::max(seen_writer_reconnects_, reconnects);
  }
  const double lag = oldest ? seconds_between(*oldest, now) : 0.0;
  metrics_.replication_lag_seconds.Set(lag);
  {
    std::lock_guard lock(health_mutex_);
    health_.lag_seconds = lag;
  }
  std::map<TableState, int> by_state{
      {TableState::Active, 0}, {TableState::Loading, 0}, {TableState::Error, 0}, {TableState::Suspended, 0}};
  for (const auto& [key, table] : tables_) ++by_state[table.state];
  metrics_.stream_tables("active").Set(by_state[TableState::Active]);
  metrics_.stream_tables("loading").Set(by_state[TableState::Loading]);
  metrics_.stream_tables("error").Set(by_state[TableState::Error]);
  metrics_.stream_tables("suspended").Set(by_state[TableState::Suspended]);
  std::lock_guard lock(series_mutex_);
  for (auto& [id, series] : series_) {
    if (series.data_timestamp)
      series.metrics.frontier_lag_seconds->Set(seconds_between(*series.data_timestamp, now));
    auto it = tables_.find(series.key);
    if (it != tables_.end() && it->second.runtime) {
      series.metrics.state_bytes->Set(static_cast<double>(it->second.runtime->state_bytes()));
    }
  }
}

// On the applier thread.
void Daemon::observe_applied(const AppliedTable& applied) {
  std::lock_guard lock(series_mutex_);
  auto it = series_.find(applied.pgs_id);
  if (it == series_.end()) return;
  TableSeries& series = it->second;
  if (applied.merged) {
    series.metrics.apply_duration_seconds->Observe(applied.seconds);
    series.metrics.rows_inserted_total->Increment(static_cast<double>(applied.stats.inserted));
    series.metrics.rows_updated_total->Increment(static_cast<double>(applied.stats.updated));
    series.metrics.rows_deleted_total->Increment(static_cast<double>(applied.stats.deleted));
    if (applied.reconciled) {
      series.metrics.rows->Set(static_cast<double>(applied.result_rows));
    } else {
      series.metrics.rows->Increment(static_cast<double>(applied.stats.inserted - applied.stats.deleted));
    }
  }
  // A reconcile without a commit time read a snapshot taken just now.
  const auto stamp = applied.data_timestamp
                         ? applied.data_timestamp
                         : (applied.reconciled ? std::optional(SystemClock::now()) : std::nullopt);
  if (stamp && (!series.data_timestamp || *stamp > *series.data_timestamp)) series.data_timestamp = stamp;
}

void Daemon::track_table(const Table& table) {
  const std::string key = key_of(table.definition().name);
  std::lock_guard lock(series_mutex_);
  auto it = series_.find(table.pgs_id);
  if (it != series_.end() && it->second.key == key) return;
  series_.insert_or_assign(table.pgs_id, TableSeries{key, metrics_.table(key), std::nullopt});
}

// After a restart: the series of tables that no longer exist go.
void Daemon::forget_untracked_tables() {
  std::lock_guard lock(series_mutex_);
  std::set<std::string> live;
  for (const auto& [id, series] : series_) {
    if (by_id_.count(id) != 0) live.insert(series.key);
  }
  for (auto it = series_.begin(); it != series_.end();) {
    if (by_id_.count(it->first) == 0) {
      // Another id may carry the same name now (dropped and created again).
      if (live.count(it->second.key) == 0) metrics_.forget_table(it->second.key);
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---------------------------------------------------------------- definitions

std::vector<StreamTableDefinition> Daemon::wanted_definitions() {
  std::vector<StreamTableDefinition> wanted;
  std::set<std::string> from_yaml;
  for (const StreamTableConfig& table : config_.stream_tables) {
    StreamTableDefinition definition;
    definition.name = table.name;
    definition.query = table.query;
    definition.refresh_mode = table.refresh_mode;
    definition.schedule = table.schedule;
    definition.source = "yaml";
    definition.line = table.line;
    from_yaml.insert(key_of(table.name));
    wanted.push_back(std::move(definition));
  }
  for (const catalog::StreamTableRecord& record : catalog::load_stream_tables(control(), schema())) {
    const std::string key = record.schema + "." + record.name;
    if (record.source == "yaml") {
      if (from_yaml.count(key) == 0) {
        spdlog::info("stream table {} is no longer in the configuration: dropping it", key);
        try {
          writer::drop_target(control(), record.schema, record.name);
          catalog::delete_stream_table(control(), schema(), record.pgs_id);
        } catch (const Error& error) {
          spdlog::warn("dropping {} failed: {}", key, error.describe());
        }
      }
      continue;
    }
    if (from_yaml.count(key) != 0) {
      throw Error(ErrorKind::Config,
                  "stream table " + key + " is declared both in " + config_path_.string() +
                      " and with pgstream.create_stream_table()",
                  {.hint = "Remove one of the two: drop_stream_table('" + key + "') or the YAML entry."});
    }
    StreamTableDefinition definition;
    definition.name = {record.schema, record.name};
    definition.query = record.original_query;
    definition.refresh_mode = record.refresh_mode == "FULL" ? RefreshMode::Full : RefreshMode::Differential;
    if (record.schedule) {
      std::string why;
      if (auto schedule = Schedule::parse(*record.schedule, why)) definition.schedule = *schedule;
    }
    definition.source = "sql";
    wanted.push_back(std::move(definition));
  }
  return wanted;
}

Table& Daemon::add_table(const StreamTableDefinition& definition) {
  const std::string key = key_of(definition.name);
  Table& table = tables_[key];
  table.runtime = std::make_unique<StreamTable>(definition);
  table.state = TableState::Error;
  record_definition(table);
  by_id_[table.pgs_id] = key;
  track_table(table);
  return table;
}

void Daemon::record_definition(Table& table) {
  const StreamTableDefinition& definition = table.definition();
  catalog::StreamTableDefinition record;
  record.schema = definition.name.schema;
  record.name = definition.name.name;
  record.original_query = definition.query;
  record.defining_query = definition.query;
  if (definition.schedule.kind() != Schedule::Kind::Continuous) record.schedule = definition.schedule.text();
  record.refresh_mode = std::string(to_string(definition.refresh_mode));
  record.source = definition.source;
  table.pgs_id = catalog::upsert_stream_table(control(), schema(), record);
}

bool Daemon::build_table(Table& table, bool create_target, std::optional<Error>* deferred) {
  try {
    BuildContext context;
    context.catalog_schema = schema();
    context.collation = collation_.get();
    context.evaluation = evaluation_.get();
    context.evaluation_mutex = &evaluation_mutex_;
    context.types = types_;
    table.runtime->build(control(), context);
    table.target = std::make_shared<writer::TargetSpec>([&] {
      writer::TargetSpec spec = table.runtime->target();
      spec.catalog_schema = schema();
      spec.pgs_id = table.pgs_id;
      return spec;
    }());
    catalog::set_explain(control(), schema(), table.pgs_id, table.runtime->explain_text());
    std::vector<catalog::Dependency> dependencies;
    if (const auto& plan = table.runtime->plan()) {
      for (const auto& used : plan->columns_used) {
        catalog::Dependency dependency;
        dependency.oid = used.relation->oid;
        dependency.schema = used.relation->schema;
        dependency.name = used.relation->name;
        dependency.type = used.relation->is_stream_table ? "STREAM_TABLE" : "TABLE";
        dependency.columns = used.columns;
        dependencies.push_back(std::move(dependency));
      }
    }
    catalog::replace_dependencies(control(), schema(), table.pgs_id, dependencies);
    table.upstreams.clear();
    if (table.runtime->differential()) {
      for (const auto& relation : table.runtime->relations()) {
        const std::string upstream = relation->schema + "." + relation->name;
        if (relation->is_stream_table && !table.reads(upstream)) table.upstreams.push_back(upstream);
      }
    }
    if (create_target) {
      // Now rather than at its first apply: a downstream's query reads it,
      // and the catalog's pgs_relid tells the compiler it is a stream table.
      table.created_target = writer::create_target(control(), *table.target) == writer::TargetState::Created;
      const std::string oid = control().query_value(
          "SELECT pg_catalog.to_regclass(" +
          control().quote_literal(control().quote_identifier(table.target->schema) + "." +
                                  control().quote_identifier(table.target->name)) +
          ")::oid");
      table.target_oid = static_cast<std::uint32_t>(std::stoul(oid));
      catalog::set_relid(control(), schema(), table.pgs_id, table.target_oid);
    }
    return true;
  } catch (const Error& error) {
    if (classify(error) == ErrorAction::Retry) throw;
    if (deferred != nullptr) {
      *deferred = error;
    } else {
      fail_table(table, error);
    }
    return false;
  }
}

const Table* Daemon::unbuilt_stream_table(const Error& error) const {
  const std::optional<std::string> relation = sql::missing_relation(error);
  if (!relation) return nullptr;
  for (const auto& [key, table] : tables_) {
    const bool named = key == *relation || (relation->find('.') == std::string::npos &&
                                            table.definition().name.name == *relation);
    if (named && !table.runtime->built()) return &table;
  }
  return nullptr;
}

std::vector<Table*> Daemon::chain_group(Table& table) {
  std::vector<Table*> group{&table};
  if (!table.runtime->differential()) return group;
  const auto joins = [&](const Table& other) {
    return other.runtime->differential() && (other.state == TableState::Active || other.loading() ||
                                             (other.state == TableState::Error && !other.blocked_by.empty()));
  };
  for (std::size_t next = 0; next < group.size(); ++next) {
    const Table& current = *group[next];
    const std::string current_key = key_of(current.definition().name);
    for (auto& [key, other] : tables_) {
      if (std::find(group.begin(), group.end(), &other) != group.end() || !joins(other)) continue;
      // A table blocked by it may not know it reads it yet (it never built).
      if (other.reads(current_key) || current.reads(key) || other.blocked_by == current_key) {
        group.push_back(&other);
      }
    }
  }
  // Upstream first, by what they read when last built (a target must exist
  // before the query reading it is compiled).
  std::vector<Table*> ordered;
  std::set<const Table*> placed;
  while (ordered.size() < group.size()) {
    bool progress = false;
    for (Table* candidate : group) {
      if (placed.count(candidate) != 0) continue;
      const bool ready = std::none_of(group.begin(), group.end(), [&](const Table* other) {
        return placed.count(other) == 0 && other != candidate &&
               candidate->reads(key_of(other->definition().name));
      });
      if (!ready) continue;
      ordered.push_back(candidate);
      placed.insert(candidate);
      progress = true;
    }
    if (progress) continue;
    for (Table* candidate : group) {  // a cycle: link_group() rejects it
      if (placed.insert(candidate).second) ordered.push_back(candidate);
    }
  }
  return ordered;
}

std::vector<Table*> Daemon::link_group(const std::vector<Table*>& tables) {
  const auto built = [](const Table* table) { return table->runtime->built(); };
  const auto in_group = [&](const Table* table) {
    return std::find(tables.begin(), tables.end(), table) != tables.end() && built(table);
  };
  // The upstream of each chained source, by the oid of the target it reads.
  const auto upstream_of = [&](std::uint32_t oid) -> Table* {
    for (auto& [key, other] : tables_) {
      if (other.target_oid == oid) return &other;
    }
    return nullptr;
  };
  for (Table* table : tables) {
    if (!built(table) || !table->runtime->differential()) continue;
    for (const auto& source : table->runtime->chained()) {
      if (!built(table)) break;  // failed by an earlier source
      Table* upstream = upstream_of(source.lowered.relation->oid);
      try {
        link_source(*table, *source.lowered.relation, upstream, upstream != nullptr && in_group(upstream));
      } catch (const Error& error) {
        if (classify(error) == ErrorAction::Retry) throw;
        fail_table(*table, error);
      }
    }
  }
  // Upstream first; what is left reads itself through a cycle.
  std::vector<Table*> ordered;
  std::set<const Table*> placed;
  const auto upstreams_placed = [&](const Table* table) {
    for (const auto& source : table->runtime->chained()) {
      const Table* upstream = upstream_of(source.lowered.relation->oid);
      if (upstream != nullptr && placed.count(upstream) == 0) return false;
    }
    return true;
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (Table* table : tables) {
      if (!built(table) || placed.count(table) != 0 || !upstreams_placed(table)) continue;
      ordered.push_back(table);
      placed.insert(table);
      progress = true;
    }
  }
  std::vector<Table*> cycle;
  for (Table* table : tables) {
    if (built(table) && placed.count(table) == 0) cycle.push_back(table);
  }
  std::string names;
  for (const Table* table : cycle) names += (names.empty() ? "" : ", ") + key_of(table->definition().name);
  for (Table* table : cycle) {
    fail_table(*table, Error(ErrorKind::Unsupported,
                             "stream table " + key_of(table->definition().name) +
                                 " reads itself through other stream tables (a cycle: " + names + ")",
                             {.hint = "Change the query of one of them so that the chain has a start."}));
  }
  // A failure above may have failed a downstream placed before it.
  std::erase_if(ordered, [&](const Table* table) { return !built(table); });
  return ordered;
}

void Daemon::link_source(Table& table, const sql::SourceRelation& relation, Table* upstream, bool loading) {
  const std::string key = key_of(table.definition().name);
  const std::string read = relation.schema + "." + relation.name;
  if (upstream == nullptr) {  // in ERROR since before its target was created?
    auto by_name = tables_.find(read);
    if (by_name != tables_.end() && !by_name->second.runtime->built()) upstream = &by_name->second;
  }
  if (upstream == nullptr || upstream == &table) {
    throw Error(ErrorKind::Config,
                "stream table " + key + " reads stream table " + read + ", which pg_stream does not run",
                {.hint = "Create " + read + " again (or change the query of " + key + ")."});
  }
  const std::string upstream_key = key_of(upstream->definition().name);
  if (!upstream->runtime->differential()) {
    throw Error(
        ErrorKind::Unsupported,
        "stream table " + key + " (DIFFERENTIAL) reads stream table " + upstream_key +
            ", which is refreshed FULL: a DIFFERENTIAL table can only be chained to a "
            "DIFFERENTIAL one",
        {.hint = "Use refresh_mode: FULL for " + key + ", or make " + upstream_key + " DIFFERENTIAL."});
  }
  if (upstream->definition().schedule.kind() != Schedule::Kind::Continuous) {
    throw Error(
        ErrorKind::Unsupported,
        "stream table " + key + " (DIFFERENTIAL) reads stream table " + upstream_key +
            ", which has a schedule: a DIFFERENTIAL table can only be chained to a continuous one",
        {.hint = "Remove the schedule of " + upstream_key + ", or use refresh_mode: FULL for " + key + "."});
  }
  if (!loading) {
    block(table, *upstream, "is in ERROR");
    return;
  }
  if (upstream->target_oid != relation.oid) {
    throw Error(
        ErrorKind::Config,
        "stream table " + key + " read the target of " + upstream_key + " while it was being replaced",
        {.hint = "ALTER " + key + " back to ACTIVE."});
  }
  table.runtime->link(relation.oid, *upstream->runtime);
}

void Daemon::block(Table& table, const Table& upstream, const std::string& why) {
  const std::string key = key_of(table.definition().name);
  const std::string upstream_key = key_of(upstream.definition().name);
  fail_table(table,
             Error(ErrorKind::Config,
                   "stream table " + key + ": its source stream table " + upstream_key + " " + why,
                   {.hint = "pg_stream reloads " + key + " together with " + upstream_key +
                            " once that is ACTIVE again (or ALTER " + key + " back to ACTIVE then)."}));
  table.blocked_by = upstream_key;
}

void Daemon::block_downstreams(const Table& upstream, const std::string& why) {
  const std::string upstream_key = key_of(upstream.definition().name);
  for (auto& [key, table] : tables_) {
    if (&table == &upstream || !table.reads(upstream_key) || !table.runtime->differential()) continue;
    if (table.state != TableState::Active && !table.runtime->built()) continue;
    block(table, upstream, why);
  }
}

void Daemon::forward(Table& upstream) {
  const engine::ZSet& delta = upstream.runtime->output_delta();
  if (delta.empty() || upstream.target_oid == 0) return;
  const std::string upstream_key = key_of(upstream.definition().name);
  std::vector<std::pair<Table*, Error>> broken;
  for (auto& [key, table] : tables_) {
    if (&table == &upstream || !table.runtime->built() || !table.reads(upstream_key)) continue;
    try {
      table.runtime->push(upstream.target_oid, delta);
    } catch (const Error& error) {
      broken.emplace_back(&table, error);
    }
  }
  for (auto& [table, error] : broken) fail_table(*table, error);
}

std::vector<writer::DeltaRow> Daemon::step_table(Table& table) {
  std::vector<writer::DeltaRow> rows = table.runtime->step();
  forward(table);
  return rows;
}

// A FULL table's sources are published too, so that it knows when it is
// stale; not those without a replica identity (publishing them would make
// the server reject their UPDATEs): such a FULL table recomputes on every
// beat.
void Daemon::publish(const std::vector<Table*>& tables) {
  std::vector<replication::TableName> sources;
  std::set<std::string> seen;
  for (Table* table : tables) {
    if (!table->runtime->differential()) {
      const auto relations = table->runtime->relations();
      table->tracked =
          !relations.empty() && std::all_of(relations.begin(), relations.end(), [](const auto& r) {
            return !r->is_stream_table &&
                   (r->replica_identity == 'f' || (r->replica_identity == 'd' && !r->primary_key.empty()) ||
                    (r->replica_identity == 'i' && !r->replica_identity_key.empty()));
          });
      if (!table->tracked) continue;
    }
    for (const auto& relation : table->runtime->relations()) {
      if (relation->is_stream_table) continue;  // fed in memory by its stream table
      if (seen.insert(relation->schema + "." + relation->name).second) {
        sources.push_back({relation->schema, relation->name});
      }
    }
  }
  replication::ensure_publication(control(), config_.postgres.publication, sources);
}

void Daemon::load_from_snapshot(const std::vector<Table*>& tables, replication::SnapshotReader& reader,
                                Lsn consistent, const std::function<void(Table&, const Error*)>& done) {
  for (Table* table : tables) {
    if (!table->runtime->built()) {
      // Its upstream failed while this snapshot loaded (block_downstreams).
      const Error failure = table->last_failure.value_or(Error(ErrorKind::Config, table->last_error));
      if (done) done(*table, &failure);
      continue;
    }
    try {
      table->dirty = false;  // a FULL table: the snapshot holds every change before it
      std::vector<writer::DeltaRow> contents = table->runtime->load(reader, consistent, [this] {
        if (++rows_loaded_ % kRowsPerBeat == 0) beat();
      });
      forward(*table);  // its downstreams, later in `tables`, receive its result
      table->runtime->release_buffers();
      submit_loaded(*table, consistent, std::move(contents), done);
    } catch (const Error& error) {
      if (classify(error) == ErrorAction::Retry) throw;
      fail_table(*table, error);
      if (done) done(*table, &error);
    }
  }
}

// The loaded table goes live: its whole result, complete up to `frontier`,
// is reconciled into the target, and the stream feeds it from there on.
void Daemon::submit_loaded(Table& table, Lsn frontier, std::vector<writer::DeltaRow> contents,
                           const std::function<void(Table&, const Error*)>& done) {
  ApplyWork work;
  work.kind = ApplyWork::Kind::Reconcile;
  work.lsn = frontier;
  work.action = table.runtime->differential() ? writer::Action::Reinitialize : writer::Action::Full;
  TableDelta loaded;
  loaded.pgs_id = table.pgs_id;
  loaded.target = table.target;
  loaded.rows = std::move(contents);
  work.deltas.push_back(std::move(loaded));
  const std::int64_t id = table.pgs_id;
  // The start's loads are counted until applied (readiness, READY=1).
  const bool counted = !pipeline_up_;
  const std::uint64_t generation = generation_;
  work.done = [this, id, done, counted, generation](const Error* error) {
    std::optional<Error> copy;
    if (error != nullptr) copy = *error;
    boost::asio::post(io_, [this, id, copy, done, counted, generation] {
      if (counted && generation == generation_ && start_loads_pending_ > 0) --start_loads_pending_;
      auto it = by_id_.find(id);
      if (it == by_id_.end()) return;
      Table& applied = tables_.at(it->second);
      // Loading staged every source row at once; give that memory back.
      malloc_trim(0);
      if (copy) {
        fail_table(applied, *copy);
      } else {
        applied.failures = 0;
        catalog::set_status(control(), schema(), applied.pgs_id, "ACTIVE", std::nullopt, false);
      }
      if (done) done(applied, copy ? &*copy : nullptr);
    });
  };
  if (!activate(table)) {
    const Error failure = table.last_failure.value_or(Error(ErrorKind::Config, table.last_error));
    if (done) done(table, &failure);
    return;
  }
  if (counted) ++start_loads_pending_;
  submit(std::move(work));
}

bool Daemon::activate(Table& table) {
  // A source the stream already described sends no Relation message again:
  // bind the new feeds to the stream's current definition now.
  if (stream_ && table.runtime->differential()) {
    for (const auto& relation : table.runtime->relations()) {
      const auto* known = stream_->decoder().relations().find(relation->oid);
      if (known == nullptr) continue;
      if (auto problem = table.runtime->bind(**known)) {
        fail_table(table, Error(ErrorKind::Config,
                                "stream table " + key_of(table.definition().name) + ": " + *problem));
        return false;
      }
    }
  }
  table.state = TableState::Active;
  table.last_error.clear();
  table.transient_error = false;
  const auto& schedule = table.definition().schedule;
  const auto now = SystemClock::now();
  if (schedule.kind() != Schedule::Kind::Continuous) {
    table.next_beat = schedule.next_after(now);
  } else if (!table.runtime->differential()) {
    table.next_beat = now + kFullRefreshEvery;
  }
  index_tables();
  return true;
}

// A table added (or reloaded) while the stream runs: a BackgroundLoad reads
// it from its own temporary slot's snapshot while the stream goes on
// feeding the others; what the stream brings for its sources meanwhile is
// held, and fed from the snapshot's consistent point on once the load ends.
//
// Chains load together: the tables that read each other in memory (the
// connected group of chain_group()) are all loaded again from one snapshot,
// upstream first, so that each downstream receives its upstreams' whole
// results with its own sources' rows. `done` is called for `table` only.
void Daemon::load_now(Table& table, const std::function<void(Table&, const Error*)>& done) {
  // The loads this one replaces (its own, or those of its chain's tables
  // that are loading): their other tables join it, and it answers their
  // callers (each picks its own table).
  std::vector<Table*> interrupted;
  auto inherited = std::make_shared<std::vector<std::function<void(Table&, const Error*)>>>();
  const auto take_over = [this, &interrupted, inherited](Table& loading) {
    auto pending = loads_.find(loading.load_ticket);
    if (pending != loads_.end() && pending->second.done)
      inherited->push_back(std::move(pending->second.done));
    abandon_load(loading, &interrupted);
  };
  if (table.loading()) take_over(table);
  const std::int64_t requested = table.pgs_id;
  auto answered = std::make_shared<bool>(false);
  // Called for the tables of the load as each goes live or fails.
  const std::function<void(Table&, const Error*)> answer = [requested, answered, done, inherited](
                                                               Table& loaded, const Error* error) {
    for (const auto& caller : *inherited) caller(loaded, error);
    if (loaded.pgs_id != requested || *answered) return;
    *answered = true;
    if (done) done(loaded, error);
  };
  // A table that was loaded before (refresh, reload) starts from an empty
  // dataflow: the snapshot holds all of its rows again.
  table.runtime = std::make_unique<StreamTable>(table.definition());
  const std::string key = key_of(table.definition().name);
  // Without a load of their own now, the interrupted tables are retried
  // with their chain.
  const auto let_go = [this, &interrupted, &key, &answer] {
    std::vector<std::int64_t> ids;
    for (Table* other : interrupted) {
      ids.push_back(other->pgs_id);
      fail_table(*other,
                 Error(ErrorKind::Config, "stream table " + key_of(other->definition().name) +
                                              ": the load of its chain stopped when " + key + " failed"),
                 true);
    }
    for (const std::int64_t id : ids) {
      auto it = by_id_.find(id);
      if (it == by_id_.end()) continue;
      Table& other = tables_.at(it->second);
      answer(other, &*other.last_failure);
    }
  };
  std::vector<Table*> group{&table};
  try {
    if (!build_table(table)) {
      let_go();
      answer(table, nullptr);
      return;
    }
    group = chain_group(table);
  } catch (const Error& error) {
    fail_table(table, error, classify(error) == ErrorAction::Retry);
    let_go();
    answer(table, &error);
    return;
  }
  for (Table* member : std::vector<Table*>(group)) {
    if (member != &table && member->loading()) take_over(*member);
  }
  for (Table* other : interrupted) {
    if (std::find(group.begin(), group.end(), other) == group.end()) group.push_back(other);
  }
  if (group.size() > 1)
    spdlog::info("stream table {}: loading its chain again ({} tables)", key, group.size());
  load_group(std::move(group), answer, &table);
}

void Daemon::load_group(std::vector<Table*> group, const std::function<void(Table&, const Error*)>& answer,
                        const Table* fresh) {
  // `answer` may drop a table (a failed create): tables are found again by
  // id after it, never used through a pointer.
  std::vector<std::int64_t> ids;
  ids.reserve(group.size());
  for (Table* member : group) ids.push_back(member->pgs_id);
  try {
    for (Table* member : group) {
      if (member == fresh) continue;
      member->runtime = std::make_unique<StreamTable>(member->definition());
      if (!build_table(*member)) answer(*member, nullptr);
    }
    std::vector<Table*> linked;
    for (const std::int64_t id : ids) {
      auto it = by_id_.find(id);
      if (it != by_id_.end()) linked.push_back(&tables_.at(it->second));
    }
    group = link_group(linked);
    for (Table* member : linked) {
      if (std::find(group.begin(), group.end(), member) != group.end()) continue;
      // It failed to build or to link; the others load all the same.
      const Error failure = member->last_failure.value_or(Error(ErrorKind::Config, member->last_error));
      answer(*member, &failure);
    }
    if (group.empty()) return;
    start_load(group, answer);
  } catch (const Error& error) {
    const bool transient = classify(error) == ErrorAction::Retry;
    for (const std::int64_t id : ids) {
      auto it = by_id_.find(id);
      if (it == by_id_.end()) continue;
      Table& member = tables_.at(it->second);
      if (member.loading()) continue;
      fail_table(member, error, transient);
      answer(member, &error);
    }
  }
}

// REQUIRES: every table of `group` built (a fresh runtime) and linked,
// upstream first.
void Daemon::start_load(const std::vector<Table*>& group, std::function<void(Table&, const Error*)> done) {
  publish(group);
  const std::uint64_t ticket = ++load_counter_;
  PendingLoad& pending = loads_[ticket];
  pending.done = std::move(done);
  std::vector<LoadMember> members;
  members.reserve(group.size());
  for (Table* table : group) {
    if (table->state == TableState::Active) {
      spdlog::info("stream table {}: reloading in the background", key_of(table->definition().name));
    }
    table->state = TableState::Loading;
    table->dirty = false;  // a FULL table: its snapshot holds every change before it
    table->loading_relations.clear();
    for (const auto& relation : table->runtime->relations()) {
      if (!relation->is_stream_table) table->loading_relations.push_back(relation->oid);
    }
    table->held.clear();
    table->load_ticket = ticket;
    pending.pgs_ids.push_back(table->pgs_id);
    members.push_back(LoadMember{std::move(table->runtime), table->target_oid});
    table->runtime = std::make_unique<StreamTable>(members.back().runtime->definition());
  }
  epoch_barrier_ = true;  // epochs from here on lack these tables
  const std::string slot = "pgstream_load_" + std::to_string(::getpid()) + "_" + std::to_string(ticket);
  pending.slot = slot;
  for (Table* table : group) {
    if (!pending.names.empty()) pending.names += ", ";
    pending.names += key_of(table->definition().name);
  }
  pending.report_at = Clock::now() + kLoadWaitReportAfter;
  pending.load =
      std::make_unique<BackgroundLoad>(dsn(), slot, std::move(members), [this, ticket](LoadOutcome outcome) {
        auto shared = std::make_shared<LoadOutcome>(std::move(outcome));
        boost::asio::post(io_, [this, ticket, shared] { end_load(ticket, std::move(*shared)); });
      });
  index_tables();
}

std::vector<Table*> Daemon::load_members(std::uint64_t ticket, const std::vector<std::int64_t>& pgs_ids) {
  std::vector<Table*> members;
  for (const std::int64_t id : pgs_ids) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return {};
    Table& table = tables_.at(it->second);
    if (table.load_ticket != ticket) return {};
    members.push_back(&table);
  }
  return members;
}

// A load ended (on its thread; now on this one).
void Daemon::end_load(std::uint64_t ticket, LoadOutcome outcome) {
  if (in_transaction_) {
    // Parts of a transaction were held, the rest is still to come: the
    // tables go live between transactions.
    deferred_ends_.emplace_back(ticket, std::move(outcome));
    return;
  }
  auto pending_it = loads_.find(ticket);
  if (pending_it == loads_.end()) return;  // the pipeline was rebuilt meanwhile
  PendingLoad pending = std::move(pending_it->second);
  loads_.erase(pending_it);
  pending.load.reset();  // its thread has ended (or is about to): join it
  const std::vector<Table*> members = load_members(ticket, pending.pgs_ids);
  if (members.empty()) {
    // Abandoned (dropped, suspended, failed, or replaced by a newer load
    // that answers for it): tell its callers how the tables are now.
    if (!pending.done) return;
    for (const std::int64_t id : pending.pgs_ids) {
      auto it = by_id_.find(id);
      if (it == by_id_.end()) continue;
      Table& table = tables_.at(it->second);
      if (table.state == TableState::Error) {
        const Error failure = table.last_failure.value_or(Error(ErrorKind::Config, table.last_error));
        pending.done(table, &failure);
      } else {
        pending.done(table, nullptr);
      }
    }
    return;
  }
  std::vector<std::vector<std::shared_ptr<const replication::ChangeBatch>>> held;
  held.reserve(members.size());
  for (Table* table : members) {
    held.push_back(stop_loading(*table));
    table->state = TableState::Error;  // until activate() or fail_table()
    table->blocked_by.clear();
  }
  index_tables();
  Table& first = *members.front();
  if (outcome.error && outcome.error->sqlstate() == "40001" && ++first.rewritten_loads <= kRewrittenLoads) {
    // A source was truncated between the snapshot and its read: again (a
    // few times in a row; then as a transient error, with its backoff).
    spdlog::info("stream table {}: {}; loading it again", key_of(first.definition().name),
                 outcome.error->message());
    load_group(members, pending.done);
    return;
  }
  first.rewritten_loads = 0;
  spdlog::debug("loaded {} table(s) at {}, the stream fed up to {}", members.size(),
                outcome.consistent.to_string(), fed_lsn_.to_string());
  // Every runtime first: a step hands its delta to the members after it.
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (!outcome.error && !outcome.tables[i].error)
      members[i]->runtime = std::move(outcome.tables[i].runtime);
  }
  std::vector<Lsn> frontiers(members.size(), outcome.consistent);
  std::vector<bool> failed(members.size(), false);
  for (std::size_t i = 0; i < members.size(); ++i) {
    Table& table = *members[i];
    const Table* failed_upstream = nullptr;
    for (std::size_t j = 0; j < i; ++j) {
      if (failed[j] && table.reads(key_of(members[j]->definition().name))) failed_upstream = members[j];
    }
    failed[i] = true;
    if (failed_upstream != nullptr) {
      // Blocked already when the upstream's failure cascaded to it.
      if (table.blocked_by.empty()) block(table, *failed_upstream, "failed to load");
      continue;
    }
    const std::optional<Error>& error = outcome.error ? outcome.error : outcome.tables[i].error;
    if (error) {
      fail_table(table, *error, outcome.error.has_value() && classify(*error) == ErrorAction::Retry);
      continue;
    }
    try {
      feed_held(table, outcome.consistent, held[i]);
      if (table.runtime->differential() && table.runtime->needs_reload()) {
        // A held change (a TRUNCATE) needs yet another snapshot.
        load_group(members, pending.done);
        return;
      }
      if (table.runtime->differential()) {
        // The snapshot plus what the stream brought since is the result at
        // the end of the last transaction fed: the reconcile goes there
        // directly (an epoch of its own could not go past what the stream's
        // epochs already confirmed).
        if (table.runtime->pending()) {
          std::vector<writer::DeltaRow> since = step_table(table);
          auto& contents = outcome.tables[i].contents;
          contents.insert(contents.end(), std::make_move_iterator(since.begin()),
                          std::make_move_iterator(since.end()));
        }
        frontiers[i] = std::max(frontiers[i], fed_lsn_);
      }
      failed[i] = false;
    } catch (const Error& failure) {
      fail_table(table, failure);
    }
  }
  for (std::size_t i = 0; i < members.size(); ++i) {
    Table& table = *members[i];
    if (failed[i]) {
      if (pending.done) {
        const Error failure = table.last_failure.value_or(Error(ErrorKind::Config, table.last_error));
        pending.done(table, &failure);
      }
      continue;
    }
    submit_loaded(table, frontiers[i], std::move(outcome.tables[i].contents), pending.done);
  }
  // A stream table created over one of them while they loaded waits in
  // ERROR for it: they load again together (a chain loads from one snapshot).
  for (const std::int64_t id : pending.pgs_ids) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    Table& table = tables_.at(it->second);
    if (table.state != TableState::Active) continue;
    const std::string key = key_of(table.definition().name);
    // (Not one of this load's tables: those had their chance.)
    const bool waiting_reader = std::any_of(tables_.begin(), tables_.end(), [&](const auto& entry) {
      return entry.second.state == TableState::Error && entry.second.blocked_by == key &&
             std::find(pending.pgs_ids.begin(), pending.pgs_ids.end(), entry.second.pgs_id) ==
                 pending.pgs_ids.end();
    });
    if (waiting_reader) {
      load_now(table);
      return;
    }
  }
}

// What the stream brought for the table's sources while it loaded: a FULL
// table is stale if any of it committed after the snapshot; a DIFFERENTIAL
// one is fed all of it (StreamTable::feed skips what the snapshot holds),
// bound to each change's own definition of its relation.
void Daemon::feed_held(Table& table, Lsn consistent,
                       const std::vector<std::shared_ptr<const replication::ChangeBatch>>& held) {
  StreamTable& runtime = *table.runtime;
  std::map<std::uint32_t, const replication::Relation*> bound;
  std::set<std::uint32_t> sources;  // a FULL table's
  for (const auto& relation : runtime.relations()) sources.insert(relation->oid);
  for (const auto& batch : held) {
    for (const replication::Change& change : batch->changes()) {
      if (change.kind == replication::ChangeKind::Message ||
          change.kind == replication::ChangeKind::SchemaChange || !change.relation) {
        continue;
      }
      const std::uint32_t oid = change.relation->oid;
      if (!runtime.differential()) {
        if (batch->commit_lsn >= consistent && sources.count(oid) != 0) table.dirty = true;
        continue;
      }
      if (!runtime.reads(oid)) continue;
      if (bound[oid] != change.relation.get()) {
        if (auto problem = runtime.bind(*change.relation)) {
          throw Error(ErrorKind::Config, "stream table " + key_of(table.definition().name) + ": " + *problem);
        }
        bound[oid] = change.relation.get();
      }
      runtime.feed(*batch, change);
    }
  }
}

// Keeps a copy of `batch` (one per batch, shared) for every table loading
// from `relation`.
void Daemon::hold(const replication::ChangeBatch& batch, std::uint32_t relation,
                  std::shared_ptr<const replication::ChangeBatch>& copy) {
  auto [first, last] = loading_by_relation_.equal_range(relation);
  for (auto it = first; it != last; ++it) {
    Table& table = *it->second;
    if (!copy) copy = std::make_shared<const replication::ChangeBatch>(batch);
    if (table.held.empty() || table.held.back() != copy) table.held.push_back(copy);
  }
}

// The table's load no longer counts (the table failed, is suspended or
// reloaded anew); its thread is told to give up, and end_load answers its
// callers when it has.
std::vector<std::shared_ptr<const replication::ChangeBatch>> Daemon::stop_loading(Table& table) {
  table.load_ticket = 0;
  table.loading_relations.clear();
  auto held = std::move(table.held);
  table.held.clear();
  return held;
}

void Daemon::abandon_load(Table& table, std::vector<Table*>* others) {
  if (!table.loading()) return;
  const std::uint64_t ticket = table.load_ticket;
  auto pending = loads_.find(ticket);
  if (pending != loads_.end() && pending->second.load) pending->second.load->cancel();
  (void)stop_loading(table);
  if (table.state == TableState::Loading) table.state = TableState::Error;
  std::vector<Table*> left;
  if (pending != loads_.end()) {
    for (const std::int64_t id : pending->second.pgs_ids) {
      auto it = by_id_.find(id);
      if (it == by_id_.end()) continue;
      Table& other = tables_.at(it->second);
      if (&other == &table || other.load_ticket != ticket) continue;
      (void)stop_loading(other);
      other.state = TableState::Error;
      left.push_back(&other);
    }
  }
  index_tables();
  if (others != nullptr) {
    others->insert(others->end(), left.begin(), left.end());
    return;
  }
  const std::string key = key_of(table.definition().name);
  for (Table* other : left) {
    fail_table(*other,
               Error(ErrorKind::Config, "stream table " + key_of(other->definition().name) +
                                            ": the load of its chain stopped when " + key + " left it"),
               true);
  }
}

void Daemon::drop_table(const std::string& key, bool drop_target) {
  auto it = tables_.find(key);
  if (it == tables_.end()) return;
  Table& table = it->second;
  abandon_load(table);
  block_downstreams(table, "was dropped");
  if (applier_) applier_->drain();  // nothing of it still on its way to the target
  if (drop_target)
    writer::drop_target(control(), table.definition().name.schema, table.definition().name.name);
  catalog::delete_stream_table(control(), schema(), table.pgs_id);
  {
    std::lock_guard lock(series_mutex_);
    series_.erase(table.pgs_id);
    metrics_.forget_table(key);
  }
  by_id_.erase(table.pgs_id);
  tables_.erase(it);
  index_tables();
}

void Daemon::fail_table(Table& table, const Error& error, bool transient) {
  abandon_load(table);
  const bool was_active = table.state == TableState::Active;
  table.state = TableState::Error;
  table.last_error = error.describe();
  table.last_failure = error;
  table.transient_error = transient || classify(error) == ErrorAction::Retry;
  ++table.failures;
  table.retry_at = Clock::now() + std::chrono::seconds(std::min(60, 1 << std::min(table.failures, 6)));
  table.blocked_by.clear();
  // Its dataflow may hold a half-run epoch: it is rebuilt before any reuse.
  table.runtime = std::make_unique<StreamTable>(table.definition());
  count_error(error);
  spdlog::error("stream table {} is in ERROR: {}", key_of(table.definition().name), table.last_error);
  if (was_active) index_tables();
  try {
    catalog::set_status(control(), schema(), table.pgs_id, "ERROR", table.last_error, true);
  } catch (const Error& failure) {
    reset_control();
    spdlog::warn("could not record the error of {}: {}", key_of(table.definition().name), failure.message());
  }
  block_downstreams(table, "is in ERROR");
}

void Daemon::index_tables() {
  by_relation_.clear();
  full_by_relation_.clear();
  loading_by_relation_.clear();
  // Upstreams first: an epoch steps a chain's upstream before the tables it
  // feeds (link_group() let no cycle become ACTIVE).
  order_.clear();
  std::set<const Table*> placed;
  for (bool progress = true; progress;) {
    progress = false;
    for (auto& entry : tables_) {
      Table& table = entry.second;
      if (placed.count(&table) != 0) continue;
      const bool ready =
          std::all_of(table.upstreams.begin(), table.upstreams.end(), [&](const auto& upstream) {
            auto it = tables_.find(upstream);
            return it == tables_.end() || &it->second == &table || placed.count(&it->second) != 0;
          });
      if (!ready) continue;
      order_.push_back(&table);
      placed.insert(&table);
      progress = true;
    }
  }
  for (auto& [key, table] : tables_) {
    if (placed.insert(&table).second) order_.push_back(&table);
  }
  for (auto& [key, table] : tables_) {
    for (const std::uint32_t oid : table.loading_relations) loading_by_relation_.emplace(oid, &table);
    if (table.state == TableState::Active && !table.runtime->differential()) {
      for (const auto& relation : table.runtime->relations())
        full_by_relation_.emplace(relation->oid, &table);
    }
    if (!table.fed()) continue;
    for (const auto& feed : table.runtime->feeds()) by_relation_.emplace(feed->relation().oid, &table);
  }
}

// A temporary slot's snapshot waits for every transaction that holds an xid
// when it is created; an idle session left in a transaction keeps a load
// (and its tables' frontiers) waiting without end. The walsender creating
// the slot waits on their transaction locks: pg_blocking_pids names them.
void Daemon::report_waiting_loads() {
  const auto now = Clock::now();
  for (auto& [ticket, pending] : loads_) {
    if (now < pending.report_at) continue;
    pending.report_at = now + kLoadWaitReportEvery;
    try {
      report_waiting_load(pending);
    } catch (const Error& error) {  // only a report: the tick goes on
      spdlog::debug("could not tell what the load of {} waits for: {}", pending.names, error.message());
    }
  }
}

void Daemon::report_waiting_load(const PendingLoad& pending) {
  PgResult result = control().exec(
      "SELECT a.pid, coalesce(nullif(a.application_name, ''), a.usename::text, '?'), a.state, "
      "to_char(now() - a.xact_start, 'HH24:MI:SS') FROM pg_catalog.pg_replication_slots s "
      "CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(s.active_pid)) b(pid) "
      "JOIN pg_catalog.pg_stat_activity a ON a.pid = b.pid WHERE s.slot_name = " +
      control().quote_literal(pending.slot) + " ORDER BY a.xact_start");
  if (PQntuples(result.get()) == 0) return;
  std::string sessions;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    if (!sessions.empty()) sessions += "; ";
    sessions += std::string("pid ") + PQgetvalue(result.get(), row, 0) + " (" +
                PQgetvalue(result.get(), row, 1) + ", " + PQgetvalue(result.get(), row, 2) +
                ", in its transaction for " + PQgetvalue(result.get(), row, 3) + ")";
  }
  spdlog::warn(
      "the load of {} waits for transactions that were running when its snapshot was taken: {}; "
      "it reads its tables once they end (pg_terminate_backend(pid) ends one)",
      pending.names, sessions);
}

void Daemon::retry_failed_tables() {
  for (auto& [key, table] : tables_) {
    if (table.state != TableState::Error || !table.transient_error || Clock::now() < table.retry_at) continue;
    spdlog::info("stream table {}: retrying after a transient error", key);
    load_now(table);
  }
}

// Scheduled tables apply what accumulated; FULL tables recompute.
void Daemon::run_beats() {
  const auto now = SystemClock::now();
  for (auto& [key, table] : tables_) {
    if (table.state != TableState::Active || table.continuous() || now < table.next_beat) continue;
    const auto& schedule = table.definition().schedule;
    table.next_beat =
        schedule.kind() == Schedule::Kind::Continuous ? now + kFullRefreshEvery : schedule.next_after(now);
    if (!table.runtime->differential()) {
      // Recomputed only if a source changed (or its sources are unknown).
      if (table.dirty || !table.tracked) load_now(table);
      continue;
    }
    if (in_transaction_) continue;
    flush_epoch();
    try {
      ApplyWork work;
      work.lsn = submitted_lsn_;
      work.confirm = false;
      step_into(table, work);
      submit(std::move(work));
    } catch (const Error& error) {
      fail_table(table, error);
    }
  }
}

// A source dropped, or a used column retyped, while no change of it
// arrived: the catalog says so before the stream does.
void Daemon::check_sources() {
  for (auto& [key, table] : tables_) {
    if (!table.fed()) continue;
    for (const auto& feed : table.runtime->feeds()) {
      const auto& relation = feed->relation();
      PgResult result = control().exec(
          "SELECT a.attname, a.atttypid, a.atttypmod FROM pg_catalog.pg_attribute a WHERE a.attrelid = " +
          std::to_string(relation.oid) + " AND a.attnum > 0 AND NOT a.attisdropped");
      std::optional<std::string> problem;
      if (PQntuples(result.get()) == 0) {
        problem = "source table " + relation.schema + "." + relation.name + " was dropped";
      } else {
        replication::Relation current;
        current.oid = relation.oid;
        for (int row = 0; row < PQntuples(result.get()); ++row) {
          replication::RelationColumn column;
          column.name = PQgetvalue(result.get(), row, 0);
          column.type_oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(result.get(), row, 1)));
          column.type_modifier = std::stoi(PQgetvalue(result.get(), row, 2));
          current.columns.push_back(std::move(column));
        }
        problem = feed->check(current);
      }
      if (problem) {
        fail_table(table, Error(ErrorKind::Config, "stream table " + key + ": " + *problem,
                                {.hint = "Fix the source, then ALTER the stream table back to ACTIVE (or "
                                         "change its query)."}));
        break;
      }
    }
  }
}

void Daemon::reload() {
  Config next;
  try {
    next = load_config(config_path_, dsn_from_environment());
  } catch (const Error& error) {
    spdlog::error("the new configuration is not valid, keeping the running one:\n{}", error.describe());
    return;
  }
  if (next.metrics.listen_host != config_.metrics.listen_host ||
      next.metrics.listen_port != config_.metrics.listen_port) {
    spdlog::warn("metrics.listen changed: it takes effect at the next restart");
  }
  if (next.postgres.dsn != config_.postgres.dsn || next.postgres.slot != config_.postgres.slot ||
      next.postgres.publication != config_.postgres.publication ||
      next.postgres.catalog_schema != config_.postgres.catalog_schema) {
    spdlog::warn("postgres.* settings changed: they take effect at the next restart");
    next.postgres = config_.postgres;
  }
  std::map<std::string, const StreamTableConfig*> wanted;
  for (const auto& table : next.stream_tables) wanted[key_of(table.name)] = &table;
  config_ = std::move(next);
  configure_logging(config_.log);
  if (!pipeline_up_) return;
  try {
    std::vector<std::string> gone;
    for (auto& [key, table] : tables_) {
      if (table.definition().source == "yaml" && wanted.count(key) == 0) gone.push_back(key);
    }
    for (const auto& key : gone) {
      spdlog::info("stream table {} removed from the configuration: dropping it", key);
      drop_table(key, true);
    }
    std::vector<std::string> added;
    for (const auto& [key, declared] : wanted) {
      StreamTableDefinition definition;
      definition.name = declared->name;
      definition.query = declared->query;
      definition.refresh_mode = declared->refresh_mode;
      definition.schedule = declared->schedule;
      definition.line = declared->line;
      auto it = tables_.find(key);
      if (it != tables_.end()) {
        if (it->second.definition().source == "sql") {
          spdlog::error(
              "stream table {} is declared in the configuration and with create_stream_table(); "
              "keeping the SQL one",
              key);
          continue;
        }
        if (it->second.definition().same_definition(definition)) continue;
        spdlog::info("stream table {} changed: rebuilding it", key);
        drop_table(key, true);
      } else {
        spdlog::info("stream table {} added", key);
      }
      Table& table = add_table(definition);
      load_now(table);
      added.push_back(key);
    }
    // A table added with the stream table it reads may have been tried
    // before that one's target existed: again, while that helps.
    for (bool progress = true; progress;) {
      progress = false;
      for (const auto& key : added) {
        auto it = tables_.find(key);
        if (it == tables_.end() || it->second.state != TableState::Error || it->second.runtime->built() ||
            it->second.transient_error)
          continue;
        load_now(it->second);
        progress = progress || it->second.state != TableState::Error;
      }
    }
  } catch (const Error& error) {
    spdlog::error("reload failed: {}", error.describe());
    count_error(error);
    if (classify(error) == ErrorAction::Retry) reset_control();
  }
}

// ---------------------------------------------------------------- stream

void Daemon::on_batch(const replication::ChangeBatch& batch) {
  beat();  // a big transaction replayed part after part keeps this thread from the watch loop
  metrics_.changes_decoded_total.Increment(static_cast<double>(batch.row_count()));
  if (batch.last_part() && batch.xid != 0) metrics_.transactions_decoded_total.Increment();
  if (stop_requested_.load(std::memory_order_relaxed)) return;  // stopping: what is fed is applied, no more
  if (batch.xid == 0 && batch.part() == 0 && !batch.changes().empty() &&
      batch.changes().front().kind == replication::ChangeKind::Message &&
      !batch.changes().front().transactional) {
    on_message(batch, batch.changes().front());
    return;
  }
  // A reconnect resends transactions the applier has not confirmed yet;
  // what was fed already is skipped (every part of it).
  if (batch.part() == 0) skipping_ = batch.commit_lsn < fed_lsn_;
  if (skipping_) return;
  // Metrics: the epoch's size counts every part; its age starts at the
  // commit of its first transaction (known from the first part on).
  epoch_changes_ += batch.row_count();
  if (!epoch_open_ && !epoch_first_commit_) {
    epoch_first_commit_ = SystemClock::time_point(batch.commit_time.time_since_epoch());
  }
  std::vector<Table*> reloads;
  std::shared_ptr<const replication::ChangeBatch> held;  // a copy for the tables loading meanwhile
  for (const replication::Change& change : batch.changes()) {
    switch (change.kind) {
      case replication::ChangeKind::SchemaChange: {
        const auto& relation = batch.schema_change(change).current;
        hold(batch, relation->oid, held);
        auto [first, last] = by_relation_.equal_range(relation->oid);
        std::vector<Table*> broken;
        for (auto it = first; it != last; ++it) {
          if (auto problem = it->second->runtime->bind(*relation)) {
            broken.push_back(it->second);
            it->second->last_error = *problem;
          }
        }
        for (Table* table : broken) {
          fail_table(*table, Error(ErrorKind::Config, "stream table " + key_of(table->definition().name) +
                                                          ": " + table->last_error));
        }
        break;
      }
      case replication::ChangeKind::Insert:
      case replication::ChangeKind::Update:
      case replication::ChangeKind::Delete:
      case replication::ChangeKind::Truncate: {
        hold(batch, change.relation->oid, held);
        auto [first, last] = by_relation_.equal_range(change.relation->oid);
        std::vector<std::pair<Table*, Error>> broken;
        for (auto it = first; it != last; ++it) {
          try {
            it->second->runtime->feed(batch, change);
            if (it->second->runtime->needs_reload() &&
                std::find(reloads.begin(), reloads.end(), it->second) == reloads.end()) {
              reloads.push_back(it->second);
            }
          } catch (const Error& error) {
            broken.emplace_back(it->second, error);
          }
        }
        for (auto& [table, error] : broken) fail_table(*table, error);
        auto [full_first, full_last] = full_by_relation_.equal_range(change.relation->oid);
        for (auto it = full_first; it != full_last; ++it) {
          if (batch.commit_lsn >= it->second->runtime->start_lsn()) it->second->dirty = true;
        }
        break;
      }
      default: break;
    }
  }
  for (Table* table : reloads) {
    // A TRUNCATE of a source it keeps no copy of (REPLICA IDENTITY FULL),
    // or the identity changed: a new snapshot, as refresh_stream_table does.
    spdlog::info(
        "stream table {}: reloading from a new snapshot (a source was truncated or its replica "
        "identity changed)",
        key_of(table->definition().name));
    spdlog::debug("reload of {} at transaction {} (commit {})", key_of(table->definition().name), batch.xid,
                  batch.commit_lsn.to_string());
    // (One reload serves a whole chain: a table reloaded with another's no
    // longer needs it.)
    if (table->state == TableState::Active && table->runtime->needs_reload()) load_now(*table);
  }
  if (!batch.last_part()) {
    in_transaction_ = true;
    return;
  }
  in_transaction_ = false;
  if (!deferred_ends_.empty()) {
    boost::asio::post(io_, [this] {
      auto ends = std::move(deferred_ends_);
      deferred_ends_.clear();
      for (auto& [ticket, outcome] : ends) end_load(ticket, std::move(outcome));
    });
  }
  fed_lsn_ = batch.end_lsn;
  epoch_lsn_ = batch.end_lsn;
  epoch_commit_time_ = SystemClock::time_point(batch.commit_time.time_since_epoch());
  epoch_rows_ += static_cast<std::int64_t>(batch.row_count());
  if (!epoch_open_) epoch_started_ = Clock::now();
  epoch_open_ = true;
  if (epoch_rows_ >= config_.writer.max_batch_rows) {
    flush_epoch();
    return;
  }
  // Checked again once the stream has nothing more buffered (a posted
  // handler runs after the read that delivered this transaction).
  if (!flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(io_, [this] {
      flush_posted_ = false;
      flush_if_ready();
    });
  }
  arm_epoch_timer(kMinEpochGap);
}

void Daemon::arm_epoch_timer(Clock::duration after) {
  if (epoch_timer_armed_) return;
  epoch_timer_armed_ = true;
  epoch_timer_.expires_after(after);
  epoch_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled by a flush (which cleared the flag)
    epoch_timer_armed_ = false;
    if (!epoch_open_ || in_transaction_) return;
    const auto age = Clock::now() - epoch_started_;
    if (age >= config_.writer.max_batch_delay ||
        (applier_ && applier_->idle() && Clock::now() - last_flush_ >= kMinEpochGap)) {
      flush_epoch();
    } else {
      arm_epoch_timer(std::min<Clock::duration>(kMinEpochGap, config_.writer.max_batch_delay - age));
    }
  });
}

// Runs the table's epoch: its delta joins `work`, or only its frontier when
// the delta is empty.
void Daemon::step_into(Table& table, ApplyWork& work) {
  TableDelta delta;
  delta.pgs_id = table.pgs_id;
  delta.target = table.target;
  delta.rows = step_table(table);
  if (delta.rows.empty()) {
    work.frontier_only.push_back(table.pgs_id);
  } else {
    work.deltas.push_back(std::move(delta));
  }
}

// An epoch goes when the writer is free and the previous one went at least
// kMinEpochGap ago (each apply costs the server a few statements: under a
// stream of small transactions, fewer and bigger applies leave the server's
// CPU to the walsender; a lone transaction still goes at once); while the
// writer is busy it grows, up to max_batch_rows or max_batch_delay.
void Daemon::flush_if_ready() {
  if (epoch_open_ && !in_transaction_ && applier_ && applier_->idle() &&
      Clock::now() - last_flush_ >= kMinEpochGap) {
    flush_epoch();
  }
}

void Daemon::flush_epoch() {
  if (!epoch_open_ || !applier_) return;
  metrics_.epoch_changes.Observe(static_cast<double>(epoch_changes_));
  epoch_changes_ = 0;
  epochs_in_flight_.emplace_back(epoch_lsn_, epoch_first_commit_.value_or(SystemClock::now()));
  epoch_first_commit_.reset();
  epoch_open_ = false;
  epoch_rows_ = 0;
  epoch_timer_.cancel();
  epoch_timer_armed_ = false;
  last_flush_ = Clock::now();
  ApplyWork work;
  work.lsn = epoch_lsn_;
  work.commit_time = epoch_commit_time_;
  // Upstreams first, so that each hands its delta to its downstreams before
  // they step; a failure puts its downstreams in ERROR before they step.
  const std::vector<Table*> order = order_;
  for (Table* table : order) {
    if (table->full_and_current()) work.frontier_only.push_back(table->pgs_id);
    if (!table->fed() || !table->continuous()) continue;
    if (!table->runtime->pending()) {
      work.frontier_only.push_back(table->pgs_id);
      continue;
    }
    try {
      step_into(*table, work);
    } catch (const Error& error) {
      fail_table(*table, error);
    }
  }
  // Untouched tables follow at most every kFrontierOnlyEvery.
  if (work.deltas.empty() || Clock::now() - last_frontier_only_ >= kFrontierOnlyEvery) {
    last_frontier_only_ = Clock::now();
  } else {
    work.frontier_only.clear();
  }
  submitted_lsn_ = std::max(submitted_lsn_, work.lsn);
  submit(std::move(work));
}

// Our own frontier updates are WAL too, and the server answers each (an
// empty transaction skipped) with a keepalive: moving frontiers at every
// keepalive would feed itself. They move at most every kFrontierIdleEvery.
void Daemon::on_idle(Lsn wal_end) {
  if (in_transaction_ || !applier_) return;
  idle_lsn_ = std::max(idle_lsn_, wal_end);
  // Under load the server sends a keepalive whenever it waits for WAL: the
  // open epoch keeps growing (flush_if_ready decides), and the frontiers
  // follow once it is handed over.
  if (epoch_open_) return;
  if (Clock::now() - last_frontier_only_ >= kFrontierIdleEvery) submit_frontiers(idle_lsn_, false);
}

// Everything before `lsn` was delivered and fed: every continuous table is
// current up to it.
void Daemon::submit_frontiers(Lsn lsn, bool force) {
  if (lsn <= submitted_lsn_ && !force) return;
  ApplyWork work;
  work.lsn = std::max(lsn, submitted_lsn_);
  work.commit_time = SystemClock::now();
  for (auto& [key, table] : tables_) {
    if ((table.fed() && table.continuous()) || table.full_and_current())
      work.frontier_only.push_back(table.pgs_id);
  }
  submitted_lsn_ = work.lsn;
  last_frontier_only_ = Clock::now();
  submit(std::move(work));
}

void Daemon::on_message(const replication::ChangeBatch& batch, const replication::Change& change) {
  std::optional<catalog::Request> request;
  try {
    request = catalog::parse_request(batch.message_prefix(change), batch.message_content(change), schema());
  } catch (const Error& error) {
    spdlog::warn("ignoring a malformed SQL API request: {}", error.message());
    return;
  }
  if (!request) return;
  boost::asio::post(io_, [this, request = std::move(*request)] { handle_request(request); });
}

// Anyone may emit a logical message: a request counts only if its backend
// still runs as the role it names, and that role could do the same by hand
// (CREATE on the target's schema; SELECT on what a new query reads).
void Daemon::authorize(const catalog::Request& request, const QualifiedName& name) {
  PgConnection& conn = control();
  const std::string role = conn.quote_literal(request.role);
  const std::string backend = conn.query_value(
      "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid = " + std::to_string(request.pid) +
      " AND usename = " + role);
  if (backend != "1") {
    throw Error(ErrorKind::Config, "SQL API request " + request.id + " names a backend that does not exist",
                {.sqlstate = "42501"});
  }
  const std::string may_create =
      conn.query_value("SELECT coalesce(has_schema_privilege(" + role +
                       ", n.oid, 'CREATE'), false) FROM pg_catalog.pg_namespace n "
                       "WHERE n.nspname = " +
                       conn.quote_literal(name.schema) + " UNION ALL SELECT false LIMIT 1");
  if (may_create != "t") {
    throw Error(
        ErrorKind::Config,
        "permission denied: role " + request.role + " has no CREATE privilege on schema " + name.schema,
        {.sqlstate = "42501",
         .hint = "GRANT CREATE ON SCHEMA " + conn.quote_identifier(name.schema) + " TO " +
                 conn.quote_identifier(request.role) + ";"});
  }
}

void Daemon::handle_request(const catalog::Request& request) {
  auto answer = [this, request](const Error* error) {
    try {
      catalog::answer_request(control(), schema(), request,
                              error == nullptr ? catalog::RequestState::Done : catalog::RequestState::Failed,
                              error);
    } catch (const Error& failure) {
      reset_control();
      spdlog::warn("could not answer SQL API request {}: {}", request.id, failure.message());
    }
  };
  try {
    catalog::answer_request(control(), schema(), request, catalog::RequestState::Received);
    std::string why;
    auto name = parse_qualified_name(request.name, why);
    if (!name) throw Error(ErrorKind::Config, "invalid stream table name '" + request.name + "': " + why);
    const std::string key = key_of(*name);
    spdlog::info("SQL API: {} {} (role {}, pid {})", request.op, key, request.role, request.pid);
    authorize(request, *name);
    auto existing = tables_.find(key);
    if (request.op == "create") {
      if (existing != tables_.end()) {
        throw Error(ErrorKind::Config, "stream table " + key + " already exists",
                    {.sqlstate = "42P07", .hint = "Use alter_stream_table() to change it."});
      }
      StreamTableDefinition definition;
      definition.name = *name;
      definition.query = request.query;
      definition.source = "sql";
      if (request.refresh_mode && *request.refresh_mode == "FULL")
        definition.refresh_mode = RefreshMode::Full;
      if (request.schedule) {
        auto schedule = Schedule::parse(*request.schedule, why);
        if (!schedule) throw Error(ErrorKind::Config, "invalid schedule '" + *request.schedule + "': " + why);
        definition.schedule = *schedule;
      }
      Table& table = add_table(definition);
      if (!build_table(table, false)) {
        const Error failure = table.last_failure.value_or(Error(ErrorKind::Config, table.last_error));
        drop_table(key, false);
        answer(&failure);
        return;
      }
      for (const auto& relation : table.runtime->relations()) {
        const std::string may_read =
            control().query_value("SELECT has_table_privilege(" + control().quote_literal(request.role) +
                                  ", " + std::to_string(relation->oid) + "::oid, 'SELECT')");
        if (may_read != "t") {
          Error failure(ErrorKind::Config,
                        "permission denied: role " + request.role + " may not SELECT from " +
                            relation->schema + "." + relation->name,
                        {.sqlstate = "42501"});
          drop_table(key, false);
          answer(&failure);
          return;
        }
      }
      load_now(table, [this, answer, key](Table& loaded, const Error* error) {
        if (error != nullptr) {
          Error failure = *error;
          drop_table(key, loaded.created_target);  // the target it created for its load
          answer(&failure);
        } else {
          answer(nullptr);
        }
      });
      return;
    }
    if (existing == tables_.end()) {
      throw Error(ErrorKind::Config, "stream table " + key + " does not exist", {.sqlstate = "42P01"});
    }
    Table& table = existing->second;
    if (request.op == "drop") {
      drop_table(key, true);
      answer(nullptr);
      return;
    }
    if (request.op == "refresh") {
      load_now(table, [answer](Table&, const Error* error) { answer(error); });
      return;
    }
    if (request.op == "alter") {
      StreamTableDefinition definition = table.definition();
      if (!request.query.empty()) definition.query = request.query;
      if (request.refresh_mode) {
        definition.refresh_mode =
            *request.refresh_mode == "FULL" ? RefreshMode::Full : RefreshMode::Differential;
      }
      if (request.schedule) {
        auto schedule = Schedule::parse(*request.schedule, why);
        if (!schedule) throw Error(ErrorKind::Config, "invalid schedule '" + *request.schedule + "': " + why);
        definition.schedule = *schedule;
      }
      const bool changed = !definition.same_definition(table.definition());
      if (request.status && *request.status == "SUSPENDED") {
        abandon_load(table);
        table.state = TableState::Suspended;
        table.runtime = std::make_unique<StreamTable>(definition);
        index_tables();
        block_downstreams(table, "is SUSPENDED");
        catalog::set_status(control(), schema(), table.pgs_id, "SUSPENDED", std::nullopt, true);
        record_definition(table);
        answer(nullptr);
        return;
      }
      if (changed) {
        drop_table(key, true);
        Table& rebuilt = add_table(definition);
        load_now(rebuilt, [answer](Table&, const Error* error) { answer(error); });
        return;
      }
      if (table.state != TableState::Active) {
        table.failures = 0;
        table.runtime = std::make_unique<StreamTable>(definition);
        load_now(table, [answer](Table&, const Error* error) { answer(error); });
        return;
      }
      answer(nullptr);
      return;
    }
    throw Error(ErrorKind::Config, "unknown SQL API operation '" + request.op + "'");
  } catch (const Error& error) {
    if (classify(error) == ErrorAction::Retry) reset_control();
    answer(&error);
  }
}

}  // namespace

int run_daemon(const std::filesystem::path& config_path, Config config) {
  Daemon daemon(config_path, std::move(config));
  return daemon.run();
}

}  // namespace pgstream::daemon
