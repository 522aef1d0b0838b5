// 128-bit integers (a GCC/Clang extension) for exact sums and interval
// spans; __extension__ keeps -Wpedantic quiet about the one place they are named.
#pragma once

namespace pgstream::engine {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

}  // namespace pgstream::engine
