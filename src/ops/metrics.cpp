#include "pgstream/ops/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "pgstream/common/version.hpp"

namespace pgstream::ops {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// Apply latency: from 1 ms to a minute.
Histogram::BucketBoundaries apply_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

// Epoch sizes in changes: 1 to 1M, by powers of 4.
Histogram::BucketBoundaries epoch_buckets() {
  return {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576};
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      changes_decoded_total(
          BuildCounter()
              .Name("pgstream_changes_decoded_total")
              .Help("Row changes (insert, update, delete) decoded from the replication stream")
              .Register(*registry_)
              .Add({})),
      transactions_decoded_total(BuildCounter()
                                     .Name("pgstream_transactions_decoded_total")
                                     .Help("Source transactions decoded from the replication stream")
                                     .Register(*registry_)
                                     .Add({})),
      decoded_bytes_total(
          BuildCounter()
              .Name("pgstream_decoded_bytes_total")
              .Help("Bytes of replication stream data received (pgoutput messages and keepalives)")
              .Register(*registry_)
              .Add({})),
      replication_lag_bytes(BuildGauge()
                                .Name("pgstream_replication_lag_bytes")
                                .Help("WAL bytes between the server's end of WAL (its last message) and the "
                                      "LSN confirmed to the slot")
                                .Register(*registry_)
                                .Add({})),
      replication_lag_seconds(BuildGauge()
                                  .Name("pgstream_replication_lag_seconds")
                                  .Help("Seconds since the commit of the oldest source transaction received "
                                        "but not yet applied (0 when none waits)")
                                  .Register(*registry_)
                                  .Add({})),
      confirmed_flush_lsn(
          BuildGauge()
              .Name("pgstream_confirmed_flush_lsn_bytes")
              .Help("The LSN last reported to the slot as flushed (durably applied), as a byte position")
              .Register(*registry_)
              .Add({})),
      replication_connected(BuildGauge()
                                .Name("pgstream_replication_connected")
                                .Help("1 while the replication connection streams, else 0")
                                .Register(*registry_)
                                .Add({})),
      epoch_changes(BuildHistogram()
                        .Name("pgstream_epoch_changes")
                        .Help("Row changes per engine epoch")
                        .Register(*registry_)
                        .Add({}, epoch_buckets())),
      apply_queue_epochs(BuildGauge()
                             .Name("pgstream_apply_queue_epochs")
                             .Help("Epochs waiting for the writer (the applier's queue; at most 8)")
                             .Register(*registry_)
                             .Add({})),
      spool_memory_bytes(
          BuildGauge()
              .Name("pgstream_spool_memory_bytes")
              .Help("Bytes of streamed, still open source transactions held in memory by the spool")
              .Register(*registry_)
              .Add({})),
      spilled_bytes_total(BuildCounter()
                              .Name("pgstream_spilled_bytes_total")
                              .Help("Bytes of open source transactions moved from memory to local disk")
                              .Register(*registry_)
                              .Add({})),
      apply_duration_(BuildHistogram()
                          .Name("pgstream_apply_duration_seconds")
                          .Help("Time of one writer transaction applying a delta to a stream table (COPY, "
                                "MERGE, frontier, commit; reconciles too)")
                          .Register(*registry_)),
      merge_rows_(BuildCounter()
                      .Name("pgstream_merge_rows_total")
                      .Help("Rows of stream tables inserted, updated or deleted by the writer (its split of "
                            "the delta it MERGEs; updated: keyed targets only)")
                      .Register(*registry_)),
      frontier_lag_(
          BuildGauge()
              .Name("pgstream_table_frontier_lag_seconds")
              .Help("Seconds between now and the source commit time at a stream table's frontier (staleness)")
              .Register(*registry_)),
      state_bytes_(BuildGauge()
                       .Name("pgstream_state_bytes")
                       .Help("Bytes of in-memory state held for a stream table: its dataflow's "
                             "arrangements and its sources' row copies (allocated capacity)")
                       .Register(*registry_)),
      table_rows_(BuildGauge()
                      .Name("pgstream_table_rows")
                      .Help("Rows in a stream table: its whole result at the last load, plus the rows "
                            "inserted minus deleted since")
                      .Register(*registry_)),
      errors_(BuildCounter()
                  .Name("pgstream_errors_total")
                  .Help("Errors met by the daemon, by kind (config, unsupported, connection, database, "
                        "protocol, io, internal)")
                  .Register(*registry_)),
      reconnects_(BuildCounter()
                      .Name("pgstream_reconnects_total")
                      .Help("Reconnections to PostgreSQL by connection (replication, writer, catalog)")
                      .Register(*registry_)),
      stream_tables_(BuildGauge()
                         .Name("pgstream_stream_tables")
                         .Help("Stream tables by status (active, loading, error, suspended)")
                         .Register(*registry_)) {
  // Every bounded label value exists from the start, at 0: rate() and
  // dashboards see the series before the first event.
  for (const char* kind : {"config", "unsupported", "connection", "database", "protocol", "io", "internal"})
    (void)errors(kind);
  for (const char* connection : {"replication", "writer", "catalog"}) (void)reconnects(connection);
  for (const char* status : {"active", "loading", "error", "suspended"}) (void)stream_tables(status);
  BuildGauge()
      .Name("pgstream_build_info")
      .Help("The running pgstream's version and build type (always 1)")
      .Register(*registry_)
      .Add({{"version", kVersion}, {"build_type", kBuildType}})
      .Set(1);
}

std::string Metrics::serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

TableMetrics Metrics::table(const std::string& name) {
  const prometheus::Labels labels{{"table", name}};
  auto with_action = [&](const char* action) {
    return &merge_rows_.Add({{"table", name}, {"action", action}});
  };
  return TableMetrics{
      .apply_duration_seconds = &apply_duration_.Add(labels, apply_buckets()),
      .rows_inserted_total = with_action("inserted"),
      .rows_updated_total = with_action("updated"),
      .rows_deleted_total = with_action("deleted"),
      .frontier_lag_seconds = &frontier_lag_.Add(labels),
      .state_bytes = &state_bytes_.Add(labels),
      .rows = &table_rows_.Add(labels),
  };
}

void Metrics::forget_table(const std::string& name) {
  const TableMetrics metrics = table(name);
  apply_duration_.Remove(metrics.apply_duration_seconds);
  merge_rows_.Remove(metrics.rows_inserted_total);
  merge_rows_.Remove(metrics.rows_updated_total);
  merge_rows_.Remove(metrics.rows_deleted_total);
  frontier_lag_.Remove(metrics.frontier_lag_seconds);
  state_bytes_.Remove(metrics.state_bytes);
  table_rows_.Remove(metrics.rows);
}

prometheus::Counter& Metrics::errors(std::string_view kind) {
  return errors_.Add({{"kind", std::string(kind)}});
}

prometheus::Counter& Metrics::reconnects(std::string_view connection) {
  return reconnects_.Add({{"connection", std::string(connection)}});
}

prometheus::Gauge& Metrics::stream_tables(std::string_view status) {
  return stream_tables_.Add({{"status", std::string(status)}});
}

}  // namespace pgstream::ops
