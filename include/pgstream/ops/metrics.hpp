// Every metric pg_stream exports, declared once (SPEC §7).
//
// Names follow Prometheus conventions: pgstream_<noun>_<unit>, counters end in
// _total, units are seconds and bytes. Label sets are bounded: `table` takes
// one value per stream table, `kind`/`action`/`connection`/`status` a fixed
// handful. Thread-safe: prometheus-cpp's metrics are atomic and families lock
// internally; the per-table accessors may be called from any thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace pgstream::ops {

// The metrics of one stream table; removed with forget_table().
struct TableMetrics {
  prometheus::Histogram* apply_duration_seconds;
  prometheus::Counter* rows_inserted_total;
  prometheus::Counter* rows_updated_total;
  prometheus::Counter* rows_deleted_total;
  prometheus::Gauge* frontier_lag_seconds;
  prometheus::Gauge* state_bytes;
  prometheus::Gauge* rows;
};

class Metrics {
  // First: every family below is registered in it during construction.
  std::shared_ptr<prometheus::Registry> registry_;

 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  [[nodiscard]] prometheus::Registry& registry() noexcept { return *registry_; }
  [[nodiscard]] std::shared_ptr<prometheus::Registry> shared_registry() const noexcept { return registry_; }

  // The text exposition format (version 0.0.4) of everything registered.
  [[nodiscard]] std::string serialize() const;

  [[nodiscard]] TableMetrics table(const std::string& name);
  void forget_table(const std::string& name);

  // Errors by kind: the ErrorKind names of pgstream/common/error.hpp.
  prometheus::Counter& errors(std::string_view kind);
  // Reconnects by connection: replication, writer, catalog.
  prometheus::Counter& reconnects(std::string_view connection);
  // Stream tables by status: active, error, suspended.
  prometheus::Gauge& stream_tables(std::string_view status);

  // Process-wide metrics.
  prometheus::Counter& changes_decoded_total;
  prometheus::Counter& transactions_decoded_total;
  prometheus::Counter& decoded_bytes_total;
  prometheus::Gauge& replication_lag_bytes;
  prometheus::Gauge& replication_lag_seconds;
  prometheus::Gauge& confirmed_flush_lsn;  // as a number, for rate()
  prometheus::Gauge& replication_connected;
  prometheus::Histogram& epoch_changes;
  prometheus::Gauge& apply_queue_epochs;
  prometheus::Gauge& spool_memory_bytes;
  prometheus::Counter& spilled_bytes_total;

 private:
  prometheus::Family<prometheus::Histogram>& apply_duration_;
  prometheus::Family<prometheus::Counter>& merge_rows_;
  prometheus::Family<prometheus::Gauge>& frontier_lag_;
  prometheus::Family<prometheus::Gauge>& state_bytes_;
  prometheus::Family<prometheus::Gauge>& table_rows_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& reconnects_;
  prometheus::Family<prometheus::Gauge>& stream_tables_;
};

}  // namespace pgstream::ops
