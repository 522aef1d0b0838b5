// Decoder: turns the pgoutput messages of one replication connection into
// whole-transaction ChangeBatches, delivered in commit order.
//
// Contract:
// - decode() takes each XLogData payload in the order received. Regular
//   transactions (Begin ... Commit) are decoded straight into the batch;
//   streamed ones (Stream Start/Stop blocks, protocol v2) are kept raw in a
//   TransactionSpool (memory-bounded, spilling to disk) until Stream Commit
//   releases them or Stream Abort discards them (whole or a
//   subtransaction).
// - The sink is called once per batch part (see ChangeBatch for parts) with
//   changes in server order. It may throw; the exception leaves decode()
//   and the Decoder must then be reset() before further use.
// - Relation messages update the RelationCache as they arrive (or, inside a
//   streamed block, when the transaction is replayed) and become
//   ChangeKind::SchemaChange changes of the batch that contains them, so a
//   consumer sees each definition before the first row that uses it.
// - Transactions whose commit LSN is below skip_before() are decoded (for
//   their Relation messages) but not delivered: they were already applied.
//   Schema changes found in them are delivered with the next batch.
// - A non-transactional logical message is delivered at once as a batch of
//   its own with xid 0, commit_lsn = the message's LSN and one Message
//   change (transactional == false).
// - Malformed or out-of-order input throws Error(ErrorKind::Protocol).
// - Steady state decoding allocates nothing per row. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "pgstream/common/lsn.hpp"
#include "pgstream/replication/change_batch.hpp"
#include "pgstream/replication/pgoutput.hpp"
#include "pgstream/replication/relation_cache.hpp"
#include "pgstream/replication/transaction_spool.hpp"

namespace pgstream::replication {

struct DecoderOptions {
  SpoolOptions spool;
  // A batch part is delivered when it holds this many changes or bytes.
  std::size_t max_part_changes = 100'000;
  std::size_t max_part_bytes = std::size_t{16} << 20U;
};

struct DecoderStats {
  std::uint64_t messages = 0;      // pgoutput messages decoded
  std::uint64_t transactions = 0;  // delivered (last parts)
  std::uint64_t streamed_transactions = 0;
  std::uint64_t aborted_transactions = 0;  // streamed, then aborted
  std::uint64_t skipped_transactions = 0;  // below skip_before()
  std::uint64_t rows = 0;                  // rows delivered
  std::uint64_t parts = 0;                 // batch parts delivered
};

using BatchSink = std::function<void(const ChangeBatch&)>;

class Decoder {
 public:
  Decoder(DecoderOptions options, BatchSink sink);

  // Decodes one pgoutput message (an XLogData payload).
  void decode(std::string_view payload);

  // Transactions committed before `lsn` are not delivered again.
  void set_skip_before(Lsn lsn) noexcept { skip_before_ = lsn; }
  [[nodiscard]] Lsn skip_before() const noexcept { return skip_before_; }

  // True when no regular transaction and no streamed block is open: every
  // transaction that committed before the last message was delivered.
  [[nodiscard]] bool between_transactions() const noexcept { return !in_transaction_ && !in_stream_; }
  // True while any part of a transaction was delivered without its last part.
  [[nodiscard]] bool partial_delivered() const noexcept { return in_transaction_ && batch_.part() > 0; }
  // End LSN of the last transaction delivered or skipped.
  [[nodiscard]] Lsn last_end_lsn() const noexcept { return last_end_lsn_; }

  // Forgets the state of a connection that ended: an open transaction and
  // every streamed one (the server sends them again after a reconnect). The
  // relation cache is kept, so repeated Relation messages are no events.
  void reset() noexcept;

  [[nodiscard]] const RelationCache& relations() const noexcept { return relations_; }
  [[nodiscard]] const DecoderStats& stats() const noexcept { return stats_; }
  [[nodiscard]] const SpoolStats& spool_stats() const noexcept { return spool_.stats(); }

 private:
  void dispatch(std::string_view payload, const PgOutputMessage& message);
  void on_begin(const PgOutputMessage& message);
  void on_commit(const PgOutputMessage& message);
  void on_origin(std::string_view payload, const PgOutputMessage& message);
  void on_relation(std::string_view payload, const PgOutputMessage& message);
  void on_data(std::string_view payload, const PgOutputMessage& message);
  void on_message(std::string_view payload, const PgOutputMessage& message);
  void on_stream_start(const PgOutputMessage& message);
  void on_stream_commit(const PgOutputMessage& message);
  void on_stream_abort(const PgOutputMessage& message);
  void replay_streamed(std::uint32_t xid);
  void replay_one(std::string_view payload, const std::vector<std::uint32_t>& aborted);

  void start_batch(std::uint32_t xid, Lsn commit_lsn, std::int64_t timestamp, bool streamed);
  void finish_batch(Lsn end_lsn);
  void add_change(const PgOutputMessage& message);
  void add_row(ChangeKind kind, const PgOutputMessage& message);
  void add_truncate(const PgOutputMessage& message);
  // Delivers the batch as a part (not the last) when it is full.
  void make_room();
  void deliver();
  void flush_pending_schema_changes();
  void require(bool condition, std::string_view message_name, const char* rule) const;

  DecoderOptions options_;
  BatchSink sink_;
  RelationCache relations_;
  TransactionSpool spool_;
  ChangeBatch batch_;
  ChangeBatch message_batch_;  // for non-transactional messages
  PgOutputMessage message_;    // the message being decoded
  PgOutputMessage replayed_;   // a message replayed from the spool
  std::vector<SchemaChange> pending_schema_changes_;
  Lsn skip_before_;
  Lsn last_end_lsn_;
  bool in_transaction_ = false;
  bool in_stream_ = false;
  bool skipping_ = false;
  std::uint32_t stream_xid_ = 0;
  DecoderStats stats_;
};

}  // namespace pgstream::replication
