#include "pgstream/sql/collation.hpp"

#include <cstring>
#include <map>
#include <mutex>
#include <string_view>

#include "pgstream/common/error.hpp"

namespace pgstream::sql {
namespace {

// strcoll_l needs NUL-terminated strings; text never contains NUL.
const char* terminated(std::string_view s, std::string& buffer) {
  buffer.assign(s.data(), s.size());
  return buffer.c_str();
}

struct Borrowed final : engine::Collation {
  [[nodiscard]] int compare(std::string_view a, std::string_view b) const override {
    return engine::c_collation().compare(a, b);
  }
};

}  // namespace

LibcCollation::LibcCollation(const std::string& locale)
    : name_(locale), locale_(newlocale(LC_COLLATE_MASK, locale.c_str(), nullptr)) {
  if (locale_ == nullptr) {
    throw Error(ErrorKind::Unsupported,
                "the collation locale \"" + locale + "\" is not installed on this machine",
                {.hint = "Install the locale where pgstream runs (e.g. locale-gen " + locale +
                         "), so that text orders exactly as on the server."});
  }
}

LibcCollation::~LibcCollation() {
  if (locale_ != nullptr) freelocale(locale_);
}

int LibcCollation::compare(std::string_view a, std::string_view b) const {
  if (a == b) return 0;
  thread_local std::string left;
  thread_local std::string right;
  const char* x = terminated(a, left);
  const char* y = terminated(b, right);
  const int c = strcoll_l(x, y, locale_);
  if (c != 0) return c;
  return std::strcmp(x, y);  // PostgreSQL breaks ties bytewise (deterministic collation)
}

const engine::Collation& libc_collation(const std::string& locale) {
  if (locale == "C" || locale == "POSIX") return engine::c_collation();
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<LibcCollation>> collations;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = collations[locale];
  if (!slot) slot = std::make_unique<LibcCollation>(locale);
  return *slot;
}

const engine::Collation* collation_by_oid(PgConnection& connection, Oid collation,
                                          const engine::Collation* database_default) {
  const std::string sql =
      "SELECT collprovider, collcollate FROM pg_collation WHERE oid = " + std::to_string(collation);
  PgResult result = connection.exec(sql);
  if (PQntuples(result.get()) != 1) {
    throw Error(ErrorKind::Internal, "collation " + std::to_string(collation) + " not found");
  }
  const std::string_view provider = PQgetvalue(result.get(), 0, 0);
  if (provider == "d") return database_default;
  if (provider != "c") return nullptr;  // ICU
  return &libc_collation(PQgetvalue(result.get(), 0, 1));
}

std::shared_ptr<const engine::Collation> database_collation(PgConnection& connection) {
  PgResult result = connection.exec(
      "SELECT datcollate, datlocprovider FROM pg_database WHERE datname = current_database()");
  const std::string locale = PQgetvalue(result.get(), 0, 0);
  if (std::string_view(PQgetvalue(result.get(), 0, 1)) == "i") return nullptr;
  if (locale == "C" || locale == "POSIX") return std::make_shared<Borrowed>();
  return std::make_shared<LibcCollation>(locale);
}

}  // namespace pgstream::sql
