#include "stream_probe.hpp"

#include <charconv>

namespace pgstream::replication::testing {

std::string describe_value(const ColumnValue& value) {
  switch (value.kind) {
    case ColumnKind::Null: return "NULL";
    case ColumnKind::UnchangedToast: return "TOAST";
    case ColumnKind::Text: return std::string(value.bytes);
    case ColumnKind::Binary: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "\\x";
      for (const char c : value.bytes) {
        out += kHex[(static_cast<unsigned char>(c) >> 4U) & 0xFU];
        out += kHex[static_cast<unsigned char>(c) & 0xFU];
      }
      return out;
    }
  }
  return "?";
}

std::string describe_tuple(const TupleView& tuple) {
  std::string out;
  for (std::size_t i = 0; i < tuple.size(); ++i) {
    if (i != 0) out += ',';
    out += describe_value(tuple[i]);
  }
  return out;
}

namespace {

std::string old_part(const ChangeBatch& batch, const Change& change) {
  if (change.old_kind == OldTupleKind::None) return "";
  return (change.old_kind == OldTupleKind::Key ? "K(" : "O(") + describe_tuple(batch.old_tuple(change)) + ")";
}

std::string relation_name(const Change& change) {
  return change.relation->schema + "." + change.relation->name;
}

}  // namespace

std::string describe_change(const ChangeBatch& batch, const Change& change) {
  switch (change.kind) {
    case ChangeKind::Insert:
      return "I " + relation_name(change) + ": " + describe_tuple(batch.new_tuple(change));
    case ChangeKind::Update:
      return "U " + relation_name(change) + ": " + old_part(batch, change) +
             (change.old_kind == OldTupleKind::None ? "" : ">") + describe_tuple(batch.new_tuple(change));
    case ChangeKind::Delete: return "D " + relation_name(change) + ": " + old_part(batch, change);
    case ChangeKind::Truncate:
      return "T " + relation_name(change) + "/" + std::to_string(change.truncate_options);
    case ChangeKind::Message:
      return "M " + std::string(batch.message_prefix(change)) + "=" +
             std::string(batch.message_content(change));
    case ChangeKind::SchemaChange: {
      std::string cols;
      for (const RelationColumn& c : change.relation->columns) {
        cols += (cols.empty() ? "" : ",") + c.name + ":" + std::to_string(c.type_oid) + (c.key ? "*" : "");
      }
      return "S " + relation_name(change) + " " + std::to_string(batch.schema_change(change).what) + " " +
             static_cast<char>(change.relation->replica_identity) + " " + cols;
    }
  }
  return "?";
}

StreamProbe::StreamProbe(const pgstream::testing::PgDatabase& db, std::string slot,
                         std::vector<std::string> publications, std::function<void(StreamOptions&)> tweak)
    : stream(
          io,
          [&] {
            StreamOptions options;
            options.conninfo = db.conninfo();
            options.slot = std::move(slot);
            options.publications = std::move(publications);
            options.status_interval = std::chrono::milliseconds(200);
            options.initial_backoff = std::chrono::milliseconds(100);
            options.max_backoff = std::chrono::milliseconds(1000);
            if (tweak) tweak(options);
            return options;
          }(),
          StreamHandler{.on_batch = [this](const ChangeBatch& batch) { on_batch(batch); },
                        .on_error = [this](const Error& e) { error = e; },
                        .on_reset =
                            [this] {
                              ++resets;
                              current_ = {};
                            },
                        .on_idle = {},
                        .on_disconnect = [this](const Error&) { ++disconnects; },
                        .on_connected = {}}) {}

void StreamProbe::on_batch(const ChangeBatch& batch) {
  if (hook) hook(batch);
  if (batch.xid == 0 && batch.changes().size() == 1 && !batch.changes()[0].transactional) {
    const Change& m = batch.changes()[0];
    standalone_messages.push_back(std::string(batch.message_prefix(m)) + "=" +
                                  std::string(batch.message_content(m)));
    return;
  }
  current_.xid = batch.xid;
  current_.commit_lsn = batch.commit_lsn;
  current_.streamed = batch.streamed;
  current_.rows += batch.row_count();
  for (const Change& change : batch.changes()) {
    if (change.kind == ChangeKind::Message && batch.message_prefix(change) == "probe") {
      markers.emplace_back(batch.message_content(change));
      continue;
    }
    if (keep_changes) current_.changes.push_back(describe_change(batch, change));
    if (change.kind != ChangeKind::Insert) continue;
    const ColumnValue id = batch.new_tuple(change)[0];
    std::int64_t value = 0;
    if (id.kind == ColumnKind::Text)
      std::from_chars(id.bytes.data(), id.bytes.data() + id.bytes.size(), value);
    current_.first_column_sum += value;
    if (keep_ids) current_.inserted_ids.push_back(value);
  }
  if (!batch.last_part()) return;
  current_.end_lsn = batch.end_lsn;
  transactions.push_back(std::move(current_));
  current_ = {};
  if (auto_confirm) stream.confirm(batch.end_lsn);
}

bool StreamProbe::run_until(const std::function<bool()>& done, std::chrono::seconds timeout) {
  if (!stream.running() && !error) stream.start();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (error || std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }
  return true;
}

bool StreamProbe::sync(pgstream::testing::PgDatabase& db, std::chrono::seconds timeout) {
  const std::string tag = "sync-" + std::to_string(++next_marker_);
  db.exec("SELECT pg_logical_emit_message(true, 'probe', '" + tag + "')");
  return run_until([&] { return !markers.empty() && markers.back() == tag; }, timeout);
}

}  // namespace pgstream::replication::testing
