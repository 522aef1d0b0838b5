#include "pgstream/replication/row_conversion.hpp"

#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum_io.hpp"

namespace pgstream::replication {

TypeMap TypeMap::load(PgConnection& connection) {
  TypeMap map;
  PgResult result = connection.exec("SELECT oid, typbasetype FROM pg_catalog.pg_type WHERE typtype = 'd'");
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    map.add_domain(static_cast<std::uint32_t>(std::stoul(PQgetvalue(result.get(), row, 0))),
                   static_cast<std::uint32_t>(std::stoul(PQgetvalue(result.get(), row, 1))));
  }
  return map;
}

std::uint32_t TypeMap::resolve(std::uint32_t oid) const noexcept {
  // Domains over domains: follow the chain (bounded, in case of a bad map).
  for (int depth = 0; depth < 16; ++depth) {
    const auto it = domains_.find(oid);
    if (it == domains_.end()) return oid;
    oid = it->second;
  }
  return oid;
}

bool has_unchanged_toast(const TupleView& tuple) noexcept {
  for (std::size_t i = 0; i < tuple.size(); ++i) {
    if (tuple[i].is_unchanged_toast()) return true;
  }
  return false;
}

PackResult pack_row(const TupleView& tuple, const TypeMap& types, engine::RowRef previous,
                    engine::RowPacker& out) {
  if (previous.empty() && has_unchanged_toast(tuple)) return PackResult::NeedsPrevious;
  const std::size_t start = out.size();
  try {
    auto previous_datum = previous.begin();
    for (std::size_t i = 0; i < tuple.size(); ++i) {
      const ColumnValue value = tuple[i];
      switch (value.kind) {
        case ColumnKind::Null: out.push_null(); break;
        case ColumnKind::UnchangedToast: out.push_datum(*previous_datum); break;
        case ColumnKind::Text: engine::parse_datum(types.resolve(value.type_oid), value.bytes, out); break;
        case ColumnKind::Binary:
          throw Error(ErrorKind::Protocol,
                      "a column arrived in binary form, but pg_stream streams in text mode",
                      {.sqlstate = "08P01"});
      }
      if (!previous.empty()) ++previous_datum;
    }
  } catch (...) {
    out.truncate(start);
    throw;
  }
  return PackResult::Packed;
}

}  // namespace pgstream::replication
