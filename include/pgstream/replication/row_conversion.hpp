// Decoded tuples into engine rows: each column's text (pgoutput's text mode,
// the type's own output function) becomes an engine datum by the column's
// type OID (engine::parse_datum), so the engine sees typed values.
//
// Contract: pack_row() appends one datum per column, in the relation's
// column order, or throws pgstream::Error and leaves `out` as it was.
// - NULL packs as NULL.
// - An unchanged TOASTed value (the server did not send it) is taken from
//   `previous`, the row's prior version as the engine holds it (same
//   columns); with no previous row, pack_row() returns NeedsPrevious and
//   packs nothing: the caller looks the old row up and calls again.
// - A domain packs as its base type; an enum, or any other type the engine
//   has no native kind for, packs as pass-through (its text and its OID).
// - Binary-mode columns are a protocol error (pg_stream asks for text).
// TypeMap is immutable once built and may be shared between threads.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "pgstream/common/pg.hpp"
#include "pgstream/engine/row.hpp"
#include "pgstream/replication/change_batch.hpp"

namespace pgstream::replication {

class TypeMap {
 public:
  TypeMap() = default;
  // Every domain of the database with its base type (pg_type, typtype 'd').
  [[nodiscard]] static TypeMap load(PgConnection& connection);

  void add_domain(std::uint32_t domain_oid, std::uint32_t base_oid) { domains_[domain_oid] = base_oid; }
  // The type whose text form a value of `oid` has: domains resolved to their base.
  [[nodiscard]] std::uint32_t resolve(std::uint32_t oid) const noexcept;

 private:
  std::unordered_map<std::uint32_t, std::uint32_t> domains_;
};

enum class PackResult { Packed, NeedsPrevious };

[[nodiscard]] PackResult pack_row(const TupleView& tuple, const TypeMap& types, engine::RowRef previous,
                                  engine::RowPacker& out);

// True if any column of the tuple is an unchanged TOASTed value.
[[nodiscard]] bool has_unchanged_toast(const TupleView& tuple) noexcept;

}  // namespace pgstream::replication
