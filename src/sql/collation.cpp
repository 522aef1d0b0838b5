#include "pgstream/sql/collation.hpp"

#include <cstring>
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

LibcCollation::LibcCollation(const std::string& locale) : name_(locale) {
  locale_ = newlocale(LC_COLLATE_MASK, locale.c_str(), nullptr);
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

std::shared_ptr<const engine::Collation> database_collation(PgConnection& connection) {
  PgResult result = connection.exec(
      "SELECT datcollate, datlocprovider FROM pg_database WHERE datname = current_database()");
  const std::string locale = PQgetvalue(result.get(), 0, 0);
  if (std::string_view(PQgetvalue(result.get(), 0, 1)) == "i") return nullptr;
  if (locale == "C" || locale == "POSIX") return std::make_shared<Borrowed>();
  return std::make_shared<LibcCollation>(locale);
}

}  // namespace pgstream::sql
