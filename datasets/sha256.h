#pragma once
/// SHA-256 (FIPS 180-4), used to verify registered datasets.

#include <string>

namespace sozai {

/// Lower-case hex SHA-256 of a byte string.
std::string sha256_hex(const std::string& bytes);

/// Lower-case hex SHA-256 of a file's contents; StorageError if unreadable.
std::string sha256_file(const std::string& path);

}  // namespace sozai
