#include "pgstream/replication/replication_stream.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <poll.h>

#include <algorithm>
#include <utility>

#include "pgstream/common/pg.hpp"

namespace pgstream::replication {

namespace {

struct PqFree {
  void operator()(char* data) const noexcept { PQfreemem(data); }
};

Error connection_lost(PGconn* conn, std::string_view what) {
  std::string message = conn != nullptr ? PQerrorMessage(conn) : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return Error(ErrorKind::Connection, std::string(what) + (message.empty() ? "" : ": " + message),
               {.hint = "pg_stream reconnects by itself; check the server if this repeats."});
}

}  // namespace

ReplicationStream::ReplicationStream(boost::asio::io_context& io, StreamOptions options,
                                     StreamHandler handler)
    : io_(io),
      options_(std::move(options)),
      handler_(std::move(handler)),
      decoder_(options_.decoder, [this](const ChangeBatch& batch) { handler_.on_batch(batch); }),
      status_timer_(io),
      retry_timer_(io),
      jitter_(std::random_device{}()),
      confirmed_(options_.start_lsn.value()) {}

ReplicationStream::~ReplicationStream() { close_connection(); }

void ReplicationStream::start() {
  running_ = true;
  failed_attempts_ = 0;
  connect();
}

void ReplicationStream::stop() {
  if (!running_) return;
  running_ = false;
  if (connection_) {
    try {
      send_status(false);
      PQsetnonblocking(connection_->get(), 0);
      PQflush(connection_->get());
    } catch (const Error& e) {
      spdlog::warn("replication: last status update failed: {}", e.message());
    }
  }
  close_connection();
  retry_timer_.cancel();
}

void ReplicationStream::confirm(Lsn lsn) noexcept {
  std::uint64_t current = confirmed_.load(std::memory_order_relaxed);
  while (lsn.value() > current &&
         !confirmed_.compare_exchange_weak(current, lsn.value(), std::memory_order_release)) {
  }
}

void ReplicationStream::send_status_now() {
  boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_), generation = generation_] {
    if (life.expired() || generation != generation_ || !connection_) return;
    try {
      send_status(true);
    } catch (const Error& e) {
      schedule_reconnect(e);
    }
  });
}

void ReplicationStream::connect() {
  if (!running_) return;
  try {
    open_connection();
  } catch (const Error& e) {
    close_connection();
    if (retryable(e)) {
      schedule_reconnect(e);
    } else {
      fail(e);
    }
  }
}

void ReplicationStream::open_connection() {
  connection_ = std::make_unique<ReplicationConnection>(options_.conninfo);
  connection_->check_can_stream(options_.slot, options_.publications);
  const Lsn start = std::max({options_.start_lsn, confirmed(), stats_.reported_flush});
  decoder_.reset();
  decoder_.set_skip_before(std::max(start, decoder_.last_end_lsn()));
  connection_->start_replication(options_.slot, start, options_.publications);
  if (PQsetnonblocking(connection_->get(), 1) != 0)
    throw connection_lost(connection_->get(), "PQsetnonblocking");
  ++generation_;
  socket_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, PQsocket(connection_->get()));
  failed_attempts_ = 0;
  ++stats_.connects;
  spdlog::info("replication: streaming slot \"{}\" from {}", options_.slot, start.to_string());
  if (handler_.on_connected) handler_.on_connected(start);
  wait_readable();
  arm_status_timer();
}

void ReplicationStream::wait_readable() {
  socket_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this, generation = generation_](const boost::system::error_code& ec) {
                        if (ec || generation != generation_) return;
                        on_readable();
                      });
}

namespace {

// True if the socket has bytes waiting. Asio's epoll reactor is
// edge-triggered and libpq reads at most its buffer's worth per call, so
// what is left in the kernel would otherwise wait for the next packet.
bool socket_readable(int fd) noexcept {
  pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&entry, 1, 0) == 1 && (entry.revents & POLLIN) != 0;
}

}  // namespace

void ReplicationStream::on_readable() {
  // Rounds of reading before yielding to the io_context, so that timers
  // (status updates) still run while a backlog streams in.
  constexpr int kRoundsPerTurn = 64;
  PGconn* conn = connection_->get();
  const std::uint64_t generation = generation_;
  bool more = false;
  try {
    for (int round = 0; round < kRoundsPerTurn; ++round) {
      if (PQconsumeInput(conn) == 0) throw connection_lost(conn, "lost the replication connection");
      if (!drain_copy_data(conn, generation)) return;  // stopped, reconnecting or failed
      more = socket_readable(PQsocket(conn));
      if (!more) break;
    }
  } catch (const Error& e) {
    if (retryable(e)) {
      schedule_reconnect(e);
    } else {
      fail(e);
    }
    return;
  } catch (const std::exception& e) {
    fail(Error(ErrorKind::Internal, std::string("replication consumer failed: ") + e.what()));
    return;
  }
  if (!more) {
    wait_readable();
    return;
  }
  boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_), generation] {
    if (!life.expired() && generation == generation_) on_readable();
  });
}

bool ReplicationStream::drain_copy_data(PGconn* conn, std::uint64_t generation) {
  for (;;) {
    char* buffer = nullptr;
    const int size = PQgetCopyData(conn, &buffer, 1);
    if (size > 0) {
      const std::unique_ptr<char, PqFree> owned(buffer);
      handle_copy_message(std::string_view(buffer, static_cast<std::size_t>(size)));
      if (generation != generation_) return false;  // a handler stopped the stream
      continue;
    }
    if (size == 0) return true;
    if (size == -2) throw connection_lost(conn, "reading the replication stream failed");
    const PgResult result(PQgetResult(conn));
    if (result_ok(result.get())) throw connection_lost(conn, "the server ended the replication stream");
    throw diagnose_replication_error(result_error(conn, result.get(), "replication stream"), options_.slot);
  }
}

void ReplicationStream::handle_copy_message(std::string_view data) {
  parse_copy_message(data, copy_message_);
  stats_.bytes_received += data.size();
  stats_.server_wal_end = std::max(stats_.server_wal_end, copy_message_.wal_end);
  if (copy_message_.kind == CopyMessageKind::Keepalive) {
    on_keepalive(copy_message_);
    return;
  }
  ++stats_.xlog_messages;
  stats_.received_lsn = std::max(stats_.received_lsn, copy_message_.wal_start);
  decoder_.decode(copy_message_.payload);
}

void ReplicationStream::on_keepalive(const CopyMessage& message) {
  ++stats_.keepalives;
  if (decoder_.between_transactions()) {
    idle_wal_end_ = std::max(idle_wal_end_, message.wal_end);
    if (handler_.on_idle) handler_.on_idle(message.wal_end);
  }
  if (message.reply_requested) send_status(false);
}

Lsn ReplicationStream::flush_position() const noexcept {
  const Lsn applied = confirmed();
  if (idle_wal_end_ > applied && applied >= decoder_.last_end_lsn()) return idle_wal_end_;
  return applied;
}

void ReplicationStream::arm_status_timer() {
  status_timer_.expires_after(options_.status_interval);
  status_timer_.async_wait([this, generation = generation_](const boost::system::error_code& ec) {
    if (ec || generation != generation_) return;
    try {
      send_status(false);
    } catch (const Error& e) {
      schedule_reconnect(e);
      return;
    }
    arm_status_timer();
  });
}

void ReplicationStream::send_status(bool reply_requested) {
  if (!connection_) return;
  const Lsn flush = flush_position();
  const Lsn write = std::max(stats_.received_lsn, flush);
  const auto message = encode_status_update(write, flush, flush, pg_now(), reply_requested);
  if (PQputCopyData(connection_->get(), message.data(), static_cast<int>(message.size())) != 1) {
    throw connection_lost(connection_->get(), "sending a standby status update failed");
  }
  stats_.reported_flush = std::max(stats_.reported_flush, flush);
  ++stats_.status_updates;
  flush_output();
}

void ReplicationStream::flush_output() {
  const int pending = PQflush(connection_->get());
  if (pending < 0) throw connection_lost(connection_->get(), "sending a standby status update failed");
  if (pending == 0 || write_pending_) return;
  write_pending_ = true;
  socket_->async_wait(boost::asio::posix::stream_descriptor::wait_write,
                      [this, generation = generation_](const boost::system::error_code& ec) {
                        if (ec || generation != generation_) return;  // close_connection() resets the flag
                        write_pending_ = false;
                        try {
                          flush_output();
                        } catch (const Error& e) {
                          schedule_reconnect(e);
                        }
                      });
}

bool ReplicationStream::retryable(const Error& error) noexcept {
  if (error.kind() == ErrorKind::Connection) return true;
  if (error.kind() != ErrorKind::Database) return false;
  if (error.sqlstate() == "55006") return true;  // slot still held by the previous connection's walsender
  return classify_sqlstate(error.sqlstate()) == ErrorAction::Retry;
}

void ReplicationStream::schedule_reconnect(const Error& error) {
  const bool partial = decoder_.partial_delivered();
  close_connection();
  decoder_.reset();
  if (partial && handler_.on_reset) handler_.on_reset();
  if (!running_) return;
  ++failed_attempts_;
  if (options_.max_attempts > 0 && failed_attempts_ > options_.max_attempts) {
    fail(error);
    return;
  }
  const auto ceiling = std::min(options_.max_backoff.count(), options_.initial_backoff.count()
                                                                  << std::min(failed_attempts_ - 1, 20));
  std::uniform_int_distribution<std::int64_t> pick(ceiling / 2, std::max<std::int64_t>(ceiling, 1));
  const std::chrono::milliseconds delay(pick(jitter_));
  spdlog::warn("replication: {}; reconnecting in {} ms (attempt {})", error.message(), delay.count(),
               failed_attempts_);
  if (handler_.on_disconnect) handler_.on_disconnect(error);
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) connect();
  });
}

void ReplicationStream::interrupt(const Error& why) {
  if (!running_ || !connection_) return;  // not connected: nothing holds the walsender
  schedule_reconnect(why);
}

void ReplicationStream::fail(const Error& error) {
  running_ = false;
  close_connection();
  decoder_.reset();
  spdlog::error("replication: {}", error.describe());
  if (handler_.on_error) handler_.on_error(error);
}

void ReplicationStream::close_connection() noexcept {
  ++generation_;
  status_timer_.cancel();
  write_pending_ = false;
  if (socket_) {
    boost::system::error_code ignored;
    socket_->cancel(ignored);
    socket_->release();  // libpq owns the descriptor
    socket_.reset();
  }
  connection_.reset();
}

}  // namespace pgstream::replication
