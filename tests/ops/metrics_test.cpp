#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "pgstream/ops/metrics.hpp"
#include "support/prometheus_text.hpp"

using pgstream::ops::Metrics;
using pgstream::testing::metric_families;

TEST_CASE("the metric families follow Prometheus naming conventions", "[ops][metrics]") {
  Metrics metrics;
  (void)metrics.table("public.t");
  metrics.errors("database").Increment();
  metrics.reconnects("replication").Increment();
  const std::string text = metrics.serialize();
  const auto names = metric_families(text);
  for (const char* required : {"pgstream_replication_lag_bytes",
                               "pgstream_changes_decoded_total",
                               "pgstream_apply_duration_seconds",
                               "pgstream_table_frontier_lag_seconds",
                               "pgstream_state_bytes",
                               "pgstream_table_rows",
                               "pgstream_errors_total",
                               "pgstream_build_info",
                               "pgstream_merge_rows_total",
                               "pgstream_reconnects_total",
                               "pgstream_spilled_bytes_total",
                               "pgstream_spool_memory_bytes",
                               "pgstream_replication_connected",
                               "pgstream_stream_tables",
                               "pgstream_apply_queue_epochs",
                               "pgstream_transactions_decoded_total",
                               "pgstream_decoded_bytes_total",
                               "pgstream_epoch_changes",
                               "pgstream_replication_lag_seconds",
                               "pgstream_confirmed_flush_lsn_bytes"}) {
    CAPTURE(required);
    CHECK(names.count(required) == 1);
  }
  const std::regex convention(
      "^pgstream_[a-z_]+_(total|seconds|bytes|rows|changes|info|connected|tables|epochs)$");
  for (const auto& name : names) {
    CAPTURE(name);
    CHECK(std::regex_match(name, convention));
    // Counters and only counters end in _total.
    const bool counter = text.find("# TYPE " + name + " counter") != std::string::npos;
    CHECK(counter == (name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0));
  }
}

TEST_CASE("per-table metrics carry the table label and go away with the table", "[ops][metrics]") {
  Metrics metrics;
  auto table = metrics.table("analytics.totals");
  table.rows_inserted_total->Increment(3);
  table.apply_duration_seconds->Observe(0.004);
  table.rows->Set(42);
  std::string text = metrics.serialize();
  CHECK(text.find(R"(pgstream_merge_rows_total{action="inserted",table="analytics.totals"} 3)") !=
        std::string::npos);
  CHECK(text.find(R"(pgstream_table_rows{table="analytics.totals"} 42)") != std::string::npos);
  CHECK(text.find(R"(pgstream_apply_duration_seconds_count{table="analytics.totals"} 1)") !=
        std::string::npos);
  // Asking again gives the same series, not a second one.
  metrics.table("analytics.totals").rows_inserted_total->Increment();
  CHECK(metrics.serialize().find(R"(action="inserted",table="analytics.totals"} 4)") != std::string::npos);
  metrics.forget_table("analytics.totals");
  CHECK(metrics.serialize().find("analytics.totals") == std::string::npos);
}

TEST_CASE("bounded label values exist from the start, at 0", "[ops][metrics]") {
  Metrics metrics;
  const std::string text = metrics.serialize();
  for (const char* series :
       {R"(pgstream_errors_total{kind="internal"} 0)", R"(pgstream_errors_total{kind="connection"} 0)",
        R"(pgstream_reconnects_total{connection="writer"} 0)",
        R"(pgstream_reconnects_total{connection="replication"} 0)",
        R"(pgstream_stream_tables{status="error"} 0)", "pgstream_replication_connected 0"}) {
    CAPTURE(series);
    CHECK(text.find(series) != std::string::npos);
  }
}
