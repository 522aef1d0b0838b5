// Operations against the real binary: /metrics moves under load, /readyz
// follows the server, systemd hears READY/WATCHDOG/STOPPING, a busy
// metrics.listen is a config error, and the Grafana dashboard uses only
// metrics the daemon exports.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/daemon_process.hpp"
#include "pgstream/common/version.hpp"
#include "support/pg_cluster.hpp"
#include "support/prometheus_text.hpp"

using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;
using Clock = std::chrono::steady_clock;

namespace {

struct HttpAnswer {
  int status = -1;  // -1: no answer (nothing listens, or the connection failed)
  std::string body;
};

HttpAnswer http_get(std::uint16_t port, const std::string& path) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http::request<http::empty_body> request(http::verb::get, path, 11);
    request.set(http::field::host, "127.0.0.1");
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return {static_cast<int>(response.result_int()), response.body()};
  } catch (const std::exception&) {
    return {};
  }
}

// The value of one sample ("name" or "name{labels}", exactly as exposed).
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

double value_of(const std::string& text, const std::string& series) {
  const auto value = sample(text, series);
  INFO("series " << series);
  REQUIRE(value.has_value());
  return *value;
}

// Every sample name in the exposition (histograms give _bucket, _sum, _count).
std::set<std::string> sample_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

// Polls `condition` every 100 ms until it holds or `timeout` passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a condition, bounded
  }
  return condition();
}

void collect_strings(const YAML::Node& node, std::vector<std::string>& out) {
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
  } else if (node.IsSequence()) {
    for (const auto& item : node) collect_strings(item, out);
  } else if (node.IsMap()) {
    for (const auto& item : node) collect_strings(item.second, out);
  }
}

std::filesystem::path source_dir() {
  const char* dir = std::getenv("PGSTREAM_SOURCE_DIR");
  REQUIRE(dir != nullptr);
  return dir;
}

// A unix datagram socket in the abstract namespace, as systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  NotifySocket() {
    name_ = "@pgstream-e2e-notify-" + std::to_string(::getpid()) + "-" +
            std::to_string(Clock::now().time_since_epoch().count());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0);
    timeval timeout{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  // The next message, waiting at most 100 ms.
  std::optional<std::string> receive() {
    std::string buffer(4096, '\0');
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n <= 0) return std::nullopt;
    buffer.resize(static_cast<std::size_t>(n));
    return buffer;
  }

 private:
  std::string name_;
  int fd_ = -1;
};

bool has_line(const std::string& message, const std::string& line) {
  std::istringstream in(message);
  std::string each;
  while (std::getline(in, each)) {
    if (each == line) return true;
  }
  return false;
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "e2e: /metrics moves under load, and the Grafana dashboard's metrics exist",
                 "[e2e][ops][metrics]") {
  exec("CREATE TABLE ops_src (id int PRIMARY KEY, grp int NOT NULL, v int NOT NULL)");
  exec("INSERT INTO ops_src SELECT g, g % 5, g FROM generate_series(1, 100) g");
  const std::vector<StreamTableSpec> tables = {
      {"public.ops_copy", "SELECT id, grp, v FROM ops_src"},
      {"public.ops_totals", "SELECT grp, count(*) AS n, sum(v) AS s FROM ops_src GROUP BY grp"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);

  const std::uint16_t port = daemon.metrics_port();
  HttpAnswer first;
  INFO(daemon.tail());
  // Gauges are set by the watch loop, twice a second.
  CHECK(eventually(
      [&] {
        first = http_get(port, "/metrics");
        return first.status == 200 && sample(first.body, R"(pgstream_stream_tables{status="active"})") == 2.0;
      },
      std::chrono::seconds(5)));
  REQUIRE(first.status == 200);
  const auto names = pgstream::testing::metric_families(first.body);
  for (const char* family : {"pgstream_build_info",
                             "pgstream_changes_decoded_total",
                             "pgstream_transactions_decoded_total",
                             "pgstream_decoded_bytes_total",
                             "pgstream_epoch_changes",
                             "pgstream_apply_duration_seconds",
                             "pgstream_merge_rows_total",
                             "pgstream_replication_lag_bytes",
                             "pgstream_replication_lag_seconds",
                             "pgstream_confirmed_flush_lsn_bytes",
                             "pgstream_table_frontier_lag_seconds",
                             "pgstream_state_bytes",
                             "pgstream_table_rows",
                             "pgstream_spool_memory_bytes",
                             "pgstream_spilled_bytes_total",
                             "pgstream_reconnects_total",
                             "pgstream_errors_total",
                             "pgstream_replication_connected",
                             "pgstream_stream_tables",
                             "pgstream_apply_queue_epochs"}) {
    CAPTURE(family);
    CHECK(names.count(family) == 1);
  }
  CHECK(first.body.find("pgstream_build_info{build_type=\"") != std::string::npos);
  CHECK(first.body.find(std::string("version=\"") + pgstream::kVersion + "\"} 1") != std::string::npos);
  CHECK(value_of(first.body, R"(pgstream_table_rows{table="public.ops_copy"})") == 100);
  CHECK(value_of(first.body, R"(pgstream_table_rows{table="public.ops_totals"})") == 5);
  CHECK(value_of(first.body, R"(pgstream_stream_tables{status="active"})") == 2);
  CHECK(value_of(first.body, R"(pgstream_replication_connected)") == 1);
  CHECK(value_of(first.body, R"(pgstream_state_bytes{table="public.ops_copy"})") > 0);
  CHECK(value_of(first.body, R"(pgstream_errors_total{kind="internal"})") == 0);

  const std::string applies = R"(pgstream_apply_duration_seconds_count{table="public.ops_copy"})";
  const std::string inserted = R"(pgstream_merge_rows_total{action="inserted",table="public.ops_copy"})";
  const std::string updated = R"(pgstream_merge_rows_total{action="updated",table="public.ops_copy"})";
  const std::string deleted = R"(pgstream_merge_rows_total{action="deleted",table="public.ops_copy"})";
  const double changes_before = value_of(first.body, "pgstream_changes_decoded_total");
  const double transactions_before = value_of(first.body, "pgstream_transactions_decoded_total");
  const double applies_before = value_of(first.body, applies);
  const double inserted_before = value_of(first.body, inserted);
  const double updated_before = value_of(first.body, updated);
  const double deleted_before = value_of(first.body, deleted);
  const double bytes_before = value_of(first.body, "pgstream_decoded_bytes_total");

  // A small load: 50 inserts, 10 updates, 5 deletes in three transactions.
  exec("INSERT INTO ops_src SELECT g, g % 5, g FROM generate_series(101, 150) g");
  exec("UPDATE ops_src SET v = v + 1000 WHERE id <= 10");
  exec("DELETE FROM ops_src WHERE id BETWEEN 91 AND 95");
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);

  std::string after;
  const bool moved = eventually(
      [&] {
        after = http_get(port, "/metrics").body;
        const auto bytes = sample(after, "pgstream_decoded_bytes_total");
        // Exported by the watch loop, twice a second; the confirmed LSN once
        // the next standby status (every second) after an apply carried it.
        const auto confirmed = sample(after, "pgstream_confirmed_flush_lsn_bytes");
        return bytes && *bytes > bytes_before && confirmed && *confirmed > 0;
      },
      std::chrono::seconds(5));
  CHECK(moved);
  CHECK(value_of(after, "pgstream_changes_decoded_total") >= changes_before + 65);
  CHECK(value_of(after, "pgstream_transactions_decoded_total") >= transactions_before + 3);
  CHECK(value_of(after, applies) > applies_before);
  CHECK(value_of(after, inserted) == inserted_before + 50);
  CHECK(value_of(after, updated) == updated_before + 10);
  CHECK(value_of(after, deleted) == deleted_before + 5);
  CHECK(value_of(after, R"(pgstream_table_rows{table="public.ops_copy"})") == 145);
  CHECK(value_of(after, "pgstream_epoch_changes_count") >= 1);
  CHECK(value_of(after, R"(pgstream_table_frontier_lag_seconds{table="public.ops_totals"})") < 60);
  CHECK(value_of(after, "pgstream_confirmed_flush_lsn_bytes") > 0);

  // Every metric the dashboard names is exported.
  const std::filesystem::path dashboard = source_dir() / "deploy" / "grafana" / "pgstream.json";
  INFO("dashboard " << dashboard);
  const YAML::Node json = YAML::LoadFile(dashboard.string());  // JSON is YAML's flow style
  REQUIRE(json["panels"].IsSequence());
  REQUIRE(json["panels"].size() >= 8);
  std::vector<std::string> strings;
  collect_strings(json, strings);
  const auto exported = sample_names(after);
  const std::regex metric_name("pgstream_[a-z0-9_]+");
  std::set<std::string> used;
  for (const auto& text : strings) {
    for (std::sregex_iterator it(text.begin(), text.end(), metric_name), end; it != end; ++it) {
      used.insert(it->str());
    }
  }
  CHECK(used.size() >= 12);
  for (const auto& name : used) {
    CAPTURE(name);
    CHECK(exported.count(name) == 1);
  }
  int expressions = 0;
  for (const auto& panel : json["panels"]) {
    if (!panel["targets"]) continue;
    for (const auto& target : panel["targets"]) {
      CAPTURE(panel["title"].as<std::string>());
      REQUIRE(target["expr"]);
      CHECK(target["expr"].as<std::string>().find("pgstream_") != std::string::npos);
      ++expressions;
    }
  }
  CHECK(expressions >= 10);
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: /readyz follows the server, /healthz stays up", "[e2e][ops][health]") {
  exec("CREATE TABLE ready_src (id int PRIMARY KEY, v int)");
  exec("INSERT INTO ready_src SELECT g, g FROM generate_series(1, 10) g");
  DaemonProcess daemon(*this, {{"public.ready_copy", "SELECT id, v FROM ready_src"}});
  daemon.start();
  const std::uint16_t port = daemon.metrics_port();
  // The listener is up before the load: /healthz answers at once.
  CHECK(eventually([&] { return http_get(port, "/healthz").status == 200; }, std::chrono::seconds(10)));
  daemon.wait_until_active(1);
  INFO(daemon.tail());
  CHECK(eventually([&] { return http_get(port, "/readyz").status == 200; }, std::chrono::seconds(20)));
  CHECK(http_get(port, "/nope").status == 404);

  cluster().stop("fast");
  HttpAnswer not_ready;
  CHECK(eventually(
      [&] {
        not_ready = http_get(port, "/readyz");
        return not_ready.status == 503;
      },
      std::chrono::seconds(10)));
  CAPTURE(not_ready.body);
  CHECK(not_ready.body.find("not ready: ") == 0);
  CHECK(http_get(port, "/healthz").status == 200);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the outage lasts a little
  CHECK(http_get(port, "/readyz").status == 503);
  CHECK(http_get(port, "/healthz").status == 200);

  cluster().start();
  CHECK(eventually([&] { return http_get(port, "/readyz").status == 200; }, std::chrono::seconds(60)));
  CHECK(http_get(port, "/healthz").status == 200);
  const std::string metrics = http_get(port, "/metrics").body;
  CHECK(value_of(metrics, R"(pgstream_errors_total{kind="connection"})") >= 1);
  CHECK(value_of(metrics, R"(pgstream_reconnects_total{connection="replication"})") +
            value_of(metrics, R"(pgstream_reconnects_total{connection="catalog"})") >=
        1);
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: systemd hears READY=1 after the load, WATCHDOG=1, STOPPING=1",
                 "[e2e][ops][systemd]") {
  exec("CREATE TABLE notify_src (id int PRIMARY KEY, v int)");
  exec("INSERT INTO notify_src SELECT g, g FROM generate_series(1, 1000) g");
  NotifySocket notify;
  DaemonSettings settings;
  settings.env = {"NOTIFY_SOCKET=" + notify.name(), "WATCHDOG_USEC=1000000"};
  DaemonProcess daemon(*this, {{"public.notify_copy", "SELECT id, v FROM notify_src"}}, settings);
  daemon.start();

  std::vector<std::string> before_ready;
  bool ready = false;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!ready && Clock::now() < deadline && daemon.running()) {
    if (auto message = notify.receive()) {
      ready = has_line(*message, "READY=1");
      if (!ready) before_ready.push_back(*message);
    }
  }
  INFO(daemon.tail());
  REQUIRE(ready);
  // READY=1 comes once the snapshot is applied.
  CHECK(query_value("SELECT count(*) FROM public.notify_copy") == "1000");
  bool status_seen = false;
  for (const auto& message : before_ready) status_seen = status_seen || message.rfind("STATUS=", 0) == 0;
  CHECK(status_seen);

  // WatchdogSec=1s: WATCHDOG=1 every half second.
  int watchdogs = 0;
  const auto window = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < window) {
    if (auto message = notify.receive()) watchdogs += has_line(*message, "WATCHDOG=1") ? 1 : 0;
  }
  CHECK(watchdogs >= 3);

  // SIGHUP: RELOADING=1, then READY=1 again once reloaded.
  daemon.sighup();
  bool reloading = false;
  bool ready_again = false;
  const auto reload_deadline = Clock::now() + std::chrono::seconds(10);
  while (!ready_again && Clock::now() < reload_deadline) {
    if (auto message = notify.receive()) {
      reloading = reloading || has_line(*message, "RELOADING=1");
      ready_again = reloading && has_line(*message, "READY=1");
    }
  }
  CHECK(reloading);
  CHECK(ready_again);

  CHECK(daemon.sigterm_and_wait() == 0);
  bool stopping = false;
  while (auto message = notify.receive()) stopping = stopping || has_line(*message, "STOPPING=1");
  CHECK(stopping);
}

TEST_CASE_METHOD(PgDatabase, "e2e: a metrics.listen address in use is a config error naming it",
                 "[e2e][ops][listen]") {
  // Something else listens on the port.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  DaemonSettings settings;
  settings.metrics_port = taken.local_endpoint().port();
  DaemonProcess daemon(*this, {}, settings);
  daemon.start();
  CHECK(eventually([&] { return !daemon.running(); }, std::chrono::seconds(20)));
  REQUIRE(daemon.exit_status().has_value());
  CHECK(*daemon.exit_status() == 1);
  const std::string log = daemon.log();
  CAPTURE(log);
  CHECK(log.find("metrics.listen: cannot listen on 127.0.0.1:" + std::to_string(settings.metrics_port)) !=
        std::string::npos);
}
