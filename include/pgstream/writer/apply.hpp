// Applying a stream table's consolidated delta to its target, with the
// frontier and a history row, in one transaction. See docs/WRITER.md.
//
// Contract:
// - Rows are COPY text-format lines of the user columns (copy_line.hpp), in
//   PostgreSQL's output format under prepare_session()'s settings. Equal
//   values must print as equal lines: the stored __pgs_hash is computed from
//   them. A row's binary form, when given, holds the same values: the line
//   is what is hashed and compared, the binary form what may be staged.
// - Every call is one transaction on `connection`: stage the rows with COPY
//   (binary format when every staged row has its binary form, text format
//   otherwise: a FULL table's rows, or a reconcile removing rows it read
//   back from the target, have only text) into a temp table of the target's shape
//   (ON COMMIT DELETE ROWS, created once per connection and shape, reused),
//   one MERGE into the target, the frontier in pgs_stream_tables and a
//   pgs_refresh_history row, COMMIT. A reader never sees part of it.
// - On any error the transaction is rolled back and the Error rethrown;
//   classify() says whether to retry. A delta that cannot be right (a keyed
//   target given a weight other than -1/+1 or two rows for one key; rows to
//   delete that are not in the target) throws Error{Internal} and changes
//   nothing.
// - REQUIRES: the connection is idle (not in a transaction) and was prepared
//   with prepare_session(); the target was made by create_target().
// - Not thread-safe per connection; different connections may apply
//   different targets in parallel (WriterPool).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "pgstream/common/lsn.hpp"
#include "pgstream/common/pg.hpp"
#include "pgstream/writer/target.hpp"

namespace pgstream::writer {

struct DeltaRow {
  std::string line;     // COPY text format of the user columns, no newline
  std::int64_t weight;  // copies added (> 0) or removed (< 0)
  // The same user columns as COPY binary fields (engine/datum_binary.hpp:
  // per column a big-endian int32 length, -1 for NULL, and the value's send
  // format), or empty when the row only has its text form.
  std::string binary = {};
};

// pgs_refresh_history.action.
enum class Action { Differential, Full, Reinitialize };

struct ApplyStats {
  std::int64_t inserted = 0;
  std::int64_t updated = 0;  // keyed targets only: a key removed and added in one delta
  std::int64_t deleted = 0;

  bool operator==(const ApplyStats&) const = default;
};

struct Frontier {
  Lsn lsn;  // every source commit before it is applied
  std::optional<std::chrono::system_clock::time_point> data_timestamp;  // commit time at lsn, if known
};

// Applies `delta` (consolidated here again: equal lines summed, zeros
// dropped), sets frontier_lsn = greatest(old, lsn), data_timestamp (never
// backwards), last_refresh_at, consecutive_errors = 0, last_error = NULL,
// is_populated, updated_at, and inserts a SUCCESS history row with the counts.
ApplyStats apply_delta(PgConnection& connection, const TargetSpec& spec, std::span<const DeltaRow> delta,
                       const Frontier& frontier, Action action);

// Makes the target equal to `contents` (the whole result; weights are copy
// counts, > 0): reads the target in the same transaction, computes the
// difference in memory and applies only it, exactly like apply_delta. Rows
// that are already right are not touched.
ApplyStats reconcile(PgConnection& connection, const TargetSpec& spec, std::span<const DeltaRow> contents,
                     const Frontier& frontier, Action action);

// Frontiers only (no target changed): one transaction setting, for each
// (pgs_id, frontier), frontier_lsn = greatest(frontier_lsn, lsn) and
// data_timestamp likewise. No history row. Unknown ids are ignored.
void advance_frontiers(PgConnection& connection, const std::string& catalog_schema,
                       std::span<const std::pair<std::int64_t, Frontier>> frontiers);

[[nodiscard]] std::string_view to_string(Action action) noexcept;

}  // namespace pgstream::writer
