#pragma once
/// Small string helpers shared by every layer.

#include <cctype>
#include <cstddef>
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

/// The strings of a range separated by `sep`: "a, b, c" for messages that
/// list the choices.
template <typename Range>
std::string join(const Range& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

/// Whether s is well-formed UTF-8 (no overlong forms, surrogates or code
/// points above U+10FFFF).
inline bool valid_utf8(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned long cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

/// Text safe to show in a message or a log line: at most max_bytes of it
/// (cut at a character boundary, "..." appended), control characters as
/// '?', and bytes that are not UTF-8 as '?'.
inline std::string printable(const std::string& s, size_t max_bytes = 200) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    std::string ch;
    if (len == 0 || i + len > s.size() || !valid_utf8(s.substr(i, len))) {
      ch = "?";
      len = 1;
    } else {
      ch = s.substr(i, len);
      if (len == 1 && (c < 0x20 || c == 0x7F)) ch = "?";
    }
    if (out.size() + ch.size() > max_bytes) return out + "...";
    out += ch;
    i += len;
  }
  return out;
}

}  // namespace sozai
