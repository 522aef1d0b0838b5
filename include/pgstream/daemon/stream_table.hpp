// StreamTable: one stream table at run time — its definition, its compiled
// plan lowered into a dataflow of its own, the feeds of its sources, and the
// shape of its target.
//
// Contract:
// - Each stream table has its own Dataflow: an error in one (a division by
//   zero, a source dropped) fails only that table, and a table added while
//   the daemon runs is loaded and fed without touching the others.
// - build() compiles and lowers the query (DIFFERENTIAL) or only describes
//   it (FULL), and fixes the target's columns with the types the server
//   gives the query's output. It throws Error (Unsupported, Config,
//   Database) naming the table; the caller records it.
// - A DIFFERENTIAL table is loaded from one snapshot (load_source for each
//   of sources()) and then fed every change of a transaction that committed
//   at or after its start_lsn, the snapshot's consistent point: the snapshot
//   holds exactly the transactions before it.
// - step() runs one epoch and returns the target's delta as COPY text lines
//   with weights (and their binary form, see RowForm); the first step after
//   loading returns the whole result.
// - Chained sources: a scan of another stream table's target is not fed
//   from the stream (the target is not published) but from that upstream
//   table's output delta of the same epoch (push()), which the daemon hands
//   over after stepping the upstream: the daemon links each chained source to
//   its upstream (link(): columns matched by name, types checked), steps the
//   tables upstream first, and loads a chain from one snapshot.
// Not thread-safe: the engine thread owns it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pgstream/common/lsn.hpp"
#include "pgstream/common/pg.hpp"
#include "pgstream/daemon/config.hpp"
#include "pgstream/daemon/source_feed.hpp"
#include "pgstream/engine/dataflow.hpp"
#include "pgstream/replication/change_batch.hpp"
#include "pgstream/replication/replication_connection.hpp"
#include "pgstream/replication/row_conversion.hpp"
#include "pgstream/sql/logical_plan.hpp"
#include "pgstream/sql/server_evaluator.hpp"
#include "pgstream/writer/apply.hpp"
#include "pgstream/writer/target.hpp"

namespace pgstream::daemon {

struct StreamTableDefinition {
  QualifiedName name;
  std::string query;
  RefreshMode refresh_mode = RefreshMode::Differential;
  Schedule schedule;
  std::string source = "yaml";  // yaml | sql
  int line = 0;                 // YAML line, 0 for the SQL API

  [[nodiscard]] bool same_definition(const StreamTableDefinition& other) const {
    return name == other.name && query == other.query && refresh_mode == other.refresh_mode &&
           schedule.text() == other.schedule.text();
  }
};

struct BuildContext {
  std::string catalog_schema = "pgstream";
  const engine::Collation* collation = nullptr;  // the database's default collation
  PgConnection* evaluation = nullptr;            // for expressions the server evaluates
  std::mutex* evaluation_mutex = nullptr;        // guards `evaluation` (background loads step too)
  std::shared_ptr<const replication::TypeMap> types;
};

// A query as COPY (...) can embed it: without trailing semicolons.
[[nodiscard]] std::string trimmed_query(std::string query);

// The positions of the plan's output columns that are a unique key of the
// result (GROUP BY keys, DISTINCT): empty when none is known.
[[nodiscard]] std::vector<int> result_key(const sql::LogicalPlan& plan);

class StreamTable {
 public:
  explicit StreamTable(StreamTableDefinition definition) : definition_(std::move(definition)) {}

  [[nodiscard]] const StreamTableDefinition& definition() const noexcept { return definition_; }
  [[nodiscard]] std::string display_name() const {
    return definition_.name.schema + "." + definition_.name.name;
  }

  void build(PgConnection& connection, const BuildContext& context);
  [[nodiscard]] bool built() const noexcept { return built_; }
  [[nodiscard]] bool differential() const noexcept {
    return definition_.refresh_mode == RefreshMode::Differential;
  }

  [[nodiscard]] const writer::TargetSpec& target() const noexcept { return target_; }
  [[nodiscard]] writer::TargetSpec& target() noexcept { return target_; }
  [[nodiscard]] const std::optional<sql::LogicalPlan>& plan() const noexcept { return plan_; }
  [[nodiscard]] const std::string& explain_text() const noexcept { return explain_; }
  // Every relation the query reads (for the publication and dependencies).
  [[nodiscard]] std::vector<std::shared_ptr<const sql::SourceRelation>> relations() const;

  // A scan of another stream table's target, fed by that table's delta.
  struct ChainedSource {
    sql::LoweredSource lowered;
    std::vector<std::uint32_t> projection;  // upstream output position of each column
    bool linked = false;
  };
  [[nodiscard]] const std::vector<ChainedSource>& chained() const noexcept { return chained_; }
  // Maps the chained sources that read `upstream`'s target (relation oid
  // `target_oid`) onto its output columns. Throws Error{Config} naming both
  // tables when a column is missing, internal or of another type.
  void link(std::uint32_t target_oid, const StreamTable& upstream);
  // The output delta of the last step() (valid until the next step or
  // release_buffers()).
  [[nodiscard]] const engine::ZSet& output_delta() const;
  // Stages `delta`, an upstream's output delta of this epoch, into every
  // chained source reading its target.
  void push(std::uint32_t target_oid, const engine::ZSet& delta);

  // DIFFERENTIAL: the feeds to load from the snapshot.
  [[nodiscard]] std::vector<std::unique_ptr<SourceFeed>>& feeds() noexcept { return feeds_; }
  void load_line(SourceFeed& feed, std::string_view line) {
    feed.load_line(line, dataflow_->input(feed.node()));
  }
  // Loads the table from `reader`'s snapshot, whose consistent point is
  // `consistent`: a DIFFERENTIAL table reads its sources into its dataflow
  // and runs the first step, a FULL one runs its query. Returns the whole
  // result (weights are copy counts); the step's buffers are kept (for a
  // chain's downstreams) until release_buffers(). `per_row` runs after each
  // row read (it may throw to give up). REQUIRES: built(), nothing loaded yet.
  [[nodiscard]] std::vector<writer::DeltaRow> load(replication::SnapshotReader& reader, Lsn consistent,
                                                   const std::function<void()>& per_row);

  // The consistent point of the snapshot it was loaded from.
  [[nodiscard]] Lsn start_lsn() const noexcept { return start_lsn_; }

  [[nodiscard]] bool reads(std::uint32_t relation_oid) const noexcept;
  // A Relation message: rebinds the feeds of that relation. An error
  // message when a used column is gone or retyped.
  [[nodiscard]] std::optional<std::string> bind(const replication::Relation& relation);
  // One change of a transaction (skipped if it committed before start_lsn).
  void feed(const replication::ChangeBatch& batch, const replication::Change& change);
  [[nodiscard]] bool pending() const noexcept { return pending_; }
  // A feed met a change only a new snapshot can absorb (SourceFeed::needs_reload).
  [[nodiscard]] bool needs_reload() const noexcept {
    return std::any_of(feeds_.begin(), feeds_.end(), [](const auto& feed) { return feed->needs_reload(); });
  }

  // The forms of the rows step() returns: with TextAndBinary, each row also
  // carries its COPY binary form when the output types have one (the writer
  // then stages in binary). A load returns text only: its whole result would
  // be held twice at its peak.
  enum class RowForm { Text, TextAndBinary };
  // Runs one epoch; the delta of the target. Throws what the dataflow threw
  // (the table is then broken until rebuilt).
  [[nodiscard]] std::vector<writer::DeltaRow> step(RowForm form = RowForm::TextAndBinary);
  // Frees the dataflow's epoch buffers (after the load's big first step).
  void release_buffers() noexcept {
    if (dataflow_) dataflow_->release_buffers();
  }

  [[nodiscard]] std::size_t state_bytes() const;
  [[nodiscard]] std::size_t source_rows() const;

 private:
  void build_target(PgConnection& connection, const std::vector<std::string>& names,
                    const std::vector<sql::TypeRef>& types, std::vector<int> key);

  StreamTableDefinition definition_;
  bool built_ = false;
  std::optional<sql::LogicalPlan> plan_;
  std::unique_ptr<sql::ServerEvaluation> server_;
  std::unique_ptr<engine::Dataflow> dataflow_;
  engine::NodeId output_ = 0;
  std::vector<std::unique_ptr<SourceFeed>> feeds_;
  std::multimap<std::uint32_t, SourceFeed*> feeds_by_oid_;
  std::vector<ChainedSource> chained_;
  engine::RowPacker chained_row_;
  writer::TargetSpec target_;
  std::string explain_;
  Lsn start_lsn_;
  bool pending_ = false;
  std::vector<std::uint32_t> output_types_;
  bool binary_output_ = false;  // every output type has a binary send format (engine/datum_binary.hpp)
};

}  // namespace pgstream::daemon
