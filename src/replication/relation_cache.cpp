#include "pgstream/replication/relation_cache.hpp"

#include <algorithm>
#include <string>

#include "pgstream/common/error.hpp"

namespace pgstream::replication {

namespace {

std::string schema_name(std::string_view sent) { return sent.empty() ? "pg_catalog" : std::string(sent); }

Relation relation_from(const PgOutputMessage& message) {
  Relation relation;
  relation.oid = message.relation_oid;
  relation.schema = schema_name(message.namespace_name);
  relation.name = std::string(message.relation_name);
  relation.replica_identity = static_cast<ReplicaIdentity>(message.replica_identity);
  relation.columns.reserve(message.columns.size());
  for (const RelationMessageColumn& column : message.columns) {
    relation.columns.push_back({.name = std::string(column.name),
                                .type_oid = column.type_oid,
                                .type_modifier = column.type_modifier,
                                .key = (column.flags & kColumnFlagKey) != 0});
  }
  return relation;
}

// Added, dropped and retyped columns, matched by name.
std::uint32_t diff_columns(const Relation& previous, const Relation& current) noexcept {
  std::uint32_t what = 0;
  bool same_positions = previous.columns.size() == current.columns.size();
  for (std::size_t i = 0; i < current.columns.size(); ++i) {
    const RelationColumn& column = current.columns[i];
    const auto old = previous.column_index(column.name);
    if (!old) {
      what |= kColumnsAdded;
      continue;
    }
    const RelationColumn& before = previous.columns[*old];
    if (before.type_oid != column.type_oid || before.type_modifier != column.type_modifier) {
      what |= kColumnsRetyped;
    }
    if (before.key != column.key) what |= kReplicaIdentityChanged;
    if (*old != i) same_positions = false;
  }
  for (const RelationColumn& column : previous.columns) {
    if (!current.column_index(column.name)) what |= kColumnsDropped;
  }
  if (!same_positions && (what & (kColumnsAdded | kColumnsDropped)) == 0) what |= kColumnsReordered;
  return what;
}

}  // namespace

std::optional<std::size_t> Relation::column_index(std::string_view column_name) const noexcept {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column_name) return i;
  }
  return std::nullopt;
}

std::uint32_t diff_relations(const Relation& previous, const Relation& current) noexcept {
  std::uint32_t what = diff_columns(previous, current);
  if (previous.schema != current.schema || previous.name != current.name) what |= kRelationRenamed;
  if (previous.replica_identity != current.replica_identity) what |= kReplicaIdentityChanged;
  return what;
}

std::optional<SchemaChange> RelationCache::apply(const PgOutputMessage& message) {
  auto current = std::make_shared<const Relation>(relation_from(message));
  auto [it, inserted] = relations_.try_emplace(message.relation_oid, current);
  if (inserted) return SchemaChange{.previous = nullptr, .current = current, .what = kRelationNew};
  if (*it->second == *current) return std::nullopt;
  SchemaChange change{
      .previous = it->second, .current = current, .what = diff_relations(*it->second, *current)};
  it->second = std::move(current);
  return change;
}

void RelationCache::apply_type(const PgOutputMessage& message) {
  types_[message.relation_oid] = TypeInfo{.oid = message.relation_oid,
                                          .schema = schema_name(message.namespace_name),
                                          .name = std::string(message.relation_name)};
}

const std::shared_ptr<const Relation>* RelationCache::find(std::uint32_t oid) const noexcept {
  const auto it = relations_.find(oid);
  return it == relations_.end() ? nullptr : &it->second;
}

const std::shared_ptr<const Relation>& RelationCache::get(std::uint32_t oid) const {
  const auto* relation = find(oid);
  if (relation == nullptr) {
    throw Error(
        ErrorKind::Protocol,
        "change for relation OID " + std::to_string(oid) + " before its Relation message",
        {.sqlstate = "08P01",
         .detail = "pgoutput sends a Relation message before the first change of each relation.",
         .hint = "This is a bug in the server or in pg_stream's stream handling; restart the daemon."});
  }
  return *relation;
}

const TypeInfo* RelationCache::find_type(std::uint32_t oid) const noexcept {
  const auto it = types_.find(oid);
  return it == types_.end() ? nullptr : &it->second;
}

void RelationCache::clear() noexcept {
  relations_.clear();
  types_.clear();
}

}  // namespace pgstream::replication
