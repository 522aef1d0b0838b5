#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "pgstream/common/error.hpp"
#include "pgstream/ops/http_server.hpp"
#include "pgstream/ops/metrics.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using pgstream::ops::HttpHandlers;
using pgstream::ops::HttpServer;
using pgstream::ops::ProbeResult;

namespace {

// Sends raw bytes and returns the whole response (the server closes after one).
std::string raw_request(std::uint16_t port, const std::string& bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(bytes));
  std::string response;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(response), ec);  // until EOF
  return response;
}

std::string get(std::uint16_t port, const std::string& path, const char* method = "GET") {
  return raw_request(port, std::string(method) + " " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

// A server on a free port with its io_context on a thread of its own.
struct RunningServer {
  explicit RunningServer(HttpHandlers handlers)
      : work(asio::make_work_guard(io)),
        server(io, "127.0.0.1", 0, std::move(handlers)),
        thread([this] { io.run(); }) {}
  ~RunningServer() {
    asio::post(io, [this] { server.stop(); });
    work.reset();
    io.stop();
    thread.join();
  }
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  HttpServer server;
  std::thread thread;
};

}  // namespace

TEST_CASE("GET /metrics, /healthz and /readyz", "[ops][http]") {
  pgstream::ops::Metrics metrics;
  std::atomic<bool> ready{false};
  RunningServer running({.metrics = [&] { return metrics.serialize(); },
                         .liveness = [] { return ProbeResult{}; },
                         .readiness =
                             [&] {
                               return ready ? ProbeResult{} : ProbeResult{false, "catching up"};
                             }});
  const auto port = running.server.port();
  REQUIRE(port != 0);

  const std::string scrape = get(port, "/metrics");
  CHECK(scrape.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(scrape.find("Content-Type: text/plain; version=0.0.4; charset=utf-8") != std::string::npos);
  CHECK(scrape.find("pgstream_build_info{") != std::string::npos);

  CHECK(get(port, "/healthz").rfind("HTTP/1.1 200 OK", 0) == 0);
  const std::string not_ready = get(port, "/readyz");
  CHECK(not_ready.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(not_ready.find("not ready: catching up") != std::string::npos);
  ready = true;
  CHECK(get(port, "/readyz").rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(get(port, "/readyz?verbose=1").rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("wrong paths, methods and malformed requests get an answer, not a crash", "[ops][http]") {
  RunningServer running({});
  const auto port = running.server.port();
  CHECK(get(port, "/nope").rfind("HTTP/1.1 404", 0) == 0);
  const std::string post = get(port, "/metrics", "POST");
  CHECK(post.rfind("HTTP/1.1 405", 0) == 0);
  CHECK(post.find("Allow: GET, HEAD") != std::string::npos);
  const std::string head = get(port, "/healthz", "HEAD");
  CHECK(head.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(head.find("\r\n\r\nok") == std::string::npos);  // no body for HEAD
  CHECK(raw_request(port, "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(raw_request(port, "GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n")
            .rfind("HTTP/1.1 400", 0) == 0);
  // After all that, the server still answers.
  CHECK(get(port, "/healthz").rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("an address that cannot be listened on is a config error naming it", "[ops][http]") {
  asio::io_context io;
  RunningServer first({});
  CHECK_THROWS_WITH(
      HttpServer(io, "127.0.0.1", first.server.port(), {}),
      Catch::Contains("metrics.listen: cannot listen on 127.0.0.1:" + std::to_string(first.server.port())));
  CHECK_THROWS_WITH(HttpServer(io, "localhost", 0, {}), Catch::Contains("is not an IP address"));
}
