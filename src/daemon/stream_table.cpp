#include "pgstream/daemon/stream_table.hpp"

#include <algorithm>
#include <cctype>

#include "pgstream/common/copy_text.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum.hpp"
#include "pgstream/engine/datum_binary.hpp"
#include "pgstream/sql/compiler.hpp"
#include "pgstream/sql/explain.hpp"
#include "pgstream/sql/lowering.hpp"

namespace pgstream::daemon {

namespace {

using Bindings = std::vector<sql::ColumnBinding>;

bool outputs(const sql::PlanNode& node, const sql::ColumnBinding& binding) {
  return std::any_of(node.output.begin(), node.output.end(),
                     [&](const sql::OutputColumn& column) { return column.binding == binding; });
}

// The bindings of `node`'s output that are a unique key of its rows.
std::optional<Bindings> key_bindings(const sql::PlanNode& node) {
  switch (node.kind) {
    case sql::PlanKind::Scan: {
      // The primary key, when the scan reads all of it.
      if (!node.relation || node.relation->primary_key.empty()) return std::nullopt;
      Bindings key;
      for (const std::int16_t attnum : node.relation->primary_key) {
        bool found = false;
        for (std::size_t i = 0; i < node.scan_columns.size() && i < node.output.size(); ++i) {
          if (node.relation->columns[static_cast<std::size_t>(node.scan_columns[i])].attnum == attnum) {
            key.push_back(node.output[i].binding);
            found = true;
            break;
          }
        }
        if (!found) return std::nullopt;
      }
      return key;
    }
    case sql::PlanKind::Aggregate: {
      if (!node.grouping_sets.empty() || node.group_keys.empty()) return std::nullopt;
      Bindings key;
      for (std::size_t i = 0; i < node.group_keys.size() && i < node.output.size(); ++i) {
        key.push_back(node.output[i].binding);
      }
      return key;
    }
    case sql::PlanKind::Distinct: {
      if (!node.distinct_on.empty()) return std::nullopt;
      Bindings key;
      for (const sql::OutputColumn& column : node.output) key.push_back(column.binding);
      return key;
    }
    case sql::PlanKind::Filter:
    case sql::PlanKind::TopK: {
      if (node.inputs.empty()) return std::nullopt;
      auto key = key_bindings(*node.inputs[0]);
      if (!key) return std::nullopt;
      for (const auto& binding : *key) {
        if (!outputs(node, binding)) return std::nullopt;
      }
      return key;
    }
    case sql::PlanKind::Project: {
      if (node.inputs.empty()) return std::nullopt;
      auto key = key_bindings(*node.inputs[0]);
      if (!key) return std::nullopt;
      Bindings mapped;
      for (const auto& binding : *key) {
        bool found = false;
        for (std::size_t i = 0; i < node.exprs.size() && i < node.output.size(); ++i) {
          const sql::Expr& expr = *node.exprs[i];
          if (expr.kind == sql::ExprKind::Column && !expr.outer && expr.binding == binding) {
            mapped.push_back(node.output[i].binding);
            found = true;
            break;
          }
        }
        if (!found) return std::nullopt;
      }
      return mapped;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::string trimmed_query(std::string query) {
  while (!query.empty() &&
         (std::isspace(static_cast<unsigned char>(query.back())) != 0 || query.back() == ';')) {
    query.pop_back();
  }
  return query;
}

std::vector<int> result_key(const sql::LogicalPlan& plan) {
  if (!plan.root) return {};
  const auto key = key_bindings(*plan.root);
  if (!key || key->empty()) return {};
  std::vector<int> positions;
  for (const auto& binding : *key) {
    int at = -1;
    for (std::size_t i = 0; i < plan.root->output.size(); ++i) {
      if (plan.root->output[i].binding == binding) {
        at = static_cast<int>(i);
        break;
      }
    }
    if (at < 0) return {};
    if (std::find(positions.begin(), positions.end(), at) == positions.end()) positions.push_back(at);
  }
  return positions;
}

void StreamTable::build_target(PgConnection& connection, const std::vector<std::string>& names,
                               const std::vector<sql::TypeRef>& types, std::vector<int> key) {
  target_ = writer::TargetSpec{};
  target_.schema = definition_.name.schema;
  target_.name = definition_.name.name;
  target_.key = std::move(key);
  for (std::size_t i = 0; i < names.size(); ++i) {
    writer::TargetColumn column;
    column.name = names[i];
    column.type_sql = connection.query_value("SELECT pg_catalog.format_type(" + std::to_string(types[i].oid) +
                                             ", " + std::to_string(types[i].typmod) + ")");
    if (names[i].rfind("__pgs_", 0) == 0) {
      throw Error(ErrorKind::Config,
                  "stream table " + display_name() + ": output column \"" + names[i] +
                      "\" uses the prefix __pgs_, which pg_stream keeps for its own columns",
                  {.hint = "Rename the column with AS in the query."});
    }
    target_.columns.push_back(std::move(column));
  }
}

void StreamTable::build(PgConnection& connection, const BuildContext& context) {
  built_ = false;
  feeds_.clear();
  feeds_by_oid_.clear();
  chained_.clear();
  dataflow_.reset();
  server_.reset();
  plan_.reset();
  if (!differential()) {
    const auto described = sql::describe_query(connection, definition_.query);
    std::vector<std::string> names;
    std::vector<sql::TypeRef> types;
    for (const auto& column : described) {
      names.push_back(column.name);
      types.push_back(column.type);
    }
    build_target(connection, names, types, {});
    // The plan (when the query compiles) only names the sources.
    try {
      sql::CompileOptions options;
      options.catalog_schema = context.catalog_schema;
      plan_ = sql::compile_query(connection, definition_.query, options);
      explain_ = "FULL refresh: the query runs on the server on its schedule.\n" + sql::explain(*plan_);
    } catch (const Error&) {
      explain_ = "FULL refresh: the query runs on the server on its schedule.\n";
    }
    built_ = true;
    return;
  }
  sql::CompileOptions options;
  options.catalog_schema = context.catalog_schema;
  plan_ = sql::compile_query(connection, definition_.query, options);
  dataflow_ = std::make_unique<engine::Dataflow>();
  sql::LoweringOptions lowering;
  if (context.collation != nullptr) lowering.collation = context.collation;
  if (context.evaluation != nullptr) {
    server_ = std::make_unique<sql::ServerEvaluation>(*context.evaluation, context.evaluation_mutex);
    lowering.server = server_.get();
  }
  const sql::LoweredQuery lowered = sql::lower(*plan_, *dataflow_, lowering);
  output_ = lowered.output;
  for (const auto& source : lowered.sources) {
    if (source.relation->is_stream_table) {
      chained_.push_back(ChainedSource{source, {}, false});
      continue;
    }
    feeds_.push_back(std::make_unique<SourceFeed>(source, context.types));
    feeds_by_oid_.emplace(source.relation->oid, feeds_.back().get());
  }
  output_types_.clear();
  for (const auto& type : plan_->column_types) output_types_.push_back(type.oid);
  binary_output_ = std::all_of(output_types_.begin(), output_types_.end(), engine::binary_sendable);
  build_target(connection, plan_->column_names, plan_->column_types, result_key(*plan_));
  explain_ = sql::explain_lowered(*plan_, *dataflow_, output_);
  pending_ = true;  // the first step emits the loaded result
  built_ = true;
}

std::vector<writer::DeltaRow> StreamTable::load(replication::SnapshotReader& reader, Lsn consistent,
                                                const std::function<void()>& per_row) {
  start_lsn_ = consistent;
  if (!differential()) {
    std::vector<writer::DeltaRow> contents;
    reader.copy_query(trimmed_query(definition_.query), [&](std::string_view line) {
      contents.push_back(writer::DeltaRow{std::string(line), 1});
      per_row();
    });
    return contents;
  }
  for (auto& feed : feeds_) {
    const auto on_row = [&](std::string_view line) {
      load_line(*feed, line);
      per_row();
    };
    const replication::TableName name{feed->relation().schema, feed->relation().name};
    if (feed->relation().relkind == 'p') {
      reader.copy_select(name, feed->snapshot_columns(), on_row);
    } else {
      reader.copy_table(name, feed->snapshot_columns(), on_row);
    }
  }
  return step(RowForm::Text);
}

std::vector<std::shared_ptr<const sql::SourceRelation>> StreamTable::relations() const {
  if (!plan_) return {};
  return plan_->sources;
}

bool StreamTable::reads(std::uint32_t relation_oid) const noexcept {
  return feeds_by_oid_.find(relation_oid) != feeds_by_oid_.end();
}

std::optional<std::string> StreamTable::bind(const replication::Relation& relation) {
  auto [first, last] = feeds_by_oid_.equal_range(relation.oid);
  for (auto it = first; it != last; ++it) {
    if (auto problem = it->second->bind(relation)) return problem;
  }
  return std::nullopt;
}

void StreamTable::feed(const replication::ChangeBatch& batch, const replication::Change& change) {
  if (batch.commit_lsn < start_lsn_) return;
  auto [first, last] = feeds_by_oid_.equal_range(change.relation->oid);
  for (auto it = first; it != last; ++it) {
    it->second->apply(batch, change, dataflow_->input(it->second->node()));
    pending_ = true;
  }
}

std::vector<writer::DeltaRow> StreamTable::step(RowForm form) {
  std::vector<writer::DeltaRow> rows;
  if (!dataflow_) return rows;
  pending_ = false;
  dataflow_->step();
  const engine::ZSet& delta = dataflow_->delta(output_);
  rows.reserve(delta.size());
  std::string value;
  for (const auto& [row, weight] : delta) {
    writer::DeltaRow out;
    out.weight = weight;
    bool binary = binary_output_ && form == RowForm::TextAndBinary;
    std::size_t column = 0;
    for (const engine::DatumRef datum : row) {
      if (column != 0) out.line += '\t';
      value.clear();
      if (datum.is_null()) {
        append_copy_null(out.line);
      } else {
        engine::format_datum(datum, value);
        append_copy_field(out.line, value);
      }
      // A row the engine typed otherwise than its column is staged as text,
      // which the server checks and casts.
      binary = binary && column < output_types_.size() &&
               engine::append_binary_field(datum, output_types_[column], value, out.binary);
      ++column;
    }
    if (!binary || column != output_types_.size()) out.binary.clear();
    rows.push_back(std::move(out));
  }
  return rows;
}

void StreamTable::link(std::uint32_t target_oid, const StreamTable& upstream) {
  const std::vector<writer::TargetColumn>& outputs = upstream.target().columns;
  for (ChainedSource& source : chained_) {
    if (source.lowered.relation->oid != target_oid) continue;
    source.projection.clear();
    for (const int column : source.lowered.columns) {
      const sql::RelationColumn& read = source.lowered.relation->columns[static_cast<std::size_t>(column)];
      const std::string where = "stream table " + display_name() + " reads column \"" + read.name +
                                "\" of stream table " + upstream.display_name();
      if (read.name.rfind("__pgs_", 0) == 0) {
        throw Error(ErrorKind::Unsupported, where + ", which is internal to pg_stream",
                    {.hint = "Read only the upstream's own columns."});
      }
      std::size_t at = 0;
      while (at < outputs.size() && outputs[at].name != read.name) ++at;
      if (at == outputs.size() || at >= upstream.output_types_.size()) {
        throw Error(ErrorKind::Config, where + ", which its query no longer outputs",
                    {.hint = "Change the query of " + display_name() + ", or ALTER it back to ACTIVE once " +
                             upstream.display_name() + " outputs the column again."});
      }
      if (upstream.output_types_[at] != read.type.oid) {
        throw Error(
            ErrorKind::Config,
            where + ", whose type in the target (oid " + std::to_string(read.type.oid) +
                ") is not the type the upstream computes (oid " + std::to_string(upstream.output_types_[at]) +
                ")",
            {.hint = "Drop the target of " + upstream.display_name() +
                     " (pg_stream creates it again), then ALTER " + display_name() + " back to ACTIVE."});
      }
      source.projection.push_back(static_cast<std::uint32_t>(at));
    }
    source.linked = true;
  }
}

const engine::ZSet& StreamTable::output_delta() const {
  static const engine::ZSet kEmpty;
  return dataflow_ ? dataflow_->delta(output_) : kEmpty;
}

void StreamTable::push(std::uint32_t target_oid, const engine::ZSet& delta) {
  if (!dataflow_ || delta.empty()) return;
  for (ChainedSource& source : chained_) {
    if (source.lowered.relation->oid != target_oid) continue;
    if (!source.linked) {
      throw Error(ErrorKind::Internal, "stream table " + display_name() + ": a chained source of " +
                                           source.lowered.relation->schema + "." +
                                           source.lowered.relation->name + " was fed before it was linked");
    }
    engine::ZSet& input = dataflow_->input(source.lowered.node);
    for (const auto& [row, weight] : delta) {
      chained_row_.clear();
      chained_row_.pack_columns(row, source.projection);
      input.add(chained_row_.row(), weight);
    }
    pending_ = true;
  }
}

std::size_t StreamTable::state_bytes() const {
  std::size_t bytes = dataflow_ ? dataflow_->state_bytes() : 0;
  for (const auto& feed : feeds_) bytes += feed->state_bytes();
  return bytes;
}

std::size_t StreamTable::source_rows() const {
  std::size_t rows = 0;
  for (const auto& feed : feeds_) rows += feed->row_count();
  return rows;
}

}  // namespace pgstream::daemon
