#pragma once
/// SHA-256 through OpenSSL: the one hash sozai uses, for dataset digests
/// (the registry), model-card digests and the lab service's salted token
/// hashes; and OpenSSL's random bytes, for tokens and secrets.

#include <string>
#include <vector>

namespace sozai {

/// Raw 32-byte digest of the concatenation of `parts` (e.g. salt, secret).
std::vector<unsigned char> sha256(const std::vector<std::string>& parts);
/// Lower-case hex of bytes.
std::string to_hex(const std::vector<unsigned char>& bytes);
/// Lower-case hex SHA-256 of a byte string.
std::string sha256_hex(const std::string& bytes);
/// Lower-case hex SHA-256 of a file's contents, read in blocks;
/// StorageError naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

/// n bytes from OpenSSL's cryptographic generator; Error when it fails.
std::vector<unsigned char> random_bytes(size_t n);

}  // namespace sozai
