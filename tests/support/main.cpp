// Catch2's runner for every test binary, plus the fixture's signal guard: a
// test interrupted by SIGINT/SIGTERM (ctest's timeout) or crashing still
// stops its PostgreSQL cluster and removes its temp dir.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support/pg_cluster.hpp"

int main(int argc, char** argv) {
  pgstream::testing::install_cluster_guard();
  const int result = Catch::Session().run(argc, argv);
  pgstream::testing::shutdown_shared_cluster();
  return result;
}
