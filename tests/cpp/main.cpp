// Catch2 main for sozai's C++ tests, in its own unit so that editing a test
// does not recompile Catch2's runner.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
