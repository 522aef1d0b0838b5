#include "pgstream/daemon/background_load.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "pgstream/replication/replication_connection.hpp"

namespace pgstream::daemon {

namespace {

// Thrown from a row callback to give up a cancelled load.
struct Cancelled {};

}  // namespace

BackgroundLoad::BackgroundLoad(std::string conninfo, std::string slot_name,
                               std::unique_ptr<StreamTable> runtime, Finished finished)
    : conninfo_(std::move(conninfo)),
      slot_name_(std::move(slot_name)),
      runtime_(std::move(runtime)),
      finished_(std::move(finished)),
      thread_([this] { run(); }) {}

BackgroundLoad::~BackgroundLoad() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void BackgroundLoad::run() noexcept {
  LoadOutcome outcome;
  const std::string name = runtime_->display_name();
  try {
    replication::ReplicationConnection slot_connection(conninfo_);
    const replication::CreatedSlot slot =
        slot_connection.create_slot(slot_name_, replication::SlotLifetime::Temporary);
    if (cancelled_.load()) throw Cancelled{};
    replication::SnapshotReader reader(conninfo_, slot.snapshot_name);
    spdlog::debug("loading {} from snapshot {} at {}", name, slot.snapshot_name,
                  slot.consistent_point.to_string());
    outcome.consistent = slot.consistent_point;
    outcome.contents = runtime_->load(reader, slot.consistent_point, [this] {
      if (cancelled_.load(std::memory_order_relaxed)) throw Cancelled{};
    });
    runtime_->release_buffers();
    reader.finish();
  } catch (const Cancelled&) {
    outcome.cancelled = true;
    outcome.error = Error(ErrorKind::Internal, "the load of stream table " + name + " was cancelled");
  } catch (const Error& error) {
    outcome.error = error;
  } catch (const std::exception& error) {
    outcome.error = Error(ErrorKind::Internal, "loading stream table " + name + ": " + error.what());
  }
  if (outcome.error) outcome.contents.clear();
  outcome.runtime = std::move(runtime_);
  finished_(std::move(outcome));
}

}  // namespace pgstream::daemon
