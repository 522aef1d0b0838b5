// The daemon (`pgstream run`): replication stream -> per-table dataflows ->
// writer pool, with the catalog, the SQL API and reloads around them.
//
// Contract (SPEC §2-§6):
// - Start: migrate the catalog, build every stream table (YAML and SQL
//   API), publish their sources, create the slot with an exported snapshot,
//   load every table from that snapshot and reconcile each target with its
//   recomputed contents (only differences are written: a reader never sees
//   a target empty or wrong), then stream from the slot's consistent point.
//   Every start (after a clean stop, kill -9, a lost slot) takes a new
//   snapshot this way: nothing is lost or applied twice, whatever happened.
// - Epochs: whole source transactions, at most writer.max_batch_rows rows
//   and writer.max_batch_delay old; each table's delta is applied with its
//   frontier in one transaction; the slot is confirmed once every target
//   reached the epoch. Idle: frontiers follow the server's keepalives at
//   least once a second.
// - A table added while running (SIGHUP, create_stream_table) is loaded
//   from a temporary slot's snapshot and then fed the stream's transactions
//   from that snapshot's consistent point on; the others keep running.
// - Faults stay local: a table whose query fails, whose source is dropped
//   or retyped, or whose apply fails for good goes to ERROR; transient
//   errors are retried with backoff; the process only exits on SIGTERM/
//   SIGINT (0) or when it cannot go on at all (2).
#pragma once

#include <filesystem>

#include "pgstream/daemon/config.hpp"

namespace pgstream::daemon {

// Runs until SIGTERM/SIGINT; the process exit code.
[[nodiscard]] int run_daemon(const std::filesystem::path& config_path, Config config);

}  // namespace pgstream::daemon
