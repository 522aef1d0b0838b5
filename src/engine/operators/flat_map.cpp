#include "pgstream/engine/operators/flat_map.hpp"

namespace pgstream::engine {

void Unnest::expand(RowRef input, RowPacker& scratch, void (*emit)(void*, RowRef), void* context) const {
  DatumRef array = input.at(column_);
  if (array.is_null()) return;
  RowRef elements(array_view(array).elements);
  for (DatumRef e : elements) {
    scratch.clear();
    scratch.push_datum(e);
    emit(context, scratch.row());
  }
}

void GenerateSeries::expand(RowRef input, RowPacker& scratch, void (*emit)(void*, RowRef),
                            void* context) const {
  DatumRef start = input.at(start_);
  DatumRef stop = input.at(stop_);
  if (start.is_null() || stop.is_null()) return;
  // generate_series(int4, int4) is int4; anything wider is int8.
  const bool narrow = start.kind() != DatumKind::Int8 && stop.kind() != DatumKind::Int8;
  for (std::int64_t v = start.as_int(), end = stop.as_int(); v <= end; ++v) {
    scratch.clear();
    if (narrow) {
      scratch.push_int4(static_cast<std::int32_t>(v));
    } else {
      scratch.push_int8(v);
    }
    emit(context, scratch.row());
    if (v == INT64_MAX) break;
  }
}

void FlatMap::step(std::span<const ZSet* const> inputs, ZSet& output) {
  struct Context {
    FlatMap* self;
    ZSet* output;
    RowRef input;
    std::int64_t weight;
  };
  for (auto u : *inputs[0]) {
    Context ctx{this, &output, u.row, u.weight};
    function_->expand(
        u.row, scratch_,
        [](void* raw, RowRef generated) {
          auto* c = static_cast<Context*>(raw);
          c->self->out_.clear();
          c->self->out_.push_row(c->input);
          c->self->out_.push_row(generated);
          c->output->add(c->self->out_.row(), c->weight);
        },
        &ctx);
  }
}

}  // namespace pgstream::engine
