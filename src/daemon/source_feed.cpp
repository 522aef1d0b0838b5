#include "pgstream/daemon/source_feed.hpp"

#include <algorithm>

#include "pgstream/common/copy_text.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum_io.hpp"

namespace pgstream::daemon {

namespace {

std::string qualified(const sql::SourceRelation& relation) { return relation.schema + "." + relation.name; }

int column_by_attnum(const sql::SourceRelation& relation, std::int16_t attnum) {
  for (std::size_t i = 0; i < relation.columns.size(); ++i) {
    if (relation.columns[i].attnum == attnum) return static_cast<int>(i);
  }
  return -1;
}

// The relation columns that identify a row in UPDATE/DELETE messages.
std::vector<int> identity_columns(const sql::SourceRelation& relation, bool& full) {
  full = relation.replica_identity == 'f';
  if (full) return {};
  const std::vector<std::int16_t>* attnums = nullptr;
  if (relation.replica_identity == 'i' && !relation.replica_identity_key.empty()) {
    attnums = &relation.replica_identity_key;
  } else if (relation.replica_identity == 'd' && !relation.primary_key.empty()) {
    attnums = &relation.primary_key;
  }
  if (attnums == nullptr) {
    throw Error(ErrorKind::Unsupported,
                "source table " + qualified(relation) +
                    " has no replica identity, so its UPDATEs and DELETEs "
                    "cannot be followed",
                {.hint = "Add a primary key, or run ALTER TABLE " + qualified(relation) +
                         " REPLICA IDENTITY FULL (publishing it as it is would make the server reject its "
                         "UPDATEs)."});
  }
  std::vector<int> columns;
  for (const std::int16_t attnum : *attnums) {
    const int index = column_by_attnum(relation, attnum);
    if (index < 0)
      throw Error(ErrorKind::Internal, "replica identity column missing in " + qualified(relation));
    columns.push_back(index);
  }
  return columns;
}

}  // namespace

SourceFeed::SourceFeed(sql::LoweredSource lowered, std::shared_ptr<const replication::TypeMap> types)
    : lowered_(std::move(lowered)), types_(std::move(types)) {
  const sql::SourceRelation& relation = *lowered_.relation;
  stored_ = identity_columns(relation, full_identity_);
  const std::size_t key_count = stored_.size();
  for (const int column : lowered_.columns) {
    if (std::find(stored_.begin(), stored_.end(), column) == stored_.end()) stored_.push_back(column);
  }
  projection_.reserve(lowered_.columns.size());
  for (const int column : lowered_.columns) {
    projection_.push_back(
        static_cast<std::uint32_t>(std::find(stored_.begin(), stored_.end(), column) - stored_.begin()));
  }
  type_oids_.reserve(stored_.size());
  for (const int column : stored_) {
    type_oids_.push_back(types_->resolve(relation.columns[static_cast<std::size_t>(column)].type.oid));
  }
  const std::size_t key_columns = full_identity_ ? stored_.size() : key_count;
  for (std::uint32_t i = 0; i < key_columns; ++i) key_.push_back(i);
  if (!full_identity_) rows_ = std::make_unique<engine::Arrangement>(key_);
  tuple_index_.assign(stored_.size(), -1);
}

std::vector<std::string> SourceFeed::snapshot_columns() const {
  std::vector<std::string> names;
  names.reserve(stored_.size());
  for (const int column : stored_) names.push_back(relation().columns[static_cast<std::size_t>(column)].name);
  return names;
}

void SourceFeed::load_line(std::string_view line, engine::ZSet& input) {
  split_copy_line(line, fields_);
  if (fields_.size() != stored_.size() && !(stored_.empty() && fields_.size() == 1)) {
    throw Error(ErrorKind::Protocol, "snapshot row of " + qualified(relation()) + " has " +
                                         std::to_string(fields_.size()) + " columns, expected " +
                                         std::to_string(stored_.size()));
  }
  new_.clear();
  for (std::size_t i = 0; i < stored_.size(); ++i) {
    if (fields_[i]) {
      engine::parse_datum(type_oids_[i], *fields_[i], new_);
    } else {
      new_.push_null();
    }
  }
  insert(new_.row(), input);
}

std::optional<std::string> SourceFeed::match(const replication::Relation& stream_relation,
                                             std::vector<int>* indices) const {
  const sql::SourceRelation& relation = this->relation();
  for (std::size_t i = 0; i < stored_.size(); ++i) {
    const sql::RelationColumn& ours = relation.columns[static_cast<std::size_t>(stored_[i])];
    const auto index = stream_relation.column_index(ours.name);
    if (!index) {
      return "column " + ours.name + " of source table " + qualified(relation) +
             " was dropped or renamed; the stream table reads it";
    }
    const replication::RelationColumn& theirs = stream_relation.columns[*index];
    if (types_->resolve(theirs.type_oid) != type_oids_[i] || theirs.type_modifier != ours.type.typmod) {
      return "column " + ours.name + " of source table " + qualified(relation) +
             " changed its type; the stream table reads it";
    }
    if (indices != nullptr) (*indices)[i] = static_cast<int>(*index);
  }
  return std::nullopt;
}

std::optional<std::string> SourceFeed::bind(const replication::Relation& relation) {
  std::vector<int> indices(stored_.size(), -1);
  auto problem = match(relation, &indices);
  if (!problem) tuple_index_ = std::move(indices);
  return problem;
}

std::optional<std::string> SourceFeed::check(const replication::Relation& relation) const {
  return match(relation, nullptr);
}

void SourceFeed::pack_tuple(const replication::TupleView& tuple, engine::RowRef previous,
                            engine::RowPacker& out) {
  out.clear();
  before_.clear();
  for (std::size_t i = 0; i < stored_.size(); ++i) {
    const int at = tuple_index_[i];
    if (at < 0 || static_cast<std::size_t>(at) >= tuple.size()) {
      throw Error(ErrorKind::Protocol,
                  "a change of " + qualified(relation()) + " arrived before its Relation message");
    }
    const replication::ColumnValue value = tuple[static_cast<std::size_t>(at)];
    switch (value.kind) {
      case replication::ColumnKind::Null: out.push_null(); break;
      case replication::ColumnKind::Text: engine::parse_datum(type_oids_[i], value.bytes, out); break;
      case replication::ColumnKind::UnchangedToast: {
        if (previous.empty()) {
          throw Error(ErrorKind::Internal, "an unchanged TOAST value of " + qualified(relation()) +
                                               " arrived for a row pg_stream does not hold");
        }
        if (before_.empty()) {
          before_.resize(stored_.size());
          std::vector<std::uint32_t> all(stored_.size());
          for (std::uint32_t c = 0; c < all.size(); ++c) all[c] = c;
          engine::gather_columns(previous, all, before_);
        }
        out.push_datum(before_[i]);
        break;
      }
      case replication::ColumnKind::Binary:
        throw Error(ErrorKind::Protocol,
                    "a column arrived in binary form, but pg_stream streams in text mode",
                    {.sqlstate = "08P01"});
    }
  }
}

bool SourceFeed::find_old(const replication::ChangeBatch& batch, const replication::Change& change) {
  using replication::OldTupleKind;
  if (!rows_) {
    // Without the whole old row (the identity is no longer FULL) the change
    // cannot be retracted: a new snapshot must replace this feed.
    if (change.old_kind != OldTupleKind::Full) {
      needs_reload_ = true;
      return false;
    }
    pack_tuple(batch.old_tuple(change), {}, old_);
    return true;
  }
  // The key: from the old tuple if it came (key changed, or DELETE), else
  // from the new one (an UPDATE that kept its key).
  const replication::TupleView tuple =
      change.old_kind != OldTupleKind::None ? batch.old_tuple(change) : batch.new_tuple(change);
  scratch_.clear();
  for (std::size_t i = 0; i < key_.size(); ++i) {
    const replication::ColumnValue value = tuple[static_cast<std::size_t>(tuple_index_[i])];
    if (value.kind == replication::ColumnKind::Text) {
      engine::parse_datum(type_oids_[i], value.bytes, scratch_);
    } else {
      scratch_.push_null();
    }
  }
  key_scratch_.clear();
  key_scratch_.pack_key(scratch_.row(), key_);
  old_.clear();
  bool found = false;
  rows_->for_each_at(key_scratch_.row(), [&](engine::RowRef row, std::int64_t) {
    if (!found) old_.push_row(row);
    found = true;
  });
  if (!found) {
    throw Error(ErrorKind::Internal, "an UPDATE/DELETE of " + qualified(relation()) +
                                         " names a row pg_stream does not hold (key " +
                                         engine::debug_string(scratch_.row()) + ", transaction " +
                                         std::to_string(batch.xid) + " committed at " +
                                         batch.commit_lsn.to_string() + ")");
  }
  return true;
}

void SourceFeed::retract(engine::RowRef row, engine::ZSet& input) {
  scratch_.clear();
  scratch_.pack_columns(row, projection_);
  input.add(scratch_.row(), -1);
  if (rows_) rows_->update(row, -1);
}

void SourceFeed::insert(engine::RowRef row, engine::ZSet& input) {
  scratch_.clear();
  scratch_.pack_columns(row, projection_);
  input.add(scratch_.row(), 1);
  if (rows_) rows_->update(row, 1);
}

void SourceFeed::apply(const replication::ChangeBatch& batch, const replication::Change& change,
                       engine::ZSet& input) {
  using replication::ChangeKind;
  if (needs_reload_) return;  // the epoch is void until the reload
  switch (change.kind) {
    case ChangeKind::Insert:
      pack_tuple(batch.new_tuple(change), {}, new_);
      insert(new_.row(), input);
      return;
    case ChangeKind::Update:
      if (!find_old(batch, change)) return;
      pack_tuple(batch.new_tuple(change), old_.row(), new_);
      retract(old_.row(), input);
      insert(new_.row(), input);
      return;
    case ChangeKind::Delete:
      if (!find_old(batch, change)) return;
      retract(old_.row(), input);
      return;
    case ChangeKind::Truncate: {
      if (!rows_) {
        needs_reload_ = true;
        return;
      }
      rows_->for_each([&](engine::RowRef row, std::int64_t weight) {
        scratch_.clear();
        scratch_.pack_columns(row, projection_);
        input.add(scratch_.row(), -weight);
      });
      rows_->clear();
      return;
    }
    default: return;
  }
}

}  // namespace pgstream::daemon
