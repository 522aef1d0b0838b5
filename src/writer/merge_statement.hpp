// Private to the writer: the SQL of one target's staging table and MERGE, and
// an RAII transaction.
#pragma once

#include <string>

#include "pgstream/common/pg.hpp"
#include "pgstream/writer/target.hpp"

namespace pgstream::writer {

inline constexpr const char* kHashColumn = "__pgs_hash";
inline constexpr const char* kRowIdColumn = "__pgs_row_id";
inline constexpr const char* kWeightColumn = "__pgs_weight";  // keyless staging: signed copies
inline constexpr const char* kOpColumn = "__pgs_op";          // keyed staging: 'U' upsert, 'D' delete

// The statements of one target shape, built once per apply. Every name is
// quoted; only type_sql is spliced as given.
struct MergeStatement {
  std::string target;          // "schema"."name"
  std::string staging;         // pg_temp."pgs_stage_<shape hash>"
  std::string create_staging;  // CREATE TEMP TABLE IF NOT EXISTS ... ON COMMIT DELETE ROWS
  std::string copy_in;         // COPY staging (...) FROM STDIN
  std::string copy_in_binary;  // the same, (FORMAT binary)
  std::string merge;           // the one MERGE of the staged rows into the target
  std::string copy_out;        // COPY (SELECT user columns, __pgs_hash FROM target) TO STDOUT

  static MergeStatement build(const PgConnection& connection, const TargetSpec& spec);
};

// "schema"."name" quoted for SQL.
[[nodiscard]] std::string qualified_name(const PgConnection& connection, const std::string& schema,
                                         const std::string& name);

// One transaction: BEGIN (plus `also`, in the same round trip) on
// construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(PgConnection& connection, const std::string& also = "");
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  void commit();

 private:
  void rollback() noexcept;

  PgConnection& connection_;
  bool open_ = true;
};

}  // namespace pgstream::writer
