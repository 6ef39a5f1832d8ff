#include "common/sha256.h"
#include "common/error.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>

namespace sozai {

namespace {

/// Runs feed(update) on a SHA-256 context and returns the digest.
std::vector<unsigned char> digest(const std::function<void(const std::function<void(const void*, size_t)>&)>& feed) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("SHA-256: OpenSSL init failed");
  feed([&](const void* p, size_t n) {
    if (EVP_DigestUpdate(ctx.get(), p, n) != 1) throw Error("SHA-256: OpenSSL update failed");
  });
  std::vector<unsigned char> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) throw Error("SHA-256: OpenSSL final failed");
  out.resize(len);
  return out;
}

}  // namespace

std::vector<unsigned char> sha256(const std::vector<std::string>& parts) {
  return digest([&](const auto& update) {
    for (const auto& p : parts) update(p.data(), p.size());
  });
}

std::string to_hex(const std::vector<unsigned char>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (auto c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string sha256_hex(const std::string& bytes) { return to_hex(sha256({bytes})); }

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError(str(path, ": cannot open file to hash (", std::strerror(errno), ")"));
  auto d = digest([&](const auto& update) {
    std::array<char, 1 << 16> buf;
    while (in) {
      in.read(buf.data(), buf.size());
      if (in.gcount() > 0) update(buf.data(), static_cast<size_t>(in.gcount()));
    }
  });
  if (in.bad()) throw StorageError(str(path, ": read error while hashing"));
  return to_hex(d);
}

std::vector<unsigned char> random_bytes(size_t n) {
  std::vector<unsigned char> out(n);
  if (n && RAND_bytes(out.data(), static_cast<int>(n)) != 1) throw Error("the system random generator failed");
  return out;
}

}  // namespace sozai
