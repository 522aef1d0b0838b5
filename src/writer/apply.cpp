#include "pgstream/writer/apply.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "merge_statement.hpp"
#include "pgstream/common/big_endian.hpp"
#include "pgstream/writer/copy_line.hpp"

namespace pgstream::writer {

namespace {

constexpr std::size_t kCopyChunkBytes = std::size_t{1} << 20;
constexpr std::size_t kAnalyzeRows = 1000;  // bigger stagings get statistics before the MERGE

// One consolidated change of the target: a line with its signed weight and,
// for rows read back from the target, the hash stored with them.
struct Change {
  std::string_view line;
  std::string_view binary;  // empty: text only
  std::int64_t weight;
  std::optional<std::int64_t> stored_hash;
};

// A staged row: keyless targets stage signed weights, keyed targets +1 for
// an upsert ('U') and -1 for a delete ('D').
struct Staged {
  std::string_view line;
  std::string_view binary;
  std::int64_t hash;
  std::int64_t weight;
};

struct Plan {
  std::vector<Staged> rows;
  std::int64_t expected_affected = 0;  // what MERGE's command tag must report
  ApplyStats stats;
};

Error internal(const TargetSpec& spec, const std::string& what, std::string_view line = {}) {
  constexpr std::size_t kShown = 200;
  std::string detail;
  if (!line.empty()) {
    detail = "row: " + std::string(line.substr(0, kShown)) + (line.size() > kShown ? "..." : "");
  }
  return Error(ErrorKind::Internal, "stream table " + spec.display_name() + ": " + what,
               {.sqlstate = "", .detail = std::move(detail), .hint = ""});
}

// Equal lines summed, zeros dropped, in order of first appearance.
std::vector<Change> consolidate(std::span<const DeltaRow> rows) {
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(rows.size());
  std::vector<Change> out;
  for (const auto& row : rows) {
    const auto [it, inserted] = index.try_emplace(row.line, out.size());
    if (inserted) {
      out.push_back({row.line, row.binary, row.weight, std::nullopt});
    } else {
      out[it->second].weight += row.weight;
    }
  }
  std::erase_if(out, [](const Change& change) { return change.weight == 0; });
  return out;
}

void split_checked(const TargetSpec& spec, std::string_view line, std::vector<std::string_view>& fields) {
  if (line.find_first_of("\n\r") != std::string_view::npos) {
    throw internal(spec, "a row holds a raw newline (COPY text format escapes it as \\n)", line);
  }
  split_copy_fields(line, fields);
  if (fields.size() != spec.columns.size()) {
    throw internal(spec,
                   "a row has " + std::to_string(fields.size()) + " fields, the target " +
                       std::to_string(spec.columns.size()) + " columns",
                   line);
  }
}

Plan plan_keyless(const TargetSpec& spec, const std::vector<Change>& changes) {
  Plan plan;
  std::vector<std::string_view> fields;
  for (const auto& change : changes) {
    split_checked(spec, change.line, fields);
    plan.rows.push_back(
        {change.line, change.binary, change.stored_hash.value_or(stable_hash(change.line)), change.weight});
    if (change.weight > 0) {
      plan.stats.inserted += change.weight;
    } else {
      plan.stats.deleted -= change.weight;
    }
  }
  plan.expected_affected = plan.stats.inserted + plan.stats.deleted;
  return plan;
}

// One op per key: a key with an added row is upserted with it; a key with
// only a removed row is deleted.
Plan plan_keyed(const TargetSpec& spec, const std::vector<Change>& changes) {
  struct KeyOps {
    const Change* added = nullptr;
    const Change* removed = nullptr;
    std::int64_t removed_hash = 0;
    std::int64_t added_hash = 0;
  };
  std::unordered_map<std::string, std::size_t> index;
  std::vector<KeyOps> keys;
  std::vector<std::string_view> fields;
  std::string key_text;
  for (const auto& change : changes) {
    split_checked(spec, change.line, fields);
    if (change.weight != 1 && change.weight != -1) {
      throw internal(spec,
                     "weight " + std::to_string(change.weight) +
                         " for a row of a keyed target: its key is not a key of the result",
                     change.line);
    }
    key_text.clear();
    for (const int k : spec.key) {
      key_text += fields[static_cast<std::size_t>(k)];
      key_text += '\t';
    }
    const auto [it, inserted] = index.try_emplace(key_text, keys.size());
    if (inserted) keys.emplace_back();
    KeyOps& ops = keys[it->second];
    const std::int64_t hash = change.stored_hash.value_or(stable_hash(fields, spec.key));
    if (change.weight > 0) {
      if (ops.added != nullptr)
        throw internal(spec, "two rows added for one key: its key is not unique", change.line);
      ops.added = &change;
      ops.added_hash = hash;
    } else {
      if (ops.removed != nullptr) {
        throw internal(spec, "two rows removed for one key: its key is not unique", change.line);
      }
      ops.removed = &change;
      ops.removed_hash = hash;
    }
  }
  Plan plan;
  for (const auto& ops : keys) {
    if (ops.added != nullptr) {
      // Match the stored row by the hash it was stored with.
      plan.rows.push_back({ops.added->line, ops.added->binary,
                           ops.removed != nullptr ? ops.removed_hash : ops.added_hash, 1});
      ++(ops.removed != nullptr ? plan.stats.updated : plan.stats.inserted);
    } else {
      plan.rows.push_back({ops.removed->line, ops.removed->binary, ops.removed_hash, -1});
      ++plan.stats.deleted;
    }
  }
  plan.expected_affected = static_cast<std::int64_t>(plan.rows.size());
  return plan;
}

Plan make_plan(const TargetSpec& spec, const std::vector<Change>& changes) {
  return spec.keyed() ? plan_keyed(spec, changes) : plan_keyless(spec, changes);
}

void append_number(std::string& out, std::int64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

void drain_results(PGconn* conn) noexcept {
  while (PgResult(PQgetResult(conn))) {
  }
}

// COPY's binary format: a signature, flags and header extension length
// (both 0) before the rows; a field count of -1 after them.
constexpr std::string_view kBinaryCopyHeader("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);

// The staged columns after the user columns: __pgs_hash, then __pgs_op
// ('U'/'D') or __pgs_weight.
void append_text_row(std::string& out, const Staged& row, bool keyed) {
  out += row.line;
  out += '\t';
  append_number(out, row.hash);
  out += '\t';
  if (keyed) {
    out += row.weight > 0 ? 'U' : 'D';
  } else {
    append_number(out, row.weight > 0 ? 1 : row.weight);
  }
  out += '\n';
}

void append_binary_row(std::string& out, const Staged& row, std::size_t user_columns, bool keyed) {
  append_big_endian(out, static_cast<std::int16_t>(user_columns + 2));
  out += row.binary;
  append_big_endian(out, std::int32_t{8});
  append_big_endian(out, row.hash);
  if (keyed) {
    append_big_endian(out, std::int32_t{1});
    out += row.weight > 0 ? 'U' : 'D';
  } else {
    append_big_endian(out, std::int32_t{8});
    append_big_endian(out, row.weight > 0 ? std::int64_t{1} : row.weight);
  }
}

// Binary staging spares the server parsing every value's text; it needs
// every row's binary form.
bool stages_binary(const Plan& plan) {
  return std::all_of(plan.rows.begin(), plan.rows.end(),
                     [](const Staged& row) { return !row.binary.empty(); });
}

void copy_in(PgConnection& connection, const MergeStatement& statement, const Plan& plan,
             const TargetSpec& spec) {
  PGconn* conn = connection.get();
  const bool binary = stages_binary(plan);
  const PgResult start(PQexec(conn, (binary ? statement.copy_in_binary : statement.copy_in).c_str()));
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) throw result_error(conn, start.get(), "staging rows");
  try {
    std::string buffer;
    buffer.reserve(kCopyChunkBytes + 4096);
    auto flush = [&] {
      if (PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) != 1) {
        throw result_error(conn, nullptr, "staging rows");
      }
      buffer.clear();
    };
    if (binary) buffer += kBinaryCopyHeader;
    for (const auto& row : plan.rows) {
      // Keyless insertions: one staged row per copy (see MergeStatement).
      const std::int64_t copies = !spec.keyed() && row.weight > 0 ? row.weight : 1;
      for (std::int64_t copy = 0; copy < copies; ++copy) {
        if (binary) {
          append_binary_row(buffer, row, spec.columns.size(), spec.keyed());
        } else {
          append_text_row(buffer, row, spec.keyed());
        }
        if (buffer.size() >= kCopyChunkBytes) flush();
      }
    }
    if (binary) append_big_endian(buffer, std::int16_t{-1});
    if (!buffer.empty()) flush();
  } catch (...) {
    (void)PQputCopyEnd(conn, "pgstream: staging aborted");
    drain_results(conn);
    throw;
  }
  if (PQputCopyEnd(conn, nullptr) != 1) throw result_error(conn, nullptr, "staging rows");
  const PgResult end(PQgetResult(conn));
  drain_results(conn);
  if (!result_ok(end.get())) throw result_error(conn, end.get(), "staging rows");
}

struct StoredRows {
  std::vector<std::string> lines;  // "user columns\t__pgs_hash"
};

StoredRows copy_out(PgConnection& connection, const MergeStatement& statement) {
  PGconn* conn = connection.get();
  const PgResult start(PQexec(conn, statement.copy_out.c_str()));
  if (PQresultStatus(start.get()) != PGRES_COPY_OUT)
    throw result_error(conn, start.get(), "reading the target");
  StoredRows rows;
  for (;;) {
    char* data = nullptr;
    const int size = PQgetCopyData(conn, &data, 0);
    if (size > 0) {
      rows.lines.emplace_back(data, static_cast<std::size_t>(size) - 1);  // without its '\n'
      PQfreemem(data);
    } else if (size == -1) {
      break;
    } else {
      throw result_error(conn, nullptr, "reading the target");
    }
  }
  const PgResult end(PQgetResult(conn));
  drain_results(conn);
  if (!result_ok(end.get())) throw result_error(conn, end.get(), "reading the target");
  return rows;
}

// "2026-01-02 03:04:05.678901+00", or NULL.
std::string timestamp_sql(const std::optional<std::chrono::system_clock::time_point>& time) {
  if (!time) return "NULL::timestamptz";
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time->time_since_epoch()).count();
  std::int64_t seconds = micros / 1'000'000;
  std::int64_t fraction = micros % 1'000'000;
  if (fraction < 0) {
    fraction += 1'000'000;
    --seconds;
  }
  const auto time_t_seconds = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time_t_seconds, &parts);
  char text[64];
  std::snprintf(text, sizeof text, "'%04d-%02d-%02d %02d:%02d:%02d.%06lld+00'::timestamptz",
                parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
                parts.tm_sec, static_cast<long long>(fraction));
  return text;
}

std::string lsn_sql(const Lsn& lsn) { return "'" + lsn.to_string() + "'::pg_lsn"; }

// The frontier and the history row, in the apply's transaction.
void record(PgConnection& connection, const TargetSpec& spec, const ApplyStats& stats,
            const Frontier& frontier, Action action) {
  const std::string catalog = connection.quote_identifier(spec.catalog_schema);
  const std::string lsn = lsn_sql(frontier.lsn);
  PgResult result = connection.exec(
      "WITH st AS (UPDATE " + catalog + ".pgs_stream_tables SET frontier_lsn = greatest(frontier_lsn, " +
      lsn + "), data_timestamp = greatest(data_timestamp, " + timestamp_sql(frontier.data_timestamp) +
      "), last_refresh_at = now(), consecutive_errors = 0, last_error = NULL, is_populated = true, "
      "updated_at = now() WHERE pgs_id = " +
      std::to_string(spec.pgs_id) + " RETURNING pgs_id) INSERT INTO " + catalog +
      ".pgs_refresh_history (pgs_id, frontier_lsn, action, rows_inserted, rows_updated, rows_deleted, "
      "start_time, end_time, status) SELECT pgs_id, " +
      lsn + ", '" + std::string(to_string(action)) + "', " + std::to_string(stats.inserted) + ", " +
      std::to_string(stats.updated) + ", " + std::to_string(stats.deleted) +
      ", now(), clock_timestamp(), 'SUCCESS' FROM st");
  if (std::string_view(PQcmdTuples(result.get())) != "1") {
    throw Error(ErrorKind::Database,
                "stream table " + spec.display_name() + " (pgs_id " + std::to_string(spec.pgs_id) +
                    ") is not in " + catalog + ".pgs_stream_tables",
                {.sqlstate = "", .detail = "", .hint = "It was dropped while its changes were applied."});
  }
}

// Stages and merges `plan`, records the frontier, commits.
ApplyStats apply_plan(PgConnection& connection, const TargetSpec& spec, const MergeStatement& statement,
                      const Plan& plan, const Frontier& frontier, Action action, Transaction& transaction) {
  if (!plan.rows.empty()) {
    copy_in(connection, statement, plan, spec);
    // Keyless deletions probe the target per staged row: the planner needs
    // the staging table's size. A keyed merge is a hash join either way.
    if (!spec.keyed() && plan.rows.size() >= kAnalyzeRows) connection.exec("ANALYZE " + statement.staging);
    PgResult merged = connection.exec(statement.merge);
    const std::string_view tag = PQcmdTuples(merged.get());
    std::int64_t affected = -1;
    std::from_chars(tag.data(), tag.data() + tag.size(), affected);
    if (affected != plan.expected_affected) {
      throw Error(
          ErrorKind::Internal, "stream table " + spec.display_name() + " lost rows",
          {.sqlstate = "",
           .detail = "the MERGE changed " + std::to_string(affected) + " rows, the delta " +
                     std::to_string(plan.expected_affected) +
                     ": rows to delete or update were not in the target",
           .hint = "Something other than pgstream changed the table; reinitialize the stream table."});
    }
  }
  record(connection, spec, plan.stats, frontier, action);
  transaction.commit();
  return plan.stats;
}

// The changes that turn the stored rows into `desired`; removed rows carry
// the hash they were stored with.
std::vector<Change> difference(const TargetSpec& spec, const std::vector<Change>& desired,
                               const StoredRows& stored) {
  struct Copies {
    std::int64_t hash;
    std::int64_t count;
  };
  std::unordered_map<std::string_view, std::vector<Copies>> have;
  for (const auto& text : stored.lines) {
    const std::size_t tab = text.rfind('\t');
    std::int64_t hash = 0;
    if (tab == std::string::npos ||
        std::from_chars(text.data() + tab + 1, text.data() + text.size(), hash).ec != std::errc()) {
      throw internal(spec, "unreadable stored row", text);
    }
    auto& copies = have[std::string_view(text).substr(0, tab)];
    auto same = std::find_if(copies.begin(), copies.end(), [&](const Copies& c) { return c.hash == hash; });
    if (same == copies.end()) {
      copies.push_back({hash, 1});
    } else {
      ++same->count;
    }
  }
  std::vector<Change> changes;
  auto remove = [&](std::string_view line, std::vector<Copies>& copies, std::int64_t count) {
    for (auto& c : copies) {
      const std::int64_t n = std::min(count, c.count);
      if (n > 0) changes.push_back({line, {}, -n, c.hash});
      count -= n;
    }
  };
  for (const auto& want : desired) {
    if (want.weight < 0) throw internal(spec, "negative copy count in the full contents", want.line);
    const auto found = have.find(want.line);
    std::int64_t count = 0;
    if (found != have.end()) {
      for (const auto& c : found->second) count += c.count;
      if (count > want.weight) remove(want.line, found->second, count - want.weight);
      have.erase(found);
    }
    if (want.weight > count) changes.push_back({want.line, want.binary, want.weight - count, std::nullopt});
  }
  for (auto& [line, copies] : have) remove(line, copies, std::numeric_limits<std::int64_t>::max());
  return changes;
}

}  // namespace

std::string_view to_string(Action action) noexcept {
  switch (action) {
    case Action::Differential: return "DIFFERENTIAL";
    case Action::Full: return "FULL";
    case Action::Reinitialize: return "REINITIALIZE";
  }
  return "DIFFERENTIAL";
}

ApplyStats apply_delta(PgConnection& connection, const TargetSpec& spec, std::span<const DeltaRow> delta,
                       const Frontier& frontier, Action action) {
  const Plan plan = make_plan(spec, consolidate(delta));
  const MergeStatement statement = MergeStatement::build(connection, spec);
  Transaction transaction(connection, plan.rows.empty() ? std::string() : statement.create_staging);
  // Exactly once: a retry after a COMMIT whose answer was lost finds its own
  // frontier and applies nothing (the catalog row is locked until COMMIT, so
  // two appliers cannot both pass this check).
  const std::string applied = connection.query_value(
      "SELECT coalesce((SELECT frontier_lsn >= " + lsn_sql(frontier.lsn) + " FROM " +
      connection.quote_identifier(spec.catalog_schema) +
      ".pgs_stream_tables WHERE pgs_id = " + std::to_string(spec.pgs_id) + " FOR UPDATE), false)");
  if (applied == "t") return {};  // the transaction rolls back on its way out
  return apply_plan(connection, spec, statement, plan, frontier, action, transaction);
}

ApplyStats reconcile(PgConnection& connection, const TargetSpec& spec, std::span<const DeltaRow> contents,
                     const Frontier& frontier, Action action) {
  const std::vector<Change> desired = consolidate(contents);
  const MergeStatement statement = MergeStatement::build(connection, spec);
  Transaction transaction(connection, statement.create_staging);
  const StoredRows stored = copy_out(connection, statement);
  const Plan plan = make_plan(spec, difference(spec, desired, stored));
  return apply_plan(connection, spec, statement, plan, frontier, action, transaction);
}

void advance_frontiers(PgConnection& connection, const std::string& catalog_schema,
                       std::span<const std::pair<std::int64_t, Frontier>> frontiers) {
  if (frontiers.empty()) return;
  std::string values;
  for (const auto& [pgs_id, frontier] : frontiers) {
    if (!values.empty()) values += ", ";
    values += "(" + std::to_string(pgs_id) + "::bigint, " + lsn_sql(frontier.lsn) + ", " +
              timestamp_sql(frontier.data_timestamp) + ")";
  }
  const std::string catalog = connection.quote_identifier(catalog_schema);
  Transaction transaction(connection);
  connection.exec("UPDATE " + catalog +
                  ".pgs_stream_tables t SET frontier_lsn = greatest(t.frontier_lsn, v.lsn), "
                  "data_timestamp = greatest(t.data_timestamp, v.ts), updated_at = now() FROM (VALUES " +
                  values + ") v(id, lsn, ts) WHERE t.pgs_id = v.id");
  transaction.commit();
}

}  // namespace pgstream::writer
