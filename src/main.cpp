// The pgstream binary: only dispatches to the command line module.
#include "pgstream/cli/cli.hpp"

int main(int argc, char** argv) { return pgstream::cli::main(argc, argv); }
