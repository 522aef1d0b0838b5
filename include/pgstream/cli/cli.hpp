// The command line of the pgstream binary (SPEC §2).
//
// main() parses argv, runs the command and returns the process exit code:
// 0 ok, 1 user error (usage, bad config, unsupported query), 2 runtime
// failure. It never throws: every error is printed to stderr once.
#pragma once

#include <iosfwd>
#include <span>
#include <string_view>

namespace pgstream::cli {

int main(int argc, char** argv);

// The same, with explicit streams, for tests.
int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace pgstream::cli
