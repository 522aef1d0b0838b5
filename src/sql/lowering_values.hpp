// Small engine expressions the lowering builds itself (private to the sql
// module): constants, NULL keys of grouping sets, key widening, numeric
// rescaling, and the values of decorrelated subqueries (marks, counts,
// fingerprints). Each is deterministic and keeps no state beyond scratch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "pgstream/engine/evaluator.hpp"
#include "pgstream/engine/operators/flat_map.hpp"
#include "pgstream/engine/row.hpp"

namespace pgstream::sql::lowering_detail {

using engine::DatumKind;
using engine::Projection;

// Appends one NULL (the keys a grouping set leaves out).
class NullValue final : public engine::ScalarExpr {
 public:
  void evaluate(engine::RowRef /*input*/, engine::RowPacker& out) const override { out.push_null(); }
};

// Appends a constant int4 (GROUPING() of one grouping set).
class Int4Value final : public engine::ScalarExpr {
 public:
  explicit Int4Value(std::int32_t value) : value_(value) {}
  void evaluate(engine::RowRef /*input*/, engine::RowPacker& out) const override { out.push_int4(value_); }

 private:
  std::int32_t value_;
};

// Widens an integer column to int8, so that join keys of int2/int4/int8
// compare as PostgreSQL's cross-type equality operators do.
class WidenToInt8 final : public engine::ScalarExpr {
 public:
  explicit WidenToInt8(std::uint32_t column) : column_(column) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    engine::DatumRef d = input.at(column_);
    if (d.is_null()) {
      out.push_null();
      return;
    }
    switch (d.kind()) {
      case DatumKind::Int2: out.push_int8(d.as_int2()); break;
      case DatumKind::Int4: out.push_int8(d.as_int4()); break;
      default: out.push_datum(d); break;
    }
  }

 private:
  std::uint32_t column_;
};

// Restores a numeric column's typmod scale after an operator that emits
// normalized keys (GROUP BY, DISTINCT, set operations): PostgreSQL prints
// such values at their column's scale (1.00, not 1).
class RescaleNumeric final : public engine::ScalarExpr {
 public:
  RescaleNumeric(std::uint32_t column, std::uint16_t scale) : column_(column), scale_(scale) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    engine::DatumRef d = input.at(column_);
    if (d.is_null() || d.kind() != DatumKind::Numeric) {
      out.push_datum(d);
      return;
    }
    engine::Numeric n = d.as_numeric();
    out.push_numeric(n.is_finite() ? n.rescaled(scale_) : n);
  }

 private:
  std::uint32_t column_;
  std::uint16_t scale_;
};

// The constant true (the marker of a correlated EXISTS's partner keys).
class TrueValue final : public engine::ScalarExpr {
 public:
  void evaluate(engine::RowRef /*input*/, engine::RowPacker& out) const override { out.push_bool(true); }
};

// Copies one column (a VALUES item that is a plain column reference).
class ColumnValue final : public engine::ScalarExpr {
 public:
  explicit ColumnValue(std::uint32_t column) : column_(column) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    out.push_datum(input.at(column_));
  }

 private:
  std::uint32_t column_;
};

// LATERAL VALUES: one generated row per VALUES row, evaluated over the input.
class RowsOf final : public engine::TableFunction {
 public:
  explicit RowsOf(std::vector<std::vector<std::shared_ptr<const engine::ScalarExpr>>> rows)
      : rows_(std::move(rows)) {}
  void expand(engine::RowRef input, engine::RowPacker& scratch, void (*emit)(void*, engine::RowRef),
              void* context) const override {
    for (const auto& row : rows_) {
      scratch.clear();
      for (const auto& value : row) value->evaluate(input, scratch);
      emit(context, scratch.row());
    }
  }

 private:
  std::vector<std::vector<std::shared_ptr<const engine::ScalarExpr>>> rows_;
};

// 1 when a comparison's truth is `which` (0 true, 1 NULL, 2 false), else 0.
class TruthCount final : public engine::ScalarExpr {
 public:
  TruthCount(Projection truth, int which) : truth_(std::move(truth)), which_(which) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    engine::RowPacker& scratch = scratch_;
    scratch.clear();
    engine::DatumRef d;
    if (truth_.expr) {
      truth_.expr->evaluate(input, scratch);
      d = scratch.row().at(0);
    } else {
      d = input.at(truth_.column);
    }
    const int truth = d.is_null() ? 1 : (d.as_bool() ? 0 : 2);
    out.push_int4(truth == which_ ? 1 : 0);
  }

 private:
  Projection truth_;
  int which_;
  mutable engine::RowPacker scratch_;
};

// ANY / ALL from the counts of true, NULL and false comparisons (columns
// first, first + 1, first + 2; NULL when the outer row met no subquery row).
class QuantifiedValue final : public engine::ScalarExpr {
 public:
  QuantifiedValue(bool all, std::uint32_t first) : all_(all), first_(first) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    auto count = [&](std::uint32_t c) {
      engine::DatumRef d = input.at(first_ + c);
      return d.is_null() ? 0 : d.as_int();
    };
    const std::int64_t trues = count(0);
    const std::int64_t nulls = count(1);
    const std::int64_t falses = count(2);
    if (all_) {
      if (falses > 0) {
        out.push_bool(false);
      } else if (nulls > 0) {
        out.push_null();
      } else {
        out.push_bool(true);
      }
    } else if (trues > 0) {
      out.push_bool(true);
    } else if (nulls > 0) {
      out.push_null();
    } else {
      out.push_bool(false);
    }
  }

 private:
  bool all_;
  std::uint32_t first_;
};

// COALESCE(array, '{}'): ARRAY(subquery) over no rows.
class EmptyArrayIfNull final : public engine::ScalarExpr {
 public:
  EmptyArrayIfNull(std::uint32_t column, std::uint32_t element_oid)
      : column_(column), element_oid_(element_oid) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    engine::DatumRef d = input.at(column_);
    if (!d.is_null()) {
      out.push_datum(d);
      return;
    }
    const engine::RowPacker none;
    out.push_array(element_oid_, std::span<const std::int32_t>(), std::span<const std::int32_t>(),
                   none.row());
  }

 private:
  std::uint32_t column_;
  std::uint32_t element_oid_;
};

// COALESCE(column, 0) for int8 counts.
class ZeroIfNull final : public engine::ScalarExpr {
 public:
  explicit ZeroIfNull(std::uint32_t column) : column_(column) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    engine::DatumRef d = input.at(column_);
    if (d.is_null()) {
      out.push_int8(0);
    } else {
      out.push_datum(d);
    }
  }

 private:
  std::uint32_t column_;
};

// count > 0, for EXISTS over an uncorrelated subquery.
class PositiveCount final : public engine::ScalarExpr {
 public:
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    out.push_bool(input.at(0).as_int() > 0);
  }
};

// The bytes of a whole row as one bytea: an identity that matches NULLs too
// (join keys never match NULL), to join a collection back to itself.
class RowFingerprint final : public engine::ScalarExpr {
 public:
  explicit RowFingerprint(std::uint32_t arity) : arity_(arity) {}
  void evaluate(engine::RowRef input, engine::RowPacker& out) const override {
    std::size_t end = 0;
    std::uint32_t i = 0;
    for (auto it = input.begin(); it != input.end() && i < arity_; ++it, ++i) {
      end = static_cast<std::size_t>((*it).encoded().data() + (*it).encoded().size() - input.data());
    }
    out.push_bytea(std::span<const std::byte>(input.data(), end));
  }

 private:
  std::uint32_t arity_;
};

// WHERE over a boolean column computed elsewhere (by the server).
class ColumnIsTrue final : public engine::Predicate {
 public:
  explicit ColumnIsTrue(std::uint32_t column) : column_(column) {}
  [[nodiscard]] engine::Truth test(engine::RowRef input) const override {
    engine::DatumRef d = input.at(column_);
    if (d.is_null()) return engine::Truth::Unknown;
    return d.as_bool() ? engine::Truth::True : engine::Truth::False;
  }

 private:
  std::uint32_t column_;
};

}  // namespace pgstream::sql::lowering_detail
