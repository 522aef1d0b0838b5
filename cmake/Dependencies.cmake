# Every dependency comes from a Debian 12 package (scripts/install-deps.sh) and
# is found the CMake way: a package's own config file, pkg-config, or a find
# module of ours (cmake/Find*.cmake) where the package ships neither.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(LIBPQ   REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(LIBPQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4)
find_package(Boost 1.74 REQUIRED)                       # Asio and Beast are header-only
find_package(spdlog REQUIRED CONFIG)
find_package(yaml-cpp REQUIRED CONFIG)
find_package(prometheus-cpp REQUIRED CONFIG COMPONENTS core pull)
find_package(PgQuery REQUIRED)                          # cmake/FindPgQuery.cmake
if(PGSTREAM_TESTS)
  find_package(Catch2 2 REQUIRED CONFIG)
endif()
