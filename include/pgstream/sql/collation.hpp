// Text ordering the way the server orders it.
//
// Contract: LibcCollation reproduces PostgreSQL's libc collation provider
// (varstr_cmp): strcoll_l() under the locale, ties between different strings
// broken bytewise (deterministic collations). It is exact only when this
// process's glibc has the same locale data as the server's (same machine or
// same distribution release): docs/SQL.md says so. ICU collations are not
// reproduced: database_collation() returns null for them and the caller
// must not order text natively. Instances are immutable and thread-safe.
#pragma once

#include <locale.h>

#include <memory>
#include <string>

#include "pgstream/sql/logical_plan.hpp"

#include "pgstream/common/pg.hpp"
#include "pgstream/engine/datum.hpp"

namespace pgstream::sql {

class LibcCollation final : public engine::Collation {
 public:
  // Throws Error{Unsupported} when the locale is not installed here.
  explicit LibcCollation(const std::string& locale);
  ~LibcCollation() override;
  LibcCollation(const LibcCollation&) = delete;
  LibcCollation& operator=(const LibcCollation&) = delete;

  [[nodiscard]] int compare(std::string_view a, std::string_view b) const override;
  [[nodiscard]] const std::string& locale_name() const noexcept { return name_; }

 private:
  std::string name_;
  locale_t locale_ = nullptr;
};

// The libc collation of `locale`, created once and kept for the life of the
// process (a process orders text under a handful of locales at most), so
// dataflows can hold it by reference. "C" and "POSIX" give the bytewise one.
[[nodiscard]] const engine::Collation& libc_collation(const std::string& locale);

// A collation of pg_collation by OID, as the server orders text under it:
// libc collations natively, the default through `database_default`, null
// for ICU collations (not reproducible here).
[[nodiscard]] const engine::Collation* collation_by_oid(PgConnection& connection, Oid collation,
                                                        const engine::Collation* database_default);

// The collation of the connected database's default (datcollate): the
// bytewise C collation for "C"/"POSIX", a LibcCollation otherwise, null for
// an ICU default (not reproducible here). Throws Error{Unsupported} when the
// locale is not installed on this machine.
[[nodiscard]] std::shared_ptr<const engine::Collation> database_collation(PgConnection& connection);

}  // namespace pgstream::sql
