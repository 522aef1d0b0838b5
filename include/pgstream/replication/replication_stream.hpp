// ReplicationStream: reads one logical replication slot with pgoutput over
// a non-blocking COPY BOTH connection driven by a Boost.Asio io_context,
// hands each committed transaction to the consumer as ChangeBatch parts,
// and reports progress back to the server.
//
// Contract:
// - Everything but confirm() runs on the io_context's thread: handlers are
//   called there, one at a time. The connection is waited on with
//   stream_descriptor::async_wait on PQsocket (no polling, no extra thread).
//   Connecting (and START_REPLICATION) blocks that thread briefly.
// - confirm(lsn) may be called from any thread: it records the LSN up to
//   which the consumer has durably applied what it received. The flush and
//   apply LSNs reported to the server never exceed it, with one exception
//   that is equally safe: when everything delivered has been confirmed and
//   the last keepalive arrived between transactions, the keepalive's
//   wal_end is reported, so an idle database's slot still advances.
// - Standby status updates go out every status_interval, and at once when
//   the server asks for a reply.
// - When the connection fails (the server restarts, the network drops) the
//   stream reconnects by itself after an exponential backoff with jitter,
//   resuming at the greater of start_lsn and the last confirmed LSN;
//   transactions that committed before that point are not delivered again.
//   If parts of a transaction had been delivered without its last part,
//   on_reset() says they are void (the transaction will come again).
// - Errors an operator must fix (slot missing or invalidated, publication
//   missing, role lacks REPLICATION, wal_level) and protocol errors stop the
//   stream and reach on_error(); so does giving up after max_attempts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "pgstream/common/error.hpp"
#include "pgstream/common/lsn.hpp"
#include "pgstream/replication/decoder.hpp"
#include "pgstream/replication/replication_connection.hpp"
#include "pgstream/replication/standby_protocol.hpp"

namespace pgstream::replication {

struct StreamOptions {
  std::string conninfo;  // an ordinary conninfo; replication=database is added
  std::string slot;
  std::vector<std::string> publications;
  // Resume point: everything before it is durably applied (it also seeds
  // confirmed()). 0/0 means the slot's confirmed_flush_lsn.
  Lsn start_lsn;
  std::chrono::milliseconds status_interval{10'000};
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30'000};
  int max_attempts = 0;  // consecutive failed connects before giving up; 0 = never give up
  DecoderOptions decoder;
};

struct StreamHandler {
  std::function<void(const ChangeBatch&)> on_batch;  // required
  std::function<void(const Error&)> on_error;        // the stream stopped for good
  std::function<void()> on_reset;                    // delivered parts of an unfinished transaction are void
  std::function<void(Lsn)> on_idle;                  // a keepalive found no transaction open
  std::function<void(const Error&)> on_disconnect;   // the connection failed; a retry follows
  std::function<void(Lsn)> on_connected;             // streaming from this LSN
};

struct StreamStats {
  std::uint64_t bytes_received = 0;
  std::uint64_t xlog_messages = 0;
  std::uint64_t keepalives = 0;
  std::uint64_t status_updates = 0;
  std::uint64_t connects = 0;
  Lsn received_lsn;    // highest WAL position received
  Lsn server_wal_end;  // the server's last reported end of WAL
  Lsn reported_flush;  // the last flush LSN sent to the server
};

class ReplicationStream {
 public:
  ReplicationStream(boost::asio::io_context& io, StreamOptions options, StreamHandler handler);
  ReplicationStream(const ReplicationStream&) = delete;
  ReplicationStream& operator=(const ReplicationStream&) = delete;
  ~ReplicationStream();

  // Connects and starts streaming (from the io_context's thread).
  void start();
  // Sends a last status update (flush = confirmed) and closes the connection.
  void stop();
  [[nodiscard]] bool running() const noexcept { return running_; }
  // Drops the connection now and reconnects after the usual backoff. For a
  // server that is shutting down: its fast shutdown waits until this
  // walsender's client confirmed everything sent, which the consumer
  // cannot do while the server refuses its writes.
  void interrupt(const Error& why);

  // The consumer durably applied everything up to `lsn`. Thread-safe; the
  // value only moves forward.
  void confirm(Lsn lsn) noexcept;
  [[nodiscard]] Lsn confirmed() const noexcept { return Lsn(confirmed_.load(std::memory_order_acquire)); }
  // Sends a status update now (on the io thread), asking for a reply.
  void send_status_now();

  [[nodiscard]] const StreamStats& stats() const noexcept { return stats_; }
  [[nodiscard]] const Decoder& decoder() const noexcept { return decoder_; }

 private:
  void connect();
  void open_connection();
  void wait_readable();
  void on_readable();
  // Handles every complete message libpq has buffered; false if the
  // connection was closed meanwhile.
  bool drain_copy_data(PGconn* conn, std::uint64_t generation);
  void handle_copy_message(std::string_view data);
  void on_keepalive(const CopyMessage& message);
  void arm_status_timer();
  void send_status(bool reply_requested);
  void flush_output();
  [[nodiscard]] Lsn flush_position() const noexcept;
  void fail(const Error& error);
  void schedule_reconnect(const Error& error);
  [[nodiscard]] static bool retryable(const Error& error) noexcept;
  void close_connection() noexcept;

  boost::asio::io_context& io_;
  StreamOptions options_;
  StreamHandler handler_;
  Decoder decoder_;
  std::unique_ptr<ReplicationConnection> connection_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
  boost::asio::steady_timer status_timer_;
  boost::asio::steady_timer retry_timer_;
  std::minstd_rand jitter_;
  std::atomic<std::uint64_t> confirmed_{0};
  Lsn idle_wal_end_;  // wal_end of the last keepalive that found no transaction open
  CopyMessage copy_message_;
  StreamStats stats_;
  int failed_attempts_ = 0;
  bool running_ = false;
  bool write_pending_ = false;
  std::uint64_t generation_ = 0;  // bumped per connection; stale callbacks check it
  // Handlers posted to the io_context check it before touching `this`, so
  // the stream may be destroyed while the io_context still holds them.
  // (Timer and socket waits are cancelled and see operation_aborted.)
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
};

}  // namespace pgstream::replication
