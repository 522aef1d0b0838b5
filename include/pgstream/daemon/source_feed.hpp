// SourceFeed: one source relation of one stream table, turned from decoded
// changes (or snapshot rows) into the changes of the dataflow source node.
//
// Contract:
// - REPLICA IDENTITY DEFAULT/INDEX: the feed keeps the source's current rows
//   (the columns the query uses plus the identity key) in an Arrangement
//   keyed by that key: an UPDATE or DELETE carries only the key, and an
//   UPDATE may leave a TOASTed value out; the old row and the missing values
//   come from this copy.
// - REPLICA IDENTITY FULL: the old row arrives whole in every UPDATE and
//   DELETE (the server inlines its TOASTed values), and the new row's
//   unchanged TOAST values are taken from it, so the feed keeps no copy: the
//   source costs the daemon no memory per row. What it then cannot do
//   itself — a TRUNCATE (no rows to retract), or an UPDATE/DELETE without
//   the whole old row (the identity was changed away from FULL) — it
//   reports with needs_reload(): the stream table must be loaded again from
//   a new snapshot, and the rest of its epoch is meaningless.
// - A relation whose UPDATEs and DELETEs cannot identify rows (REPLICA
//   IDENTITY NOTHING, or DEFAULT without a primary key) is refused by
//   make(): publishing it would make the server reject the user's UPDATEs.
// - bind() maps the columns by name to the pgoutput Relation's columns on
//   every Relation message: added columns cost nothing; a used column that
//   is gone or has another type is an error naming it.
// - Every row packed for the dataflow has exactly LoweredSource::columns.
// Not thread-safe (the engine thread owns it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/engine/arrangement.hpp"
#include "pgstream/engine/row.hpp"
#include "pgstream/engine/zset.hpp"
#include "pgstream/replication/change_batch.hpp"
#include "pgstream/replication/row_conversion.hpp"
#include "pgstream/sql/lowering.hpp"

namespace pgstream::daemon {

class SourceFeed {
 public:
  // Throws Error{Unsupported} for a relation whose changes cannot be
  // followed (see the file comment).
  SourceFeed(sql::LoweredSource lowered, std::shared_ptr<const replication::TypeMap> types);

  [[nodiscard]] const sql::SourceRelation& relation() const noexcept { return *lowered_.relation; }
  [[nodiscard]] engine::NodeId node() const noexcept { return lowered_.node; }
  // The columns to read in a snapshot, in the order load_line() expects.
  [[nodiscard]] std::vector<std::string> snapshot_columns() const;

  // One row of the snapshot (COPY text format of snapshot_columns()).
  void load_line(std::string_view line, engine::ZSet& input);

  // Maps the stream's columns to ours; an error message if a used column
  // is missing or retyped.
  [[nodiscard]] std::optional<std::string> bind(const replication::Relation& relation);
  // The same checks against a description that is not the stream's (the
  // catalog's): the binding stays as it is, since the stream's column
  // positions can differ from the catalog's.
  [[nodiscard]] std::optional<std::string> check(const replication::Relation& relation) const;
  // Applies one Insert/Update/Delete/Truncate of this relation.
  void apply(const replication::ChangeBatch& batch, const replication::Change& change, engine::ZSet& input);

  // Whether it keeps a copy of the source's rows (not with REPLICA IDENTITY FULL).
  [[nodiscard]] bool holds_rows() const noexcept { return rows_ != nullptr; }
  [[nodiscard]] bool needs_reload() const noexcept { return needs_reload_; }

  [[nodiscard]] std::size_t state_bytes() const noexcept { return rows_ ? rows_->bytes() : 0; }
  [[nodiscard]] std::size_t row_count() const noexcept { return rows_ ? rows_->distinct_rows() : 0; }

 private:
  enum class Tuple { Old, New };
  std::optional<std::string> match(const replication::Relation& relation, std::vector<int>* indices) const;
  // Packs the stored columns of a tuple into packer_; unchanged TOAST values
  // come from `previous` (may be empty when there are none).
  void pack_tuple(const replication::TupleView& tuple, engine::RowRef previous, engine::RowPacker& out);
  // The stored row the old tuple of an UPDATE/DELETE denotes (into old_);
  // false when only a reload can tell (see needs_reload()).
  [[nodiscard]] bool find_old(const replication::ChangeBatch& batch, const replication::Change& change);
  void retract(engine::RowRef row, engine::ZSet& input);
  void insert(engine::RowRef row, engine::ZSet& input);

  sql::LoweredSource lowered_;
  std::shared_ptr<const replication::TypeMap> types_;
  std::vector<int> stored_;                // relation column index per stored column
  std::vector<std::uint32_t> type_oids_;   // resolved type per stored column
  std::vector<std::uint32_t> projection_;  // stored position of each dataflow column
  std::vector<std::uint32_t> key_;         // stored positions of the key (all, for FULL)
  bool full_identity_ = false;
  bool needs_reload_ = false;
  std::vector<int> tuple_index_;               // stream tuple index per stored column (-1: unbound)
  std::unique_ptr<engine::Arrangement> rows_;  // null with REPLICA IDENTITY FULL
  engine::RowPacker old_;
  engine::RowPacker new_;
  engine::RowPacker scratch_;
  engine::RowPacker key_scratch_;
  std::vector<engine::DatumRef> before_;  // the previous row's datums, for unchanged TOAST values
  std::vector<std::optional<std::string>> fields_;
};

}  // namespace pgstream::daemon
