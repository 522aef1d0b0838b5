#include "pgstream/daemon/background_load.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "pgstream/replication/replication_connection.hpp"

namespace pgstream::daemon {

namespace {

// Thrown from a row callback to give up a cancelled load.
struct Cancelled {};

bool reads_target(const StreamTable& runtime, std::uint32_t target_oid) {
  return target_oid != 0 &&
         std::any_of(runtime.chained().begin(), runtime.chained().end(),
                     [&](const auto& source) { return source.lowered.relation->oid == target_oid; });
}

// Errors that a new load may not meet: the whole load fails, and is retried.
bool fails_the_load(const Error& error) {
  return classify(error) == ErrorAction::Retry || error.sqlstate() == "40001";
}

std::string names(const std::vector<LoadMember>& members) {
  std::string out;
  for (const auto& member : members) {
    if (!out.empty()) out += ", ";
    out += member.runtime->display_name();
  }
  return out;
}

}  // namespace

BackgroundLoad::BackgroundLoad(std::string conninfo, std::string slot_name, std::vector<LoadMember> members,
                               Finished finished)
    : conninfo_(std::move(conninfo)),
      slot_name_(std::move(slot_name)),
      members_(std::move(members)),
      finished_(std::move(finished)),
      thread_([this] { run(); }) {}

BackgroundLoad::~BackgroundLoad() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void BackgroundLoad::run() noexcept {
  LoadOutcome outcome;
  outcome.tables.resize(members_.size());
  const std::string name = names(members_);
  try {
    replication::ReplicationConnection slot_connection(conninfo_);
    const replication::CreatedSlot slot =
        slot_connection.create_slot(slot_name_, replication::SlotLifetime::Temporary);
    if (cancelled_.load()) throw Cancelled{};
    replication::SnapshotReader reader(conninfo_, slot.snapshot_name);
    spdlog::debug("loading {} from snapshot {} at {}", name, slot.snapshot_name,
                  slot.consistent_point.to_string());
    outcome.consistent = slot.consistent_point;
    load_members(reader, outcome);
    reader.finish();
  } catch (const Cancelled&) {
    outcome.cancelled = true;
    outcome.error = Error(ErrorKind::Internal, "the load of stream table " + name + " was cancelled");
  } catch (const Error& error) {
    outcome.error = error;
  } catch (const std::exception& error) {
    outcome.error = Error(ErrorKind::Internal, "loading stream table " + name + ": " + error.what());
  }
  for (std::size_t i = 0; i < members_.size(); ++i) {
    LoadedTable& loaded = outcome.tables[i];
    if (outcome.error || loaded.error) loaded.contents.clear();
    loaded.runtime = std::move(members_[i].runtime);
  }
  finished_(std::move(outcome));
}

void BackgroundLoad::load_members(replication::SnapshotReader& reader, LoadOutcome& outcome) {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    StreamTable& runtime = *members_[i].runtime;
    LoadedTable& loaded = outcome.tables[i];
    for (std::size_t j = 0; j < i && !loaded.error; ++j) {
      if (outcome.tables[j].error && reads_target(runtime, members_[j].target_oid)) {
        loaded.error =
            Error(ErrorKind::Config, "stream table " + runtime.display_name() + ": its source stream table " +
                                         members_[j].runtime->display_name() + " failed to load");
      }
    }
    if (loaded.error) continue;
    try {
      loaded.contents = runtime.load(reader, outcome.consistent, [this] {
        if (cancelled_.load(std::memory_order_relaxed)) throw Cancelled{};
      });
    } catch (const Error& error) {
      if (fails_the_load(error)) throw;
      loaded.error = error;
      continue;
    }
    // Its downstreams, later in the list, receive its result.
    for (std::size_t k = i + 1; k < members_.size(); ++k) {
      if (!reads_target(*members_[k].runtime, members_[i].target_oid)) continue;
      try {
        members_[k].runtime->push(members_[i].target_oid, runtime.output_delta());
      } catch (const Error& error) {
        outcome.tables[k].error = error;
      }
    }
    runtime.release_buffers();
  }
}

}  // namespace pgstream::daemon
