#include "pgstream/engine/evaluator.hpp"

namespace pgstream::engine {

std::vector<Projection> identity_projection(std::uint32_t arity) {
  std::vector<Projection> out;
  out.reserve(arity);
  for (std::uint32_t i = 0; i < arity; ++i) out.push_back(Projection::of_column(i));
  return out;
}

std::vector<Projection> column_projection(const std::vector<std::uint32_t>& columns) {
  std::vector<Projection> out;
  out.reserve(columns.size());
  for (std::uint32_t c : columns) out.push_back(Projection::of_column(c));
  return out;
}

void project_row(RowRef input, const std::vector<Projection>& projections, RowPacker& out) {
  constexpr std::size_t kMax = 64;
  DatumRef columns[kMax];
  std::size_t n = 0;
  for (auto it = input.begin(); it != input.end() && n < kMax; ++it) columns[n++] = *it;
  for (const Projection& p : projections) {
    if (p.expr) {
      p.expr->evaluate(input, out);
    } else {
      out.push_datum(p.column < n ? columns[p.column] : input.at(p.column));
    }
  }
}

}  // namespace pgstream::engine
