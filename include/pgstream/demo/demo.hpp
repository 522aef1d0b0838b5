// `pgstream demo` (SPEC §2): the zero-setup quickstart.
//
// Contract: run_demo() starts a throwaway PostgreSQL (LocalServer), loads
// the sample schema, declares three stream tables (an aggregate, a top-k and
// a join), runs the daemon as a child process (`pgstream run` of this very
// binary), writes a stream of changes, and shows the stream tables and the
// throughput and lag: redrawn in place with ANSI escapes, cut to the
// terminal's size, when `terminal`; else one line per refresh:
//   t=3s writer=300tx/s orders=5123 revenue=... top1="Blue Gizmo" ... frontier=0/1A2B3C0 lag=...
// It stops on SIGINT, SIGTERM or SIGHUP, or after `seconds` (0: no limit),
// then compares every stream table with its query at the final frontier and
// prints "check: ok" or what differs, and cleans up everything it started
// (writer, daemon, server, temp dir), also when it fails halfway.
// Returns the exit code: 0 after a normal stop, 2 if a stream table did not
// match its query; throws Error{Io, Connection, ...} (exit code 2) if
// something cannot start. Call it from the main thread, before any other
// thread exists: it blocks SIGINT/SIGTERM/SIGHUP for the process while it runs.
#pragma once

#include <iosfwd>

namespace pgstream::demo {

struct DemoOptions {
  int seconds = 0;                    // stop after this long once the tables are live; 0: until Ctrl-C
  int transactions_per_second = 300;  // the writer's rate
  bool terminal = false;              // redraw in place (stdout is a terminal)
};

[[nodiscard]] int run_demo(const DemoOptions& options, std::ostream& out);

}  // namespace pgstream::demo
