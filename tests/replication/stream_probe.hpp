// StreamProbe: runs a ReplicationStream against the test cluster on its own
// io_context and records what it delivers, for the integration tests.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pgstream/replication/replication_stream.hpp"
#include "support/pg_cluster.hpp"

namespace pgstream::replication::testing {

// "NULL", "TOAST" or the text; binary as "\x.." hex.
std::string describe_value(const ColumnValue& value);
std::string describe_tuple(const TupleView& tuple);
// "I public.t: 1,a", "U public.t: K(1)>2,b", "D public.t: O(1,a)", "T public.t/3",
// "M p=c", "S public.t bits", ...
std::string describe_change(const ChangeBatch& batch, const Change& change);

struct ReceivedTransaction {
  std::uint32_t xid = 0;
  Lsn commit_lsn;
  Lsn end_lsn;
  bool streamed = false;
  std::uint64_t rows = 0;
  std::int64_t first_column_sum = 0;       // of inserted rows, when the first column is an integer
  std::vector<std::string> changes;        // only when keep_changes
  std::vector<std::int64_t> inserted_ids;  // first column of inserts, when keep_ids
};

class StreamProbe {
 public:
  StreamProbe(const pgstream::testing::PgDatabase& db, std::string slot,
              std::vector<std::string> publications, std::function<void(StreamOptions&)> tweak = {});

  // Runs the io_context until `done` holds or `timeout` passes; true if it held.
  bool run_until(const std::function<bool()>& done, std::chrono::seconds timeout = std::chrono::seconds(60));
  // Commits a transactional logical message ("probe", tag) through `db`
  // and runs until it arrives: everything committed before it has arrived.
  bool sync(pgstream::testing::PgDatabase& db, std::chrono::seconds timeout = std::chrono::seconds(60));

  std::function<void(const ChangeBatch&)> hook;  // sees every batch first
  bool keep_changes = true;
  bool keep_ids = false;
  bool auto_confirm = true;  // confirm each transaction's end_lsn as it arrives
  std::vector<ReceivedTransaction> transactions;
  std::vector<std::string> standalone_messages;  // non-transactional, "prefix=content"
  std::vector<std::string> markers;              // contents of transactional "probe" messages, in order
  std::optional<Error> error;
  int resets = 0;
  int disconnects = 0;

  boost::asio::io_context io;
  ReplicationStream stream;

 private:
  void on_batch(const ChangeBatch& batch);
  ReceivedTransaction current_;
  int next_marker_ = 0;
};

}  // namespace pgstream::replication::testing
