#include "pgstream/daemon/config.hpp"

#include <libpq-fe.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "pgstream/common/error.hpp"
#include "pgstream/common/pg.hpp"

namespace pgstream::daemon {

namespace {

constexpr std::size_t kMaxIdentifierBytes = 63;  // NAMEDATALEN - 1

// Every key, by section; "stream_tables[]" holds the keys of one entry.
const std::map<std::string_view, std::vector<std::string_view>>& schema() {
  static const std::map<std::string_view, std::vector<std::string_view>> keys = {
      {"", {"postgres", "writer", "metrics", "log", "stream_tables"}},
      {"postgres", {"dsn", "slot", "publication", "catalog_schema"}},
      {"writer", {"pool_size", "max_batch_rows", "max_batch_delay"}},
      {"metrics", {"listen", "ready_max_lag"}},
      {"log", {"level", "format"}},
      {"stream_tables[]", {"name", "query", "refresh_mode", "schedule"}},
  };
  return keys;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Collects every problem of a file, each with its line, then throws once.
class Validator {
 public:
  explicit Validator(std::string_view origin) : origin_(origin) {}

  void problem(const YAML::Node& node, const std::string& key, const std::string& message) {
    const int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    problem_at(line, key, message);
  }
  void problem_at(int line, const std::string& key, const std::string& message) {
    std::string text(origin_);
    if (line > 0) text += ":" + std::to_string(line);
    text += ": ";
    if (!key.empty()) text += key + ": ";
    problems_.push_back(text + message);
  }
  void throw_if_any() const {
    if (problems_.empty()) return;
    std::string message = "invalid configuration (" + std::to_string(problems_.size()) + " problem" +
                          (problems_.size() == 1 ? "" : "s") + ")";
    for (const auto& p : problems_) message += "\n  " + p;
    throw Error(ErrorKind::Config, message,
                {.hint = "Fix the keys named above; config/pgstream.example.yaml shows every key."});
  }

  // Checks that `node` is a map with only known keys; false if not a map.
  bool check_map(const YAML::Node& node, const std::string& path, std::string_view section) {
    if (!node.IsMap()) {
      problem(node, path, "must be a mapping of keys to values");
      return false;
    }
    const auto& known = schema().at(section);
    for (const auto& entry : node) {
      const auto key = entry.first.Scalar();
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string message = "unknown key '" + key + "'";
      for (auto candidate : known) {
        if (edit_distance(key, candidate) <= 2) {
          message += " (did you mean '" + std::string(candidate) + "'?)";
          break;
        }
      }
      std::string where = path;
      if (!where.empty()) where += '.';
      where += key;
      problem(entry.first, where, message);
    }
    return true;
  }

  std::optional<std::string> string(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      problem(node, path, "must be a string");
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<std::int64_t> integer(const YAML::Node& node, const std::string& path, std::int64_t min,
                                      std::int64_t max) {
    std::int64_t value = 0;
    const std::string text = node.IsScalar() ? node.Scalar() : std::string();
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) {
      problem(node, path, "must be an integer, got '" + text + "'");
      return std::nullopt;
    }
    if (value < min || value > max) {
      problem(node, path,
              "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + text);
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::chrono::milliseconds> duration(const YAML::Node& node, const std::string& path) {
    auto text = string(node, path);
    if (!text) return std::nullopt;
    auto value = parse_duration(*text);
    if (!value)
      problem(node, path, "must be a duration such as '20ms', '30s', '5m' or '1h30m', got '" + *text + "'");
    return value;
  }

  std::optional<std::string> identifier(const YAML::Node& node, const std::string& path) {
    auto text = string(node, path);
    if (!text) return std::nullopt;
    if (text->empty() || text->size() > kMaxIdentifierBytes) {
      problem(node, path, "must be a name of 1 to 63 bytes");
      return std::nullopt;
    }
    return text;
  }

 private:
  std::string_view origin_;
  std::vector<std::string> problems_;
};

void load_postgres(Validator& v, const YAML::Node& node, Config::Postgres& out) {
  if (!v.check_map(node, "postgres", "postgres")) return;
  if (node["dsn"]) {
    if (auto dsn = v.string(node["dsn"], "postgres.dsn")) out.dsn = *dsn;
  }
  if (node["slot"]) {
    if (auto slot = v.identifier(node["slot"], "postgres.slot")) {
      const bool valid = std::all_of(slot->begin(), slot->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
      if (valid) {
        out.slot = *slot;
      } else {
        v.problem(node["slot"], "postgres.slot",
                  "a replication slot name may contain only lower-case letters, digits and underscores");
      }
    }
  }
  if (node["publication"]) {
    if (auto name = v.identifier(node["publication"], "postgres.publication")) out.publication = *name;
  }
  if (node["catalog_schema"]) {
    if (auto name = v.identifier(node["catalog_schema"], "postgres.catalog_schema"))
      out.catalog_schema = *name;
  }
}

void load_writer(Validator& v, const YAML::Node& node, Config::Writer& out) {
  if (!v.check_map(node, "writer", "writer")) return;
  if (node["pool_size"]) {
    if (auto n = v.integer(node["pool_size"], "writer.pool_size", 1, 64))
      out.pool_size = static_cast<int>(*n);
  }
  if (node["max_batch_rows"]) {
    if (auto n = v.integer(node["max_batch_rows"], "writer.max_batch_rows", 1, 100'000'000))
      out.max_batch_rows = *n;
  }
  if (node["max_batch_delay"]) {
    if (auto d = v.duration(node["max_batch_delay"], "writer.max_batch_delay")) {
      if (*d > std::chrono::minutes(10)) {
        v.problem(node["max_batch_delay"], "writer.max_batch_delay", "must be at most 10m");
      } else {
        out.max_batch_delay = *d;
      }
    }
  }
}

bool parse_listen(const std::string& text, Config::Metrics& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);  // [::1]:9187
  int port = 0;
  const std::string port_text = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port < 1 || port > 65535)
    return false;
  out.listen_host = host;
  out.listen_port = static_cast<std::uint16_t>(port);
  return !host.empty();
}

void load_metrics(Validator& v, const YAML::Node& node, Config::Metrics& out) {
  if (!v.check_map(node, "metrics", "metrics")) return;
  if (node["listen"]) {
    auto text = v.string(node["listen"], "metrics.listen");
    if (text && !parse_listen(*text, out)) {
      v.problem(node["listen"], "metrics.listen",
                "must be host:port (e.g. 127.0.0.1:9187), got '" + *text + "'");
    }
  }
  if (node["ready_max_lag"]) {
    if (auto d = v.duration(node["ready_max_lag"], "metrics.ready_max_lag")) out.ready_max_lag = *d;
  }
}

void load_log(Validator& v, const YAML::Node& node, LogConfig& out) {
  if (!v.check_map(node, "log", "log")) return;
  if (node["level"]) {
    auto text = v.string(node["level"], "log.level");
    auto level = text ? parse_log_level(*text) : std::nullopt;
    if (level) {
      out.level = *level;
    } else if (text) {
      v.problem(node["level"], "log.level",
                "must be one of trace, debug, info, warn, error; got '" + *text + "'");
    }
  }
  if (node["format"]) {
    auto text = v.string(node["format"], "log.format");
    auto format = text ? parse_log_format(*text) : std::nullopt;
    if (format) {
      out.format = *format;
    } else if (text) {
      v.problem(node["format"], "log.format", "must be text or json; got '" + *text + "'");
    }
  }
}

std::optional<StreamTableConfig> load_stream_table(Validator& v, const YAML::Node& node,
                                                   const std::string& path) {
  if (!v.check_map(node, path, "stream_tables[]")) return std::nullopt;
  StreamTableConfig table;
  table.line = node.Mark().line + 1;
  bool ok = true;
  if (!node["name"]) {
    v.problem(node, path, "missing key 'name' (the target table, e.g. analytics.totals)");
    ok = false;
  } else if (auto text = v.string(node["name"], path + ".name")) {
    std::string why;
    if (auto name = parse_qualified_name(*text, why)) {
      table.name = *name;
    } else {
      v.problem(node["name"], path + ".name", why);
      ok = false;
    }
  }
  if (!node["query"]) {
    v.problem(node, path, "missing key 'query' (the SELECT the table keeps up to date)");
    ok = false;
  } else if (auto text = v.string(node["query"], path + ".query")) {
    if (text->find_first_not_of(" \t\r\n") == std::string::npos) {
      v.problem(node["query"], path + ".query", "must not be empty");
      ok = false;
    }
    table.query = *text;
  }
  if (node["refresh_mode"]) {
    auto text = v.string(node["refresh_mode"], path + ".refresh_mode");
    if (text && *text == "DIFFERENTIAL") {
      table.refresh_mode = RefreshMode::Differential;
    } else if (text && *text == "FULL") {
      table.refresh_mode = RefreshMode::Full;
    } else if (text) {
      v.problem(node["refresh_mode"], path + ".refresh_mode",
                "must be DIFFERENTIAL or FULL; got '" + *text + "'");
    }
  }
  if (node["schedule"] && !node["schedule"].IsNull()) {
    if (auto text = v.string(node["schedule"], path + ".schedule")) {
      std::string why;
      if (auto schedule = Schedule::parse(*text, why)) {
        table.schedule = *schedule;
      } else {
        v.problem(node["schedule"], path + ".schedule", why);
      }
    }
  }
  if (!ok) return std::nullopt;
  return table;
}

void load_stream_tables(Validator& v, const YAML::Node& node, std::vector<StreamTableConfig>& out) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    v.problem(node, "stream_tables", "must be a list of stream tables (- name: ..., query: ...)");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string path = "stream_tables[" + std::to_string(i) + "]";
    auto table = load_stream_table(v, node[i], path);
    if (!table) continue;
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& t) { return t.name == table->name; });
    if (same != out.end()) {
      v.problem_at(table->line, path + ".name",
                   "stream table " + table->name.schema + "." + table->name.name +
                       " is declared twice (also at line " + std::to_string(same->line) + ")");
      continue;
    }
    out.push_back(std::move(*table));
  }
}

void check_dsn(Validator& v, const YAML::Node& root, Config& config) {
  if (config.postgres.dsn.empty()) {
    v.problem(root["postgres"], "postgres.dsn",
              "no connection string: set postgres.dsn or the environment variable PGSTREAM_DSN");
    return;
  }
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
      PQconninfoParse(config.postgres.dsn.c_str(), &error), PQconninfoFree);
  if (error != nullptr) PQfreemem(error);  // its text may quote the password: not shown
  if (!options) {
    v.problem(root["postgres"]["dsn"], "postgres.dsn",
              "not a valid libpq connection string (key=value ...) or URI (postgresql://...)");
  }
}

bool is_identifier_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c & 0x80);
}
bool is_identifier_char(char c) { return is_identifier_start(c) || (c >= '0' && c <= '9') || c == '$'; }

// One identifier at text[pos...]; advances pos. PostgreSQL's rules: quoted
// kept exactly ("" is a quote), unquoted folded to lower case (ASCII).
std::optional<std::string> parse_identifier(std::string_view text, std::size_t& pos, std::string& why) {
  std::string out;
  if (pos < text.size() && text[pos] == '"') {
    for (++pos; pos < text.size(); ++pos) {
      if (text[pos] != '"') {
        out += text[pos];
      } else if (pos + 1 < text.size() && text[pos + 1] == '"') {
        out += '"';
        ++pos;
      } else {
        break;
      }
    }
    if (pos >= text.size()) {
      why = "unterminated quoted identifier";
      return std::nullopt;
    }
    ++pos;
  } else {
    if (pos >= text.size() || !is_identifier_start(text[pos])) {
      why = "expected a name, e.g. analytics.totals or \"My Table\"";
      return std::nullopt;
    }
    for (; pos < text.size() && is_identifier_char(text[pos]); ++pos) {
      const char c = text[pos];
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  if (out.empty() || out.size() > kMaxIdentifierBytes) {
    why = "a name must have 1 to 63 bytes";
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<QualifiedName> parse_qualified_name(std::string_view text, std::string& why) {
  std::size_t pos = 0;
  auto first = parse_identifier(text, pos, why);
  if (!first) return std::nullopt;
  if (pos == text.size()) return QualifiedName{"public", *first};
  if (text[pos] != '.') {
    why = "unexpected '" + std::string(1, text[pos]) + "' in name '" + std::string(text) + "'";
    return std::nullopt;
  }
  ++pos;
  auto second = parse_identifier(text, pos, why);
  if (!second) return std::nullopt;
  if (pos != text.size()) {
    why = "a name has at most two parts (schema.table): '" + std::string(text) + "'";
    return std::nullopt;
  }
  return QualifiedName{*first, *second};
}

std::string_view to_string(RefreshMode mode) noexcept {
  return mode == RefreshMode::Full ? "FULL" : "DIFFERENTIAL";
}

Config parse_config(std::string_view yaml, std::string_view origin, std::optional<std::string> dsn_override) {
  Validator v(origin);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& error) {
    v.problem_at(error.mark.line + 1, "", "not valid YAML: " + error.msg);
    v.throw_if_any();
  }
  Config config;
  if (!root.IsNull() && v.check_map(root, "", "")) {
    if (root["postgres"]) load_postgres(v, root["postgres"], config.postgres);
    if (root["writer"]) load_writer(v, root["writer"], config.writer);
    if (root["metrics"]) load_metrics(v, root["metrics"], config.metrics);
    if (root["log"]) load_log(v, root["log"], config.log);
    if (root["stream_tables"]) load_stream_tables(v, root["stream_tables"], config.stream_tables);
  } else if (root.IsNull()) {
    v.problem_at(0, "", "the file is empty; it needs at least postgres.dsn (or PGSTREAM_DSN)");
  }
  if (dsn_override) config.postgres.dsn = *dsn_override;
  check_dsn(v, root, config);
  v.throw_if_any();
  return config;
}

Config load_config(const std::filesystem::path& path, std::optional<std::string> dsn_override) {
  std::ifstream in(path);
  if (!in) {
    throw Error(ErrorKind::Config, "cannot read the configuration file " + path.string(),
                {.hint = "Pass an existing file with --config (e.g. /etc/pgstream/pgstream.yaml)."});
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.filename().string(), std::move(dsn_override));
}

std::optional<std::string> dsn_from_environment() {
  const char* value = std::getenv("PGSTREAM_DSN");  // NOLINT(concurrency-mt-unsafe): read once at start-up
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string describe(const Config& config) {
  std::ostringstream out;
  out << "postgres: dsn=" << redact_conninfo(config.postgres.dsn) << " slot=" << config.postgres.slot
      << " publication=" << config.postgres.publication
      << " catalog_schema=" << config.postgres.catalog_schema
      << "\nwriter: pool_size=" << config.writer.pool_size
      << " max_batch_rows=" << config.writer.max_batch_rows
      << " max_batch_delay=" << config.writer.max_batch_delay.count() << "ms"
      << "\nmetrics: listen=" << config.metrics.listen_host << ":" << config.metrics.listen_port
      << " ready_max_lag=" << config.metrics.ready_max_lag.count() << "ms"
      << "\nstream_tables: " << config.stream_tables.size();
  for (const auto& table : config.stream_tables) {
    out << "\n  " << table.name.schema << "." << table.name.name << " (" << to_string(table.refresh_mode)
        << (table.schedule.kind() == Schedule::Kind::Continuous ? ", continuous"
                                                                : ", schedule " + table.schedule.text())
        << ")";
  }
  return out.str();
}

std::vector<std::string> known_config_keys() {
  std::vector<std::string> keys;
  for (const auto& [section, names] : schema()) {
    if (section.empty()) continue;
    for (auto name : names) keys.push_back(std::string(section) + "." + std::string(name));
  }
  return keys;
}

}  // namespace pgstream::daemon
