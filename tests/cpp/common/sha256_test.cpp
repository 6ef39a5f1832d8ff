/// SHA-256 against the FIPS 180-4 / NIST example vectors, plus the padding
/// edge cases around the 55/56/64-byte block boundaries and file hashing.

#include "common/error.h"
#include "common/sha256.h"


#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

TEST_CASE("sha256_hex: NIST example vectors", "[common][sha256]") {
  CHECK(sozai::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sozai::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The two-block, 448-bit message.
  CHECK(sozai::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a' (FIPS 180-2 appendix B.3).
  CHECK(sozai::sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256_hex: padding at block boundaries", "[common][sha256]") {
  // 55 bytes fit the length in one block; 56 and 64 need a second one.
  CHECK(sozai::sha256_hex(std::string(55, 'a')) ==
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sozai::sha256_hex(std::string(56, 'a')) ==
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sozai::sha256_hex(std::string(64, 'a')) ==
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("sha256_file: same digest as the bytes; missing file", "[common][sha256]") {
  std::string dir = (std::filesystem::temp_directory_path() / "sozai_sha_XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  const std::string path = dir + "/blob.bin";
  // Larger than the 64 KiB read buffer so the streaming path is exercised.
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes.push_back(static_cast<char>(i * 31 % 251));
  std::ofstream(path, std::ios::binary) << bytes;
  CHECK(sozai::sha256_file(path) == sozai::sha256_hex(bytes));
  CHECK_THROWS_AS(sozai::sha256_file(dir + "/missing.bin"), sozai::StorageError);
}
