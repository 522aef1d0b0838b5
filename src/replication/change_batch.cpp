#include "pgstream/replication/change_batch.hpp"

#include <limits>
#include <utility>

#include "pgstream/common/error.hpp"

namespace pgstream::replication {

namespace {

// Seconds between 1970-01-01 and 2000-01-01.
constexpr std::int64_t kPgEpochOffsetSeconds = 946'684'800;

}  // namespace

CommitTime from_pg_timestamp(std::int64_t pg_microseconds) noexcept {
  return CommitTime(std::chrono::microseconds(pg_microseconds) + std::chrono::seconds(kPgEpochOffsetSeconds));
}

ColumnValue TupleView::operator[](std::size_t index) const noexcept {
  const StoredColumn stored = batch_->stored_column(span_.first + index);
  const RelationColumn& column = relation_->columns[index];
  return {.kind = stored.kind,
          .bytes = batch_->arena(stored.offset, stored.size),
          .type_oid = column.type_oid,
          .type_modifier = column.type_modifier};
}

std::string_view ChangeBatch::message_prefix(const Change& change) const noexcept {
  return arena(change.text_offset, change.prefix_size);
}

std::string_view ChangeBatch::message_content(const Change& change) const noexcept {
  return arena(change.text_offset + change.prefix_size, change.content_size);
}

std::size_t ChangeBatch::memory_bytes() const noexcept {
  return bytes_.size() + columns_.size() * sizeof(StoredColumn) + changes_.size() * sizeof(Change);
}

void ChangeBatch::start_transaction(std::uint32_t xid_, Lsn commit_lsn_, CommitTime commit_time_,
                                    bool streamed_) {
  xid = xid_;
  commit_lsn = commit_lsn_;
  end_lsn = Lsn();
  commit_time = commit_time_;
  streamed = streamed_;
  origin.clear();
  origin_lsn = Lsn();
  next_part();
  part_ = 0;
}

void ChangeBatch::next_part() noexcept {
  ++part_;
  last_part_ = false;
  rows_ = 0;
  changes_.clear();
  columns_.clear();
  bytes_.clear();
  schema_changes_.clear();
}

Change& ChangeBatch::add_change(ChangeKind kind) {
  Change& change = changes_.emplace_back();
  change.kind = kind;
  if (kind == ChangeKind::Insert || kind == ChangeKind::Update || kind == ChangeKind::Delete) ++rows_;
  return change;
}

std::uint32_t ChangeBatch::append_bytes(std::string_view data) {
  if (bytes_.size() + data.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw Error(ErrorKind::Internal, "a change batch part exceeds 4 GB",
                {.hint = "Lower the decoder's max_part_bytes so that parts stay small."});
  }
  const auto offset = static_cast<std::uint32_t>(bytes_.size());
  bytes_.append(data);
  return offset;
}

TupleSpan ChangeBatch::add_tuple(const std::vector<TupleColumn>& columns) {
  const TupleSpan span{static_cast<std::uint32_t>(columns_.size()),
                       static_cast<std::uint32_t>(columns.size())};
  for (const TupleColumn& column : columns) {
    const std::uint32_t offset = append_bytes(column.bytes);
    columns_.push_back({column.kind, offset, static_cast<std::uint32_t>(column.bytes.size())});
  }
  return span;
}

void ChangeBatch::add_message(Change& change, std::string_view prefix, std::string_view content) {
  change.text_offset = append_bytes(prefix);
  append_bytes(content);
  change.prefix_size = static_cast<std::uint32_t>(prefix.size());
  change.content_size = static_cast<std::uint32_t>(content.size());
}

void ChangeBatch::add_schema_change(SchemaChange change) {
  Change& event = add_change(ChangeKind::SchemaChange);
  event.relation = change.current;
  event.schema_change = static_cast<std::uint32_t>(schema_changes_.size());
  schema_changes_.push_back(std::move(change));
}

}  // namespace pgstream::replication
