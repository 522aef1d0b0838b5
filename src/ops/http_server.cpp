#include "pgstream/ops/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "pgstream/common/error.hpp"

namespace pgstream::ops {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::chrono::seconds kRequestTimeout{10};
constexpr std::uint64_t kMaxRequestBytes = 8192;

http::response<http::string_body> make_response(const http::request<http::empty_body>& request,
                                                http::status status, std::string body,
                                                const char* content_type) {
  http::response<http::string_body> response(status, request.version());
  response.set(http::field::server, "pgstream");
  response.set(http::field::content_type, content_type);
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(false);
  response.body() = request.method() == http::verb::head ? std::string() : std::move(body);
  response.content_length(response.body().size());
  return response;
}

http::response<http::string_body> probe_response(const http::request<http::empty_body>& request,
                                                 const std::function<ProbeResult()>& probe,
                                                 const char* ok_text) {
  const ProbeResult result = probe ? probe() : ProbeResult{};
  if (result.ok) return make_response(request, http::status::ok, std::string(ok_text) + "\n", "text/plain");
  return make_response(request, http::status::service_unavailable, "not ready: " + result.reason + "\n",
                       "text/plain");
}

http::response<http::string_body> route(const http::request<http::empty_body>& request,
                                        const HttpHandlers& handlers) {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    auto response =
        make_response(request, http::status::method_not_allowed, "only GET and HEAD\n", "text/plain");
    response.set(http::field::allow, "GET, HEAD");
    return response;
  }
  std::string_view target(request.target().data(), request.target().size());
  target = target.substr(0, target.find('?'));
  if (target == "/metrics") {
    return make_response(request, http::status::ok, handlers.metrics ? handlers.metrics() : std::string(),
                         "text/plain; version=0.0.4; charset=utf-8");
  }
  if (target == "/healthz") return probe_response(request, handlers.liveness, "ok");
  if (target == "/readyz") return probe_response(request, handlers.readiness, "ready");
  return make_response(request, http::status::not_found, "not found: try /metrics, /healthz or /readyz\n",
                       "text/plain");
}

// One connection: read one request (bounded in size and time), answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const HttpHandlers> handlers)
      : stream_(std::move(socket)), handlers_(std::move(handlers)) {
    parser_.header_limit(kMaxRequestBytes);
    parser_.body_limit(kMaxRequestBytes);
  }

  void start() {
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) return close();
    if (ec) {
      http::request<http::empty_body> dummy;
      return write(make_response(dummy, http::status::bad_request, "bad request\n", "text/plain"));
    }
    try {
      write(route(parser_.get(), *handlers_));
    } catch (const std::exception& error) {
      spdlog::warn("HTTP {}: {}", std::string(parser_.get().target()), error.what());
      write(make_response(parser_.get(), http::status::internal_server_error, "internal error\n",
                          "text/plain"));
    }
  }

  void write(http::response<http::string_body> response) {
    response_ = std::move(response);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<const HttpHandlers> handlers_;
};

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port,
                       HttpHandlers handlers)
    : acceptor_(io), handlers_(std::make_shared<const HttpHandlers>(std::move(handlers))) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  const std::string where = host + ":" + std::to_string(port);
  if (ec) {
    throw Error(ErrorKind::Config, "metrics.listen: '" + host + "' is not an IP address",
                {.hint = "Use an address such as 127.0.0.1, 0.0.0.0 or ::1."});
  }
  const tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error(ErrorKind::Config, "metrics.listen: cannot listen on " + where + ": " + ec.message(),
                {.hint = "Choose a free port, or stop what else listens there."});
  }
  port_ = acceptor_.local_endpoint().port();
  accept();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  beast::error_code ignored;
  acceptor_.close(ignored);
}

void HttpServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), handlers_)->start();
    accept();
  });
}

}  // namespace pgstream::ops
