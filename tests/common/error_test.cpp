#include <catch2/catch.hpp>

#include "pgstream/common/error.hpp"

using pgstream::classify;
using pgstream::classify_sqlstate;
using pgstream::Error;
using pgstream::ErrorAction;
using pgstream::ErrorKind;

TEST_CASE("SQLSTATEs are classified by what the caller must do", "[common][error]") {
  CHECK(classify_sqlstate("08006") == ErrorAction::Retry);            // connection_failure
  CHECK(classify_sqlstate("40001") == ErrorAction::Retry);            // serialization_failure
  CHECK(classify_sqlstate("40P01") == ErrorAction::Retry);            // deadlock_detected
  CHECK(classify_sqlstate("55P03") == ErrorAction::Retry);            // lock_not_available
  CHECK(classify_sqlstate("57P01") == ErrorAction::Retry);            // admin_shutdown
  CHECK(classify_sqlstate("53100") == ErrorAction::Retry);            // disk_full
  CHECK(classify_sqlstate("57P04") == ErrorAction::Stop);             // database_dropped
  CHECK(classify_sqlstate("XX000") == ErrorAction::Stop);             // internal_error
  CHECK(classify_sqlstate("42P01") == ErrorAction::FailStreamTable);  // undefined_table
  CHECK(classify_sqlstate("22012") == ErrorAction::FailStreamTable);  // division_by_zero
  CHECK(classify_sqlstate("23505") == ErrorAction::FailStreamTable);  // unique_violation
  CHECK(classify_sqlstate("") == ErrorAction::FailStreamTable);
  CHECK(classify_sqlstate("4000") == ErrorAction::FailStreamTable);
}

TEST_CASE("errors are classified by kind, and by SQLSTATE when the server sent one", "[common][error]") {
  CHECK(classify(Error(ErrorKind::Connection, "lost")) == ErrorAction::Retry);
  CHECK(classify(Error(ErrorKind::Config, "bad key")) == ErrorAction::Stop);
  CHECK(classify(Error(ErrorKind::Unsupported, "volatile function")) == ErrorAction::FailStreamTable);
  CHECK(classify(Error(ErrorKind::Database, "deadlock", {.sqlstate = "40P01"})) == ErrorAction::Retry);
  CHECK(classify(Error(ErrorKind::Database, "no such table", {.sqlstate = "42P01"})) ==
        ErrorAction::FailStreamTable);
}

TEST_CASE("an error describes itself as PostgreSQL does: message, SQLSTATE, detail, hint",
          "[common][error]") {
  const Error error(ErrorKind::Database, "relation \"t\" does not exist",
                    {.sqlstate = "42P01", .detail = "It was dropped.", .hint = "Recreate it."});
  CHECK(error.describe() ==
        "relation \"t\" does not exist (SQLSTATE 42P01)\nDETAIL: It was dropped.\nHINT: Recreate it.");
  CHECK(std::string(error.what()) == "relation \"t\" does not exist");
  CHECK(Error(ErrorKind::Internal, "oops").describe() == "oops");
}

TEST_CASE("user errors exit 1, runtime failures exit 2", "[common][error]") {
  CHECK(pgstream::exit_code(ErrorKind::Usage) == 1);
  CHECK(pgstream::exit_code(ErrorKind::Config) == 1);
  CHECK(pgstream::exit_code(ErrorKind::Unsupported) == 1);
  CHECK(pgstream::exit_code(ErrorKind::Connection) == 2);
  CHECK(pgstream::exit_code(ErrorKind::Internal) == 2);
}
