#include "pgstream/replication/decoder.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "pgstream/common/error.hpp"

namespace pgstream::replication {

namespace {

[[noreturn]] void protocol_error(const std::string& message) {
  throw Error(ErrorKind::Protocol, message,
              {.sqlstate = "08P01",
               .detail = "The pgoutput messages arrived in an order the protocol does not allow.",
               .hint = "Restart the daemon; if it repeats, report it with the server version."});
}

bool contains(const std::vector<std::uint32_t>& xids, std::uint32_t xid) {
  return std::find(xids.begin(), xids.end(), xid) != xids.end();
}

}  // namespace

Decoder::Decoder(DecoderOptions options, BatchSink sink)
    : options_(std::move(options)), sink_(std::move(sink)), spool_(options_.spool) {}

void Decoder::require(bool condition, std::string_view message_name, const char* rule) const {
  if (!condition) protocol_error(std::string(message_name) + " message " + rule);
}

void Decoder::decode(std::string_view payload) {
  parse_pgoutput(payload, in_stream_, message_);
  ++stats_.messages;
  dispatch(payload, message_);
}

void Decoder::dispatch(std::string_view payload, const PgOutputMessage& message) {
  switch (message.type) {
    case MessageType::Begin: on_begin(message); break;
    case MessageType::Commit: on_commit(message); break;
    case MessageType::Origin: on_origin(payload, message); break;
    case MessageType::Relation:
    case MessageType::Type: on_relation(payload, message); break;
    case MessageType::Insert:
    case MessageType::Update:
    case MessageType::Delete:
    case MessageType::Truncate: on_data(payload, message); break;
    case MessageType::Message: on_message(payload, message); break;
    case MessageType::StreamStart: on_stream_start(message); break;
    case MessageType::StreamStop:
      require(in_stream_, "Stream Stop", "without Stream Start");
      in_stream_ = false;
      break;
    case MessageType::StreamCommit: on_stream_commit(message); break;
    case MessageType::StreamAbort: on_stream_abort(message); break;
  }
}

void Decoder::on_begin(const PgOutputMessage& message) {
  require(!in_transaction_ && !in_stream_, "Begin", "inside another transaction or streamed block");
  start_batch(message.xid, message.final_lsn, message.timestamp, false);
}

void Decoder::on_commit(const PgOutputMessage& message) {
  require(in_transaction_ && !in_stream_, "Commit", "without Begin");
  if (message.commit_lsn != batch_.commit_lsn) {
    protocol_error("Commit LSN " + message.commit_lsn.to_string() + " differs from Begin's final LSN " +
                   batch_.commit_lsn.to_string());
  }
  finish_batch(message.end_lsn);
}

void Decoder::on_origin(std::string_view payload, const PgOutputMessage& message) {
  if (in_stream_) {  // sent after the first Stream Start of a transaction
    spool_.append(stream_xid_, payload);
    return;
  }
  require(in_transaction_, "Origin", "outside a transaction");
  batch_.origin = message.origin_name;
  batch_.origin_lsn = message.commit_lsn;
}

void Decoder::on_relation(std::string_view payload, const PgOutputMessage& message) {
  if (in_stream_) {
    spool_.append(stream_xid_, payload);
    return;
  }
  if (message.type == MessageType::Type) {
    relations_.apply_type(message);
    return;
  }
  std::optional<SchemaChange> change = relations_.apply(message);
  if (!change) return;
  if (in_transaction_ && !skipping_) {
    batch_.add_schema_change(std::move(*change));
  } else {
    pending_schema_changes_.push_back(std::move(*change));
  }
}

void Decoder::on_data(std::string_view payload, const PgOutputMessage& message) {
  if (in_stream_) {
    spool_.append(stream_xid_, payload);
    return;
  }
  require(in_transaction_, message_type_name(message.type), "outside a transaction");
  if (skipping_) return;
  make_room();
  add_change(message);
}

void Decoder::on_message(std::string_view payload, const PgOutputMessage& message) {
  if (!message.transactional_message()) {
    message_batch_.start_transaction(0, message.message_lsn, CommitTime{}, false);
    Change& change = message_batch_.add_change(ChangeKind::Message);
    change.transactional = false;
    change.message_lsn = message.message_lsn;
    message_batch_.add_message(change, message.prefix, message.content);
    message_batch_.end_lsn = message.message_lsn;
    message_batch_.set_last_part(true);
    sink_(message_batch_);
    return;
  }
  on_data(payload, message);
}

void Decoder::on_stream_start(const PgOutputMessage& message) {
  require(!in_transaction_ && !in_stream_, "Stream Start", "inside another transaction or streamed block");
  in_stream_ = true;
  stream_xid_ = message.xid;
  if (message.first_segment)
    spool_.abort(message.xid, message.xid);  // nothing stale from an earlier connection
}

void Decoder::on_stream_commit(const PgOutputMessage& message) {
  require(!in_transaction_ && !in_stream_, "Stream Commit", "inside a transaction or streamed block");
  start_batch(message.xid, message.commit_lsn, message.timestamp, true);
  replay_streamed(message.xid);
  finish_batch(message.end_lsn);
  ++stats_.streamed_transactions;
}

void Decoder::on_stream_abort(const PgOutputMessage& message) {
  require(!in_transaction_ && !in_stream_, "Stream Abort", "inside a transaction or streamed block");
  if (message.subxid == message.xid) ++stats_.aborted_transactions;
  spool_.abort(message.xid, message.subxid);
}

void Decoder::replay_streamed(std::uint32_t xid) {
  const std::vector<std::uint32_t> aborted = spool_.aborted_subtransactions(xid);
  spool_.replay(xid, [&](std::string_view payload) { replay_one(payload, aborted); });
}

void Decoder::replay_one(std::string_view payload, const std::vector<std::uint32_t>& aborted) {
  parse_pgoutput(payload, true, replayed_);
  switch (replayed_.type) {
    case MessageType::Relation:
    case MessageType::Type:
      on_relation(payload, replayed_);
      return;  // kept even from aborted subtransactions
    case MessageType::Origin: on_origin(payload, replayed_); return;
    case MessageType::Insert:
    case MessageType::Update:
    case MessageType::Delete:
    case MessageType::Truncate:
    case MessageType::Message:
      if (contains(aborted, replayed_.xid) || skipping_) return;
      make_room();
      add_change(replayed_);
      return;
    default:
      protocol_error("a " + std::string(message_type_name(replayed_.type)) +
                     " message inside a streamed block");
  }
}

void Decoder::start_batch(std::uint32_t xid, Lsn commit_lsn, std::int64_t timestamp, bool streamed) {
  in_transaction_ = true;
  skipping_ = commit_lsn < skip_before_;
  batch_.start_transaction(xid, commit_lsn, from_pg_timestamp(timestamp), streamed);
  if (!skipping_) flush_pending_schema_changes();
}

void Decoder::finish_batch(Lsn end_lsn) {
  in_transaction_ = false;
  last_end_lsn_ = std::max(last_end_lsn_, end_lsn);
  if (skipping_) {
    ++stats_.skipped_transactions;
    skipping_ = false;
    return;
  }
  batch_.end_lsn = end_lsn;
  batch_.set_last_part(true);
  ++stats_.transactions;
  deliver();
}

void Decoder::flush_pending_schema_changes() {
  for (SchemaChange& change : pending_schema_changes_) batch_.add_schema_change(std::move(change));
  pending_schema_changes_.clear();
}

void Decoder::add_change(const PgOutputMessage& message) {
  switch (message.type) {
    case MessageType::Insert: add_row(ChangeKind::Insert, message); break;
    case MessageType::Update: add_row(ChangeKind::Update, message); break;
    case MessageType::Delete: add_row(ChangeKind::Delete, message); break;
    case MessageType::Truncate: add_truncate(message); break;
    case MessageType::Message: {
      Change& change = batch_.add_change(ChangeKind::Message);
      change.message_lsn = message.message_lsn;
      batch_.add_message(change, message.prefix, message.content);
      break;
    }
    default: break;
  }
}

void Decoder::add_row(ChangeKind kind, const PgOutputMessage& message) {
  const std::shared_ptr<const Relation>& relation = relations_.get(message.relation_oid);
  const std::size_t width = relation->columns.size();
  const bool has_old = message.old_kind != OldTupleKind::None;
  const bool has_new = kind != ChangeKind::Delete;
  if ((has_old && message.old_tuple.size() != width) || (has_new && message.new_tuple.size() != width)) {
    protocol_error("a tuple of relation " + relation->schema + "." + relation->name + " does not have its " +
                   std::to_string(width) + " columns");
  }
  Change& change = batch_.add_change(kind);
  change.relation = relation;
  change.old_kind = message.old_kind;
  if (has_old) change.old_tuple = batch_.add_tuple(message.old_tuple);
  if (has_new) change.new_tuple = batch_.add_tuple(message.new_tuple);
}

void Decoder::add_truncate(const PgOutputMessage& message) {
  for (const std::uint32_t oid : message.truncate_relations) {
    Change& change = batch_.add_change(ChangeKind::Truncate);
    change.relation = relations_.get(oid);
    change.truncate_options = message.truncate_options;
  }
}

void Decoder::make_room() {
  if (batch_.changes().size() < options_.max_part_changes && batch_.memory_bytes() < options_.max_part_bytes)
    return;
  deliver();
  batch_.next_part();
}

void Decoder::deliver() {
  stats_.rows += batch_.row_count();
  ++stats_.parts;
  sink_(batch_);
}

void Decoder::reset() noexcept {
  in_transaction_ = false;
  in_stream_ = false;
  skipping_ = false;
  spool_.clear();
}

}  // namespace pgstream::replication
