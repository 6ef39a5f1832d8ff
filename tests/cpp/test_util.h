#pragma once
// Helpers shared by the C++ tests. Include after catch.hpp.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace sozai {
namespace test {

/// Path of a committed fixture under tests/fixtures/datasets.
inline std::string fixture(const std::string& name) {
  return std::string(SOZAI_TEST_FIXTURES) + "/datasets/" + name;
}

/// A fresh private folder under the system temporary directory.
inline std::string make_temp_dir(const std::string& prefix) {
  std::string templ = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

/// Runs `f`, requires it to throw E, and returns the message.
template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("expected an exception");
  return {};
}

}  // namespace test
}  // namespace sozai
