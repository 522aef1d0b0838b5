// pg_stream's catalog inside PostgreSQL (SPEC §4): the schema that records
// stream tables, their dependencies, frontiers and refresh history, with the
// status functions and views, pgstream.wait_for(), and the SQL API
// (create/alter/drop/refresh_stream_table, explain_st) that talks to the
// daemon through logical decoding messages and pgs_requests (docs/CATALOG.md).
//
// Contract: migrate() brings the catalog schema to kCatalogVersion, creating
// the schema if missing and applying each missing migration in order, all in
// one transaction under an advisory lock, so that two daemons starting at once
// neither race nor half-apply. It is idempotent. A catalog newer than this
// binary is an error (ErrorKind::Config): an older daemon must not write it.
// The schema name is always quoted; any name is safe except one containing
// "$fn$" or a single quote, which is refused (ErrorKind::Config).
#pragma once

#include <string>

#include "pgstream/common/pg.hpp"

namespace pgstream::catalog {

inline constexpr int kCatalogVersion = 2;

// Returns the version the catalog had before (0 if it did not exist).
// `target_version` stops early (tests of upgrades use it).
// REQUIRES: 1 <= target_version <= kCatalogVersion.
int migrate(PgConnection& connection, const std::string& schema, int target_version = kCatalogVersion);

// The catalog's version, 0 if there is no catalog in `schema`.
[[nodiscard]] int catalog_version(PgConnection& connection, const std::string& schema);

}  // namespace pgstream::catalog
