// RelationCache: what the replication stream has told us about each
// published table (pgoutput Relation messages) and type (Type messages).
//
// Contract:
// - A Relation is immutable once published; the cache hands out
//   shared_ptr<const Relation>, so changes decoded under an older definition
//   keep it alive after a Relation message replaces it.
// - apply() replaces the entry for the message's OID and returns a
//   SchemaChange describing the difference (columns added, dropped,
//   retyped, table renamed, replica identity changed), or nothing when the
//   message repeats what the cache already holds (the server resends
//   Relation messages after every reconnect and for every streamed
//   transaction). Columns are matched by name: pgoutput sends no attnums, so
//   a renamed column shows as one dropped and one added.
// - Not thread-safe; owned by one Decoder.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pgstream/replication/pgoutput.hpp"

namespace pgstream::replication {

enum class ReplicaIdentity : char {
  Default = 'd',  // the primary key
  Nothing = 'n',
  Full = 'f',
  Index = 'i',  // USING INDEX
};

struct RelationColumn {
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
  bool key = false;  // part of the replica identity

  friend bool operator==(const RelationColumn&, const RelationColumn&) = default;
};

struct Relation {
  std::uint32_t oid = 0;
  std::string schema;  // "pg_catalog" when the message sent an empty namespace
  std::string name;
  ReplicaIdentity replica_identity = ReplicaIdentity::Default;
  std::vector<RelationColumn> columns;

  // Index of the column named `column_name`, or nullopt.
  [[nodiscard]] std::optional<std::size_t> column_index(std::string_view column_name) const noexcept;

  friend bool operator==(const Relation&, const Relation&) = default;
};

// Bits of SchemaChange::what.
enum SchemaChangeBits : std::uint32_t {
  kRelationNew = 1U << 0U,  // first Relation message for this OID
  kColumnsAdded = 1U << 1U,
  kColumnsDropped = 1U << 2U,
  kColumnsRetyped = 1U << 3U,          // same name, other type OID or typmod
  kColumnsReordered = 1U << 4U,        // same columns, other order
  kRelationRenamed = 1U << 5U,         // schema or table name changed
  kReplicaIdentityChanged = 1U << 6U,  // REPLICA IDENTITY setting or key columns changed
};

struct SchemaChange {
  std::shared_ptr<const Relation> previous;  // null when kRelationNew
  std::shared_ptr<const Relation> current;   // never null
  std::uint32_t what = 0;                    // SchemaChangeBits

  [[nodiscard]] bool has(SchemaChangeBits bit) const noexcept { return (what & bit) != 0; }
};

struct TypeInfo {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
};

class RelationCache {
 public:
  // REQUIRES: message.type == MessageType::Relation.
  // Returns the change when the relation is new or differs from the cache.
  std::optional<SchemaChange> apply(const PgOutputMessage& message);

  // REQUIRES: message.type == MessageType::Type.
  void apply_type(const PgOutputMessage& message);

  // The current definition, or null if no Relation message named `oid`.
  [[nodiscard]] const std::shared_ptr<const Relation>* find(std::uint32_t oid) const noexcept;
  // The current definition; throws Error(Protocol) for an unknown OID (the
  // server always sends a Relation message before the first change).
  [[nodiscard]] const std::shared_ptr<const Relation>& get(std::uint32_t oid) const;

  // A type the server described with a Type message (non-built-in types).
  [[nodiscard]] const TypeInfo* find_type(std::uint32_t oid) const noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return relations_.size(); }
  void clear() noexcept;

 private:
  std::unordered_map<std::uint32_t, std::shared_ptr<const Relation>> relations_;
  std::unordered_map<std::uint32_t, TypeInfo> types_;
};

// Compares two definitions of one relation; 0 when equal.
[[nodiscard]] std::uint32_t diff_relations(const Relation& previous, const Relation& current) noexcept;

}  // namespace pgstream::replication
