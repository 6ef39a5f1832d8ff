/// Tests of the dataset registry: the entries themselves, the search order,
/// verification, and fetching (through curl with file:// URLs, so that no
/// test needs the network).

#include "common/error.h"
#include "datasets/registry.h"
#include "common/sha256.h"


#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

namespace {

using sozai::test::fixture;
using sozai::test::message_of;

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

/// Sets (or unsets, for nullopt) an environment variable for one scope and
/// restores the previous value afterwards, so tests do not leak settings.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string temp_dir() { return sozai::test::make_temp_dir("sozai_reg"); }


/// A one-file dataset outside the registry, for exercising dataset_path.
sozai::DatasetInfo toy_dataset(const std::string& url, const std::string& sha256) {
  sozai::DatasetInfo d;
  d.name = "toy";
  d.kind = "property";
  d.files = {{"toy/values.csv", url, sha256}};
  return d;
}

bool is_lower_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

TEST_CASE("dataset_registry: every dataset of shared/data is registered", "[datasets][registry]") {
  const std::vector<std::string> pvlab = {"p3ht", "agnp", "crossed_barrel", "autoam"};
  const std::vector<std::string> olympus = {"oer_plate_3496", "oer_plate_4098", "photo_pce10", "lnp3", "vapdiff_crystal"};
  const std::vector<std::string> property = {"tg_polymers",         "eg_polymers",       "perov_5",
                                             "matbench_dielectric", "matbench_expt_gap", "matbench_castelli",
                                             "mpea",                "matbench_steels_yield", "magpie_elements",
                                             "mp_e_form",           "mp_gap",            "mat2vec_elements"};
  const auto& reg = sozai::dataset_registry();
  CHECK(reg.size() == pvlab.size() + olympus.size() + property.size());

  std::set<std::string> names, paths;
  for (const auto& d : reg) {
    INFO(d.name);
    CHECK(names.insert(d.name).second);
    CHECK(!d.title.empty());
    CHECK(!d.source.empty());
    CHECK((d.licence == "MIT" || d.licence == "Apache-2.0"));
    REQUIRE(!d.files.empty());
    for (const auto& f : d.files) {
      INFO(f.relative_path);
      CHECK(paths.insert(f.relative_path).second);
      CHECK(is_lower_hex64(f.sha256));
      CHECK(f.url.rfind("https://raw.githubusercontent.com/", 0) == 0);
      CHECK(f.url.find(' ') == std::string::npos);
    }
  }
  for (const auto& n : pvlab) {
    const auto& d = sozai::dataset_info(n);
    CHECK(d.kind == "pvlab");
    CHECK(d.closed_loop);
    CHECK(d.single_objective);
    CHECK(d.files.size() == 1);
  }
  for (const auto& n : olympus) {
    const auto& d = sozai::dataset_info(n);
    CHECK(d.kind == "olympus");
    CHECK(d.closed_loop);
    CHECK(d.single_objective == (n != "lnp3"));
    REQUIRE(d.files.size() == 2);
    CHECK(d.files[0].relative_path == "olympus/" + n + "/data.csv");
    CHECK(d.files[1].relative_path == "olympus/" + n + "/config.json");
    CHECK_THAT(d.files[0].url, Contains("/src/olympus/datasets/dataset_" + n + "/data.csv"));
  }
  for (const auto& n : property) {
    const auto& d = sozai::dataset_info(n);
    CHECK(d.kind == "property");
    CHECK_FALSE(d.closed_loop);
  }
  // The upstream name has a space; the URL must carry it encoded.
  const auto& barrel = sozai::dataset_info("crossed_barrel");
  CHECK(barrel.files[0].relative_path == "pvlab-benchmarking/Crossed_barrel_dataset.csv");
  CHECK(barrel.files[0].url ==
        "https://raw.githubusercontent.com/PV-Lab/Benchmarking/7585c51/datasets/Crossed%20barrel_dataset.csv");
}

TEST_CASE("dataset_info: unknown names list the known ones", "[datasets][registry]") {
  const auto msg = message_of<sozai::InputError>([] { sozai::dataset_info("p3ht_typo"); });
  CHECK_THAT(msg, Contains("p3ht_typo") && Contains("p3ht") && Contains("vapdiff_crystal"));
  const auto file = message_of<sozai::InputError>(
      [] { sozai::dataset_path(sozai::dataset_info("p3ht"), "nope.csv"); });
  CHECK_THAT(file, Contains("nope.csv") && Contains("pvlab-benchmarking/P3HT_dataset.csv"));
}

TEST_CASE("dataset_search_dirs: SOZAI_DATA_DIR, then the user cache", "[datasets][registry]") {
  {
    ScopedEnv data("SOZAI_DATA_DIR", std::string("/data/here"));
    ScopedEnv xdg("XDG_CACHE_HOME", std::string("/xdg"));
    CHECK(sozai::dataset_search_dirs() == std::vector<std::string>{"/data/here", "/xdg/sozai"});
  }
  {
    ScopedEnv data("SOZAI_DATA_DIR", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
    ScopedEnv home("HOME", std::string("/home/someone"));
    CHECK(sozai::dataset_search_dirs() == std::vector<std::string>{"/home/someone/.cache/sozai"});
  }
}

TEST_CASE("dataset_path: real files match their registered SHA-256", "[datasets][registry][data]") {
  SOZAI_REQUIRE_DATA_DIR(dir);
  for (const auto& d : sozai::dataset_registry()) {
    for (const auto& f : d.files) {
      INFO(d.name << ": " << f.relative_path);
      const std::string expected_path = std::string(dir) + "/" + f.relative_path;
      REQUIRE(fs::is_regular_file(expected_path));
      CHECK(sozai::sha256_file(expected_path) == f.sha256);
      CHECK(sozai::dataset_path(d, f.relative_path) == expected_path);
      // Second call hits the verified-digest memo.
      CHECK(sozai::dataset_path(d, f.relative_path) == expected_path);
    }
  }
}

TEST_CASE("dataset_path: first folder wins and a wrong digest is reported", "[datasets][registry]") {
  const std::string data = temp_dir(), cache = temp_dir();
  ScopedEnv e1("SOZAI_DATA_DIR", data);
  ScopedEnv e2("XDG_CACHE_HOME", cache);
  const std::string good = "x,y\n1,2\n";
  fs::create_directories(data + "/toy");
  fs::create_directories(cache + "/sozai/toy");
  std::ofstream(data + "/toy/values.csv", std::ios::binary) << good;
  std::ofstream(cache + "/sozai/toy/values.csv", std::ios::binary) << "other bytes";

  const auto info = toy_dataset("file:///nonexistent", sozai::sha256_hex(good));
  CHECK(sozai::dataset_path(info, "toy/values.csv") == data + "/toy/values.csv");

  // Replace the data-dir copy with other bytes: rehashed (size changed), rejected.
  std::ofstream(data + "/toy/values.csv", std::ios::binary) << "x,y\n1,3,\n";
  const auto msg = message_of<sozai::StorageError>([&] { sozai::dataset_path(info, "toy/values.csv"); });
  CHECK_THAT(msg, Contains(data + "/toy/values.csv") && Contains(sozai::sha256_hex(good)) &&
                      Contains(sozai::sha256_hex("x,y\n1,3,\n")));
  // verify=false trusts the file.
  CHECK(sozai::dataset_path(info, "toy/values.csv", false) == data + "/toy/values.csv");
}

TEST_CASE("dataset_path: downloads into the cache and verifies", "[datasets][registry]") {
  const std::string source = temp_dir(), cache = temp_dir();
  const std::string bytes = "a,b\n3,4\n";
  std::ofstream(source + "/upstream.csv", std::ios::binary) << bytes;
  ScopedEnv e1("SOZAI_DATA_DIR", std::nullopt);
  ScopedEnv e2("XDG_CACHE_HOME", cache);

  const auto info = toy_dataset("file://" + source + "/upstream.csv", sozai::sha256_hex(bytes));
  const std::string got = sozai::dataset_path(info, "toy/values.csv");
  CHECK(got == cache + "/sozai/toy/values.csv");
  CHECK(sozai::sha256_file(got) == sozai::sha256_hex(bytes));
  // No part file is left behind.
  for (const auto& entry : fs::directory_iterator(cache + "/sozai/toy"))
    CHECK(entry.path().filename() == "values.csv");

  // A download whose bytes differ from the registry is discarded.
  const auto wrong = toy_dataset("file://" + source + "/upstream.csv", sozai::sha256_hex("different"));
  sozai::DatasetInfo renamed = wrong;
  renamed.files[0].relative_path = "toy/other.csv";
  const auto msg = message_of<sozai::StorageError>([&] { sozai::dataset_path(renamed, "toy/other.csv"); });
  CHECK_THAT(msg, Contains("SHA-256") && Contains("SOZAI_DATA_DIR"));
  CHECK_FALSE(fs::exists(cache + "/sozai/toy/other.csv"));
}

TEST_CASE("dataset_path: a failed fetch names the places searched and the URL", "[datasets][registry]") {
  const std::string data = temp_dir(), cache = temp_dir();
  ScopedEnv e1("SOZAI_DATA_DIR", data);
  ScopedEnv e2("XDG_CACHE_HOME", cache);
  const std::string url = "file://" + data + "/does-not-exist.csv";
  const auto info = toy_dataset(url, sozai::sha256_hex("whatever"));
  const auto msg = message_of<sozai::StorageError>([&] { sozai::dataset_path(info, "toy/values.csv"); });
  CHECK_THAT(msg, Contains(data + "/toy/values.csv") && Contains(cache + "/sozai/toy/values.csv") &&
                      Contains(url) && Contains("SOZAI_DATA_DIR"));
}
