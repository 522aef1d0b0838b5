#include "pgstream/replication/transaction_spool.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "pgstream/common/error.hpp"

namespace pgstream::replication {

namespace {

Error io_error(const std::string& what, int error_number) {
  return Error(ErrorKind::Io, what + ": " + std::generic_category().message(error_number),
               {.detail = "Streamed transactions larger than the decoder's memory limit are spilled to disk.",
                .hint = "Check that the spill directory exists, is writable and has free space."});
}

std::filesystem::path default_spill_dir() {
  return std::filesystem::temp_directory_path() / "pgstream-spill";
}

// A chunk per 1/16 of the limit, between 4 kB and 1 MB.
std::size_t chunk_size_for(std::size_t memory_limit) {
  return std::clamp<std::size_t>(memory_limit / 16, std::size_t{4} << 10U, std::size_t{1} << 20U);
}

}  // namespace

TransactionSpool::TransactionSpool(SpoolOptions options)
    : options_(std::move(options)), chunk_size_(chunk_size_for(options_.memory_limit)) {
  if (options_.spill_dir.empty()) options_.spill_dir = default_spill_dir();
}

TransactionSpool::~TransactionSpool() { clear(); }

void TransactionSpool::append(std::uint32_t xid, std::string_view message) {
  const std::size_t record = sizeof(std::uint32_t) + message.size();
  Transaction& txn = transactions_[xid];
  stats_.open_transactions = transactions_.size();
  // Spill before growing, so that the limit holds at every moment.
  if (stats_.memory_bytes + record > options_.memory_limit) make_room(record);
  append_record(txn, message);
  txn.bytes += record;
  stats_.memory_bytes += record;
  stats_.peak_memory_bytes = std::max(stats_.peak_memory_bytes, stats_.memory_bytes);
}

void TransactionSpool::append_record(Transaction& txn, std::string_view message) {
  const auto size = static_cast<std::uint32_t>(message.size());
  const std::size_t record = sizeof(size) + message.size();
  if (txn.chunks.empty() || txn.chunks.back().capacity() - txn.chunks.back().size() < record) {
    txn.chunks.emplace_back().reserve(std::max(chunk_size_, record));
  }
  std::string& chunk = txn.chunks.back();
  char header[sizeof(size)];
  std::memcpy(header, &size, sizeof(size));
  chunk.append(header, sizeof(size));
  chunk.append(message);
}

void TransactionSpool::abort(std::uint32_t xid, std::uint32_t subxid) {
  if (subxid == xid) {
    forget(xid);
    return;
  }
  const auto it = transactions_.find(xid);
  if (it == transactions_.end()) return;
  std::vector<std::uint32_t>& aborted = it->second.aborted;
  if (std::find(aborted.begin(), aborted.end(), subxid) == aborted.end()) aborted.push_back(subxid);
}

const std::vector<std::uint32_t>& TransactionSpool::aborted_subtransactions(
    std::uint32_t xid) const noexcept {
  static const std::vector<std::uint32_t> kNone;
  const auto it = transactions_.find(xid);
  return it == transactions_.end() ? kNone : it->second.aborted;
}

void TransactionSpool::replay(std::uint32_t xid, const std::function<void(std::string_view)>& visit) {
  const auto it = transactions_.find(xid);
  if (it == transactions_.end()) return;
  Transaction& txn = it->second;
  if (txn.file) replay_file(txn.file.get(), visit);
  for (const std::string& chunk : txn.chunks) {
    std::string_view rest = chunk;
    while (rest.size() >= sizeof(std::uint32_t)) {
      std::uint32_t size = 0;
      std::memcpy(&size, rest.data(), sizeof(size));
      visit(rest.substr(sizeof(size), size));
      rest.remove_prefix(sizeof(size) + size);
    }
  }
  forget(xid);
}

void TransactionSpool::replay_file(std::FILE* file, const std::function<void(std::string_view)>& visit) {
  if (std::fflush(file) != 0 || std::fseek(file, 0, SEEK_SET) != 0)
    throw io_error("rewinding a spill file", errno);
  std::uint32_t size = 0;
  while (std::fread(&size, sizeof(size), 1, file) == 1) {
    read_buffer_.resize(size);
    if (size != 0 && std::fread(read_buffer_.data(), 1, size, file) != size) {
      throw io_error("reading a spill file (truncated record)", errno != 0 ? errno : EIO);
    }
    visit(read_buffer_);
  }
  if (std::ferror(file) != 0) throw io_error("reading a spill file", errno);
}

void TransactionSpool::forget(std::uint32_t xid) noexcept {
  const auto it = transactions_.find(xid);
  if (it == transactions_.end()) return;
  stats_.memory_bytes -= it->second.bytes;
  transactions_.erase(it);
  stats_.open_transactions = transactions_.size();
}

void TransactionSpool::clear() noexcept {
  transactions_.clear();
  stats_.memory_bytes = 0;
  stats_.open_transactions = 0;
}

void TransactionSpool::make_room(std::size_t incoming) {
  while (stats_.memory_bytes + incoming > options_.memory_limit) {
    auto largest =
        std::max_element(transactions_.begin(), transactions_.end(),
                         [](const auto& a, const auto& b) { return a.second.bytes < b.second.bytes; });
    if (largest == transactions_.end() || largest->second.bytes == 0) return;
    spill(largest->first, largest->second);
  }
}

void TransactionSpool::spill(std::uint32_t xid, Transaction& txn) {
  if (!txn.file) txn.file.reset(open_spill_file(xid));
  if (std::fseek(txn.file.get(), 0, SEEK_END) != 0) throw io_error("seeking in a spill file", errno);
  for (const std::string& chunk : txn.chunks) {
    if (std::fwrite(chunk.data(), 1, chunk.size(), txn.file.get()) != chunk.size()) {
      throw io_error("writing a spill file in " + options_.spill_dir.string(), errno);
    }
  }
  stats_.spilled_bytes += txn.bytes;
  stats_.memory_bytes -= txn.bytes;
  txn.bytes = 0;
  txn.chunks.clear();  // gives the memory back
}

std::FILE* TransactionSpool::open_spill_file(std::uint32_t xid) {
  std::error_code ec;
  std::filesystem::create_directories(options_.spill_dir, ec);
  if (ec) throw io_error("creating spill directory " + options_.spill_dir.string(), ec.value());
  std::string path = (options_.spill_dir / ("xid-" + std::to_string(xid) + "-XXXXXX")).string();
  const int fd = ::mkstemp(path.data());
  if (fd < 0) throw io_error("creating a spill file in " + options_.spill_dir.string(), errno);
  ::unlink(path.c_str());  // the open descriptor keeps it; nothing is left behind on a crash
  std::FILE* file = ::fdopen(fd, "w+b");
  if (file == nullptr) {
    const int saved = errno;
    ::close(fd);
    throw io_error("opening a spill file", saved);
  }
  return file;
}

}  // namespace pgstream::replication
