#pragma once
/// The `sozai` command line: argument parsing and sub-commands.

#include <string>
#include <vector>

namespace sozai {
namespace cli {

/// Runs the CLI on argv-style arguments (without the program name) and
/// returns the process exit code; errors are printed on stderr, never thrown.
int run(const std::vector<std::string>& args);

}  // namespace cli
}  // namespace sozai
