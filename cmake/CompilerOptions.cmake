# Warnings and sanitizers for every target of ours, through one interface
# library that each target links (third-party code is not affected).
add_library(pgstream_options INTERFACE)
target_compile_options(pgstream_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  -Wno-missing-field-initializers  # C++20 designated initializers may omit members
  $<$<BOOL:${PGSTREAM_WERROR}>:-Werror>)

if(PGSTREAM_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_compile_options(pgstream_options INTERFACE ${_san}
    # GCC 12's flow analysis reports uninitialized reads inside libstdc++
    # (std::regex, std::function) once ASan instruments them: false positives
    # that the plain -Werror build does not have, so it keeps the warning.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  target_link_options(pgstream_options INTERFACE ${_san})
endif()

# libFuzzer builds (clang): instrument everything of ours for coverage and
# memory errors; the fuzz targets themselves link -fsanitize=fuzzer.
if(PGSTREAM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PGSTREAM_FUZZ needs clang: configure with CC=clang CXX=clang++")
  endif()
  set(_fuzz -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  target_compile_options(pgstream_options INTERFACE ${_fuzz})
  target_link_options(pgstream_options INTERFACE -fsanitize=address,undefined)
endif()
