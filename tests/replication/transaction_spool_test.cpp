// TransactionSpool: memory bound, spill files, order, aborts.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "pgstream/replication/transaction_spool.hpp"

using namespace pgstream::replication;

namespace {

std::vector<std::string> replay(TransactionSpool& spool, std::uint32_t xid) {
  std::vector<std::string> out;
  spool.replay(xid, [&](std::string_view m) { out.emplace_back(m); });
  return out;
}

}  // namespace

TEST_CASE("spool: keeps order across memory and spill file, per transaction", "[spool]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("pgstream-spool-test-" + std::to_string(::getpid()));
  TransactionSpool spool({.memory_limit = 100, .spill_dir = dir});
  std::vector<std::string> a;
  std::vector<std::string> b;
  for (int i = 0; i < 200; ++i) {
    a.push_back("a" + std::to_string(i));
    spool.append(1, a.back());
    if (i % 3 == 0) {
      b.push_back("b" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 7), 'x'));
      spool.append(2, b.back());
    }
    CHECK(spool.stats().memory_bytes <= 100);
  }
  spool.append(3, "");
  CHECK(spool.stats().spilled_bytes > 0);
  CHECK(spool.stats().open_transactions == 3);
  CHECK(replay(spool, 2) == b);
  CHECK(replay(spool, 1) == a);
  CHECK(replay(spool, 3) == std::vector<std::string>{""});
  CHECK(replay(spool, 1).empty());
  CHECK(spool.stats().open_transactions == 0);
  // Spill files are unlinked at creation: the directory stays empty.
  CHECK(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST_CASE("spool: aborts", "[spool]") {
  TransactionSpool spool({});
  spool.append(1, "x");
  spool.abort(1, 5);
  spool.abort(1, 5);
  spool.abort(9, 9);  // unknown: nothing
  CHECK(spool.aborted_subtransactions(1) == std::vector<std::uint32_t>{5});
  CHECK(spool.aborted_subtransactions(2).empty());
  spool.abort(1, 1);
  CHECK_FALSE(spool.contains(1));
  CHECK(spool.stats().memory_bytes == 0);
}
