#pragma once
/// Small string helpers shared by every layer.

#include <cctype>
#include <string>

namespace sozai {

/// ASCII lower case (names of kernels, acquisitions, transforms are matched case-insensitively).
inline std::string to_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Whether s ends with suffix.
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace sozai
