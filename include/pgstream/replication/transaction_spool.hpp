// TransactionSpool: the raw pgoutput messages of streamed, still in-progress
// transactions, kept per top-level xid until the server says how each ends.
//
// Contract:
// - append() keeps messages in memory while the spool's total stays under
//   memory_limit; past it, the largest transactions' messages move to files
//   (in spill_dir, unlinked as soon as they are created, so a crash leaves
//   nothing behind) until the next message fits. Memory is bounded by
//   memory_limit plus one message plus one partly filled chunk (at most
//   1 MB) per open transaction: messages are kept in fixed-size chunks, so
//   growing never copies.
// - abort() of a subtransaction records its xid: replay() skips its
//   messages. abort() of the top-level xid (subxid == xid) drops everything.
// - replay() hands every message of a transaction to `visit`, in the order
//   appended (spilled ones first, they are older), then forgets the
//   transaction. The view passed to `visit` is valid during that call only.
// - I/O failures throw Error(ErrorKind::Io). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgstream::replication {

struct SpoolOptions {
  std::size_t memory_limit = std::size_t{64} << 20U;  // 64 MB
  // Where spill files go; empty means <temp dir>/pgstream-spill.
  std::filesystem::path spill_dir;
};

struct SpoolStats {
  std::size_t memory_bytes = 0;       // held in memory now
  std::size_t peak_memory_bytes = 0;  // the most ever held
  std::uint64_t spilled_bytes = 0;    // written to disk, in total
  std::size_t open_transactions = 0;
};

class TransactionSpool {
 public:
  explicit TransactionSpool(SpoolOptions options);
  TransactionSpool(const TransactionSpool&) = delete;
  TransactionSpool& operator=(const TransactionSpool&) = delete;
  ~TransactionSpool();

  void append(std::uint32_t xid, std::string_view message);
  // subxid == xid aborts the whole transaction.
  void abort(std::uint32_t xid, std::uint32_t subxid);
  [[nodiscard]] bool contains(std::uint32_t xid) const noexcept { return transactions_.contains(xid); }
  // Subtransactions of `xid` that aborted (empty for an unknown xid).
  [[nodiscard]] const std::vector<std::uint32_t>& aborted_subtransactions(std::uint32_t xid) const noexcept;

  // Replays and forgets `xid`; a transaction never appended replays nothing.
  void replay(std::uint32_t xid, const std::function<void(std::string_view)>& visit);
  void clear() noexcept;

  [[nodiscard]] const SpoolStats& stats() const noexcept { return stats_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
  };
  struct Transaction {
    // Records (4-byte native size, then the message) in fixed-size chunks:
    // growing never copies, and capacity stays within a chunk of the size.
    std::vector<std::string> chunks;
    std::size_t bytes = 0;
    std::unique_ptr<std::FILE, FileCloser> file;
    std::vector<std::uint32_t> aborted;
  };

  void append_record(Transaction& txn, std::string_view message);
  void forget(std::uint32_t xid) noexcept;
  // Spills the largest transactions until `incoming` more bytes fit.
  void make_room(std::size_t incoming);
  void spill(std::uint32_t xid, Transaction& txn);
  std::FILE* open_spill_file(std::uint32_t xid);
  void replay_file(std::FILE* file, const std::function<void(std::string_view)>& visit);

  SpoolOptions options_;
  std::unordered_map<std::uint32_t, Transaction> transactions_;
  SpoolStats stats_;
  std::size_t chunk_size_;
  std::string read_buffer_;
};

}  // namespace pgstream::replication
