// ChangeBatch: the decoded changes of one committed source transaction (or
// of one part of it), in the order the server sent them.
//
// Contract:
// - A batch is filled by the Decoder and handed to the consumer, which must
//   read it before returning: the Decoder then clears and reuses it, so
//   views (tuples, column bytes, message text) die with that call.
// - Column values are not converted: each is (kind, bytes) with the
//   relation's type OID and modifier, where kind is NULL, unchanged TOAST,
//   text (the type's output function) or binary. Values live in one byte
//   arena per batch; appending a row allocates nothing once the arena and
//   change vector have grown to their working size.
// - A transaction larger than the Decoder's part limits is delivered as
//   several parts with the same xid, commit_lsn and commit_time, numbered
//   from 0; only the last has last_part() true and a valid end_lsn. The
//   server only sends committed transactions (or streamed ones we release
//   at their commit), so every part that arrives belongs to a transaction
//   that committed.
// - Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/common/lsn.hpp"
#include "pgstream/replication/pgoutput.hpp"
#include "pgstream/replication/relation_cache.hpp"

namespace pgstream::replication {

using CommitTime = std::chrono::sys_time<std::chrono::microseconds>;

// PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC.
[[nodiscard]] CommitTime from_pg_timestamp(std::int64_t pg_microseconds) noexcept;

enum class ChangeKind : std::uint8_t {
  Insert,
  Update,
  Delete,
  Truncate,      // one Change per truncated relation, with truncate_options
  Message,       // pg_logical_emit_message(true, ...) inside the transaction
  SchemaChange,  // a Relation message that changed (or introduced) a relation
};

// One value of a tuple, ready to convert: bytes are the text or binary form.
struct ColumnValue {
  ColumnKind kind = ColumnKind::Null;
  std::string_view bytes;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;

  [[nodiscard]] bool is_null() const noexcept { return kind == ColumnKind::Null; }
  [[nodiscard]] bool is_unchanged_toast() const noexcept { return kind == ColumnKind::UnchangedToast; }
};

// Where one tuple's columns are in the batch.
struct TupleSpan {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
};

struct StoredColumn {
  ColumnKind kind = ColumnKind::Null;
  std::uint32_t offset = 0;  // into the batch's byte arena
  std::uint32_t size = 0;
};

struct Change {
  ChangeKind kind = ChangeKind::Insert;
  OldTupleKind old_kind = OldTupleKind::None;  // Update, Delete
  std::uint8_t truncate_options = 0;           // kTruncateCascade | kTruncateRestartIdentity
  bool transactional = true;                   // Message: false for a non-transactional one
  // The relation as it was defined when the change was decoded (Insert,
  // Update, Delete, Truncate; SchemaChange: the new definition).
  std::shared_ptr<const Relation> relation;
  TupleSpan old_tuple;  // Update (if old_kind != None), Delete
  TupleSpan new_tuple;  // Insert, Update
  // Message: the prefix and content as arena ranges, and its LSN.
  std::uint32_t text_offset = 0;
  std::uint32_t prefix_size = 0;
  std::uint32_t content_size = 0;
  Lsn message_lsn;
  std::uint32_t schema_change = 0;  // SchemaChange: index into the batch's schema changes
};

class ChangeBatch;

// The columns of one tuple, with the relation's types.
class TupleView {
 public:
  TupleView(const ChangeBatch& batch, const Relation& relation, TupleSpan span) noexcept
      : batch_(&batch), relation_(&relation), span_(span) {}

  [[nodiscard]] std::size_t size() const noexcept { return span_.count; }
  // REQUIRES: index < size().
  [[nodiscard]] ColumnValue operator[](std::size_t index) const noexcept;

 private:
  const ChangeBatch* batch_;
  const Relation* relation_;
  TupleSpan span_;
};

class ChangeBatch {
 public:
  // Transaction identity, the same for every part.
  std::uint32_t xid = 0;
  Lsn commit_lsn;  // LSN of the commit record
  Lsn end_lsn;     // end of the commit record; valid only in the last part
  CommitTime commit_time{};
  bool streamed = false;  // the server streamed it before it committed
  std::string origin;     // replication origin name, empty if none
  Lsn origin_lsn;

  [[nodiscard]] std::uint32_t part() const noexcept { return part_; }
  [[nodiscard]] bool last_part() const noexcept { return last_part_; }

  [[nodiscard]] std::span<const Change> changes() const noexcept { return changes_; }
  // Rows inserted, updated or deleted in this part.
  [[nodiscard]] std::size_t row_count() const noexcept { return rows_; }

  // REQUIRES: the change has that tuple (see Change).
  [[nodiscard]] TupleView old_tuple(const Change& change) const noexcept {
    return {*this, *change.relation, change.old_tuple};
  }
  [[nodiscard]] TupleView new_tuple(const Change& change) const noexcept {
    return {*this, *change.relation, change.new_tuple};
  }
  // REQUIRES: change.kind == ChangeKind::Message.
  [[nodiscard]] std::string_view message_prefix(const Change& change) const noexcept;
  [[nodiscard]] std::string_view message_content(const Change& change) const noexcept;
  // REQUIRES: change.kind == ChangeKind::SchemaChange.
  [[nodiscard]] const SchemaChange& schema_change(const Change& change) const noexcept {
    return schema_changes_[change.schema_change];
  }

  [[nodiscard]] StoredColumn stored_column(std::size_t index) const noexcept { return columns_[index]; }
  [[nodiscard]] std::string_view arena(std::uint32_t offset, std::uint32_t size) const noexcept {
    return std::string_view(bytes_).substr(offset, size);
  }
  // Approximate bytes held by this part (arena, columns and changes).
  [[nodiscard]] std::size_t memory_bytes() const noexcept;

  // Building (used by the Decoder).
  void start_transaction(std::uint32_t xid_, Lsn commit_lsn_, CommitTime commit_time_, bool streamed_);
  // Drops the changes (keeping capacity) and numbers the next part.
  void next_part() noexcept;
  void set_last_part(bool last) noexcept { last_part_ = last; }
  Change& add_change(ChangeKind kind);
  TupleSpan add_tuple(const std::vector<TupleColumn>& columns);
  void add_message(Change& change, std::string_view prefix, std::string_view content);
  void add_schema_change(SchemaChange change);

 private:
  std::uint32_t append_bytes(std::string_view data);

  std::uint32_t part_ = 0;
  bool last_part_ = true;
  std::size_t rows_ = 0;
  std::vector<Change> changes_;
  std::vector<StoredColumn> columns_;
  std::string bytes_;
  std::vector<SchemaChange> schema_changes_;
};

}  // namespace pgstream::replication
