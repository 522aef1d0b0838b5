// The one HTTP listener of pgstream (metrics.listen): GET /metrics (Prometheus
// text format), /healthz and /readyz. Runs on the caller's io_context; needs
// no thread of its own.
//
// Contract: /healthz answers 200 while the process works (the probe says so
// and the event loop turns, since it is what answers); /readyz answers 200
// only when the readiness probe says ready, else 503 with the reason. Other
// paths are 404, other methods 405. A request is read with a size limit and a
// timeout; nothing a client sends can crash the daemon or hold a connection
// open. The probes are called on the io_context's thread and must not block.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace pgstream::ops {

struct ProbeResult {
  bool ok = true;
  std::string reason;  // why not, for the response body and logs
};

struct HttpHandlers {
  std::function<std::string()> metrics;    // the exposition text
  std::function<ProbeResult()> liveness;   // /healthz
  std::function<ProbeResult()> readiness;  // /readyz
};

class HttpServer {
 public:
  // Binds and listens at once (throws Error{Config} naming the address if it
  // cannot); port 0 picks a free port, see port().
  HttpServer(boost::asio::io_context& io, const std::string& host, std::uint16_t port, HttpHandlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  // Stops accepting; sessions in flight finish on their own (bounded by the timeout).
  void stop();

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<const HttpHandlers> handlers_;
  std::uint16_t port_ = 0;
};

}  // namespace pgstream::ops
