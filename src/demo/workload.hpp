// The demo's sample database and the changes written to it (private to the
// demo module).
//
// Contract:
// - kSampleSchema creates and fills customers (500), products (40) and
//   orders (5,000), the same rows on every run (setseed).
// - sample_stream_tables() are the three stream tables the demo declares:
//   an aggregate, a join and a top-k; each query is one pgstream maintains
//   differentially (the demo's test checks them against their queries).
// - Writer runs a thread of its own writing single-statement transactions
//   (55% new orders, 25% order updates, 15% deletes, 5% customers moving to
//   another region) at a steady rate over its own connection, until stop()
//   or the destructor. An error ends the thread; error() says which. Its
//   counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pgstream/common/pg.hpp"

namespace pgstream::demo {

extern const std::string_view kSampleSchema;

struct SampleStreamTable {
  std::string_view name;         // in public
  std::string_view description;  // what it shows, for the view
  std::string_view query;
};

[[nodiscard]] const std::vector<SampleStreamTable>& sample_stream_tables();

class Writer {
 public:
  // Connects (throws Error{Connection} if it cannot) and starts writing.
  Writer(const std::string& conninfo, int transactions_per_second);
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer();

  void stop() noexcept;
  [[nodiscard]] std::uint64_t transactions() const noexcept { return transactions_.load(); }
  [[nodiscard]] std::optional<std::string> error() const;

 private:
  void run(PgConnection connection, int transactions_per_second);

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> transactions_{0};
  mutable std::mutex mutex_;
  std::optional<std::string> error_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace pgstream::demo
