/// Dataset registry (see registry.h): where each real dataset comes from,
/// the bytes we expect (SHA-256), and how a file is found or fetched.
///
/// Digests were computed with `sha256sum` on the copies in shared/data;
/// URLs pin the same commits as shared/data/README.md so a download yields
/// those exact bytes.

#include "common/error.h"
#include "datasets/registry.h"
#include "common/files.h"
#include "common/sha256.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>

namespace sozai {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRaw = "https://raw.githubusercontent.com/";

/// A pinned upstream repository (as in shared/data/README.md).
struct Upstream {
  const char* repo;
  const char* commit;
  const char* licence;
};

constexpr Upstream kPvlab{"PV-Lab/Benchmarking", "7585c51", "MIT"};
constexpr Upstream kOlympus{"aspuru-guzik-group/olympus", "440b6b5", "MIT"};
constexpr Upstream kPolymers{"htang7415/Uncertianty_quantification_Polymer_informatics", "b23377a", "Apache-2.0"};
constexpr Upstream kCdvae{"txie-93/cdvae", "f857f59", "MIT"};
constexpr Upstream kCrabnet{"anthony-wang/CrabNet", "457b4d4", "MIT"};
constexpr Upstream kMpea{"CitrineInformatics/MPEA_dataset", "d31e251", "Apache-2.0"};

/// "owner/name @commit, path": the provenance line shown to users.
std::string source_line(const Upstream& u, const std::string& path) {
  return std::string(u.repo) + " @" + u.commit + ", " + path;
}

/// A file stored locally as `relative_path`, fetched from `url_path` (URL
/// encoded) under the upstream commit.
RegisteredFile file(const std::string& relative_path, const Upstream& u, const std::string& url_path,
                    const std::string& sha256) {
  return RegisteredFile{relative_path, std::string(kRaw) + u.repo + "/" + u.commit + "/" + url_path, sha256};
}

DatasetInfo dataset(const std::string& name, const std::string& title, const char* kind, const Upstream& u,
                    const std::string& upstream_path, std::vector<RegisteredFile> files) {
  DatasetInfo d;
  d.name = name;
  d.title = title;
  d.kind = kind;
  d.source = source_line(u, upstream_path);
  d.licence = u.licence;
  d.files = std::move(files);
  return d;
}

/// A PV-Lab closed-loop table: `upstream_path` as named upstream (shown),
/// `url_path` percent-encoded.
DatasetInfo pvlab(const std::string& name, const std::string& title, const std::string& local,
                  const std::string& upstream_path, const std::string& url_path, const std::string& sha256) {
  auto d = dataset(name, title, "pvlab", kPvlab, upstream_path,
                   {file("pvlab-benchmarking/" + local, kPvlab, url_path, sha256)});
  d.closed_loop = true;
  d.single_objective = true;
  return d;
}

/// An Olympus closed-loop dataset: data.csv and config.json.
DatasetInfo olympus(const std::string& name, const std::string& title, const std::string& data_sha,
                    const std::string& config_sha, bool single_objective) {
  const std::string upstream = "src/olympus/datasets/dataset_" + name + "/";
  auto d = dataset(name, title, "olympus", kOlympus, upstream,
                   {file("olympus/" + name + "/data.csv", kOlympus, upstream + "data.csv", data_sha),
                    file("olympus/" + name + "/config.json", kOlympus, upstream + "config.json", config_sha)});
  d.closed_loop = true;
  d.single_objective = single_objective;
  return d;
}

/// A property table stored locally as `local`, `upstream_path` under u.
DatasetInfo property(const std::string& name, const std::string& title, const Upstream& u, const std::string& local,
                     const std::string& upstream_path, const std::string& sha256) {
  return dataset(name, title, "property", u, upstream_path, {file(local, u, upstream_path, sha256)});
}

std::vector<DatasetInfo> build_registry() {
  return {
      // ------------------------------------------------ closed-loop (PV-Lab)
      pvlab("p3ht", "P3HT/CNT film conductivity", "P3HT_dataset.csv", "datasets/P3HT_dataset.csv",
            "datasets/P3HT_dataset.csv",
            "db33eeb63e3f09ebeb3c1985c14b39e4284668b3ed1fc6a23d17998c21a45dde"),
      pvlab("agnp", "Silver nanoparticle spectral loss", "AgNP_dataset.csv",
            "datasets/AgNP_dataset.csv", "datasets/AgNP_dataset.csv",
            "d25ec6fbb178bbb1b58350ff1c933034b409cdced4f9b20f7d7be61ffaed0d08"),
      // Upstream the name has a space; the local copy uses '_' and the URL
      // needs it percent-encoded.
      pvlab("crossed_barrel", "Crossed-barrel structure toughness", "Crossed_barrel_dataset.csv",
            "datasets/Crossed barrel_dataset.csv", "datasets/Crossed%20barrel_dataset.csv",
            "2c01f875f3c210e986ca6142bf20f417884c2ad7d6f008c2fc574b44a3d5f606"),
      pvlab("autoam", "Additive manufacturing print score", "AutoAM_dataset.csv",
            "datasets/AutoAM_dataset.csv", "datasets/AutoAM_dataset.csv",
            "01ec270fcaae908ff8bea85b420c4cc7c4b0cddff6f6e63fe1b156082fd266b6"),
      // ------------------------------------------------ closed-loop (Olympus)
      olympus("oer_plate_3496", "Mixed-metal oxide OER overpotential",
              "3c70049ccfdd11bc05d1777421fc4c724d2b2d4a86c12b8759079609912cfade",
              "fd223faeee42566de738e55dfa0625268c5317c7cbc4f1e0a23e53f109f5006c", true),
      olympus("oer_plate_4098", "Mixed-metal oxide OER overpotential (another plate: Sn, Sb, Co, Ca, Ni, Mn)",
              "a3e4b4b781e3a04f861d062e773ce64d543118aa8ee9ccfc1aa4612502070b12",
              "06acfeeef0a516a98998a1b581579ffbbacc232d93cbd534f8cae9290234f148", true),
      olympus("photo_pce10", "PCE10 polymer-blend photodegradation",
              "b41c72b8e38e73a5ddd175db19e62f1bbd51da75e040fe6bd08afbdf87f0c4cf",
              "89c45acb702c5489bc8669c5f454126ebda4e3c843e5a29cded9b004b93c3b31", true),
      olympus("lnp3", "Lipid nanoparticle formulation (3 objectives)",
              "69e8847e30f8b8b8720884676cd20d354152b7093309d278ee9910f9924b48ba",
              "7ec96b09dde230cf09e9ac23853ac935d595dde86642f4127c13d00a28715fdf", false),
      olympus("vapdiff_crystal", "Perovskite vapour-diffusion crystal score",
              "27fa19a45ace1538556c3869be71615486225fc80399a2c2dbafa0582a119a3a",
              "4907d43663c47481d8511dec43e25764cb5105180366cee6a85762e522d082c8", true),
      // ------------------------------------------------ property datasets
      property("tg_polymers", "Polymer glass-transition temperature (SMILES, degC)",
               kPolymers, "polymers/Tg_Original.csv", "data/Tg_Original.csv",
               "661e4d2ec4868b6dbe3289c33a5c6ffced05faece8ca41e9d1a2547b585cd111"),
      property("eg_polymers", "Polymer band gap (SMILES, eV)",
               kPolymers, "polymers/Eg_Original.csv", "data/Eg_Original.csv",
               "b98ec9d1508b79980f3b31fb608ac1b5606bbe54c93dfc9e077a0e8ac5db4eee"),
      property("perov_5", "Cubic perovskites (CIF, formation energy, band gaps), validation split",
               kCdvae, "ceramics/perov_5_val.csv", "data/perov_5/val.csv",
               "326f401219901270374b71e2faff63df3a29a99fd26f469993b9f476b693daf2"),
      property("matbench_dielectric", "Refractive index from composition (matbench_dielectric)",
               kCrabnet, "ceramics/matbench_dielectric.csv", "data/matbench/dielectric.csv",
               "6320d3da4c0f68e9248e26c058bf047b71f43ec687a6db6faf4f7bc4f4f21c9e"),
      property("matbench_expt_gap", "Experimental band gap from composition (matbench_expt_gap)",
               kCrabnet, "ceramics/matbench_expt_gap.csv", "data/matbench/expt_gap.csv",
               "3de82c37f1db3ab9bbd92366c96633f131913ded5db0969eb36216bdd11cef2f"),
      property("matbench_castelli", "Perovskite formation energy from composition (Castelli)",
               kCrabnet, "ceramics/matbench_castelli.csv", "data/matbench/castelli.csv",
               "2aba6ff55450b269056de0e07362bd279d32abc8e4af04ca0100ecbb3e62bb97"),
      property("mpea", "Multi-principal-element alloys, experimental mechanical properties",
               kMpea, "alloys/MPEA_dataset.csv", "MPEA_dataset.csv",
               "c5504d93fd324d1be26cf814d0694ee9ee95578d68a0b38aba6813b939fa2c5d"),
      property("matbench_steels_yield", "Steel yield strength from composition (matbench_steels)",
               kCrabnet, "alloys/matbench_steels_yield.csv", "data/matbench/steels_yield.csv",
               "a4232b4d83185f8c65c02dca6a013b85e220227d212e703d12586a4b5b9e9cf0"),
      // Computed (DFT) data for pretraining: composition-only matbench sets.
      property("mp_e_form", "DFT formation energy from composition (matbench_mp_e_form, Materials Project)",
               kCrabnet, "ceramics/matbench_mp_e_form.csv", "data/matbench/mp_e_form.csv",
               "90e895635c96447c5be4e9070d26f26e1b4d17925102a6597ae3c4d79c32555b"),
      property("mp_gap", "DFT (PBE) band gap from composition (matbench_mp_gap, Materials Project)",
               kCrabnet, "ceramics/matbench_mp_gap.csv", "data/matbench/mp_gap.csv",
               "4084e584467e6f81ec8bf12c438eeb2c049ae39e11401bae694ef6a9983b9d9f"),
      property("mat2vec_elements", "mat2vec element embeddings (200-d, Tshitoyan et al. 2019)",
               kCrabnet, "elements/mat2vec.csv", "data/element_properties/mat2vec.csv",
               "5dcde1a0fe13040af99dbcb7b3d73eb022ffd085e7f598dce70844d0af83b137"),
      property("magpie_elements", "Magpie elemental properties (97 elements)",
               kCrabnet, "elements/magpie.csv", "data/element_properties/magpie.csv",
               "402782379c950c10865b07c4e3044fe6a20c841aef6ffe81bcb912e0bf8de41d"),
  };
}

/// Non-empty value of an environment variable, or "".
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

/// The per-user download cache, or "" when neither XDG_CACHE_HOME nor HOME
/// is set (then nothing can be downloaded).
std::string cache_dir() {
  const std::string xdg = env("XDG_CACHE_HOME");
  if (!xdg.empty()) return xdg + "/sozai";
  const std::string home = env("HOME");
  if (!home.empty()) return home + "/.cache/sozai";
  return {};
}

/// Identity of a file's current contents as far as the file system tells
/// cheaply: if size and modification time are unchanged since it was
/// hashed, the digest is taken as still valid.
struct FileStamp {
  std::uintmax_t size = 0;
  fs::file_time_type mtime{};
  std::string sha256;
};

/// Process-wide memo of verified files, so that loading a dataset again
/// (every benchmark campaign does) does not rehash it.
std::mutex g_verified_mutex;
std::map<std::string, FileStamp> g_verified;

/// Records that `path`, as it is now on disk, hashes to `sha256`.
void remember_verified(const std::string& path, const std::string& sha256) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return;
  const auto mtime = fs::last_write_time(path, ec);
  if (ec) return;
  std::lock_guard<std::mutex> lock(g_verified_mutex);
  g_verified[path] = FileStamp{size, mtime, sha256};
}

/// Throws StorageError unless `path` hashes to `expected`; remembers success.
void verify_file(const std::string& path, const std::string& expected, const std::string& dataset) {
  {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto mtime = ec ? fs::file_time_type{} : fs::last_write_time(path, ec);
    std::lock_guard<std::mutex> lock(g_verified_mutex);
    const auto it = g_verified.find(path);
    if (!ec && it != g_verified.end() && it->second.size == size && it->second.mtime == mtime &&
        it->second.sha256 == expected)
      return;
  }
  const std::string actual = sha256_file(path);
  if (actual != expected)
    throw StorageError(str("dataset '", dataset, "': ", path, " has SHA-256 ", actual, ", expected ",
                           expected, " (the file is corrupt or a different version; delete it or "
                           "replace it with the registered one)"));
  remember_verified(path, expected);
}

/// Quotes a string for a POSIX shell command line.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  out += "'";
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

const std::vector<DatasetInfo>& dataset_registry() {
  static const std::vector<DatasetInfo> registry = build_registry();
  return registry;
}

const DatasetInfo& dataset_info(const std::string& name) {
  for (const auto& d : dataset_registry())
    if (d.name == name) return d;
  std::vector<std::string> names;
  for (const auto& d : dataset_registry()) names.push_back(d.name);
  throw InputError(str("unknown dataset '", name, "'; expected one of: ", join(names, ", ")));
}

std::vector<std::string> dataset_search_dirs() {
  std::vector<std::string> dirs;
  const std::string data_dir = env("SOZAI_DATA_DIR");
  if (!data_dir.empty()) dirs.push_back(data_dir);
  const std::string cache = cache_dir();
  if (!cache.empty()) dirs.push_back(cache);
  return dirs;
}

std::string dataset_path(const DatasetInfo& info, const std::string& relative_path, bool verify) {
  const RegisteredFile* entry = nullptr;
  for (const auto& f : info.files)
    if (f.relative_path == relative_path) entry = &f;
  if (!entry) {
    std::vector<std::string> known;
    for (const auto& f : info.files) known.push_back(f.relative_path);
    throw InputError(str("dataset '", info.name, "' has no file '", relative_path,
                         "'; expected one of: ", join(known, ", ")));
  }

  const std::vector<std::string> dirs = dataset_search_dirs();
  std::vector<std::string> searched;
  for (const auto& dir : dirs) {
    const std::string candidate = dir + "/" + relative_path;
    std::error_code ec;
    searched.push_back(candidate);
    if (!fs::is_regular_file(candidate, ec)) continue;
    // The first copy found is the one used: a bad copy there is reported
    // rather than silently shadowed by another.
    if (verify) verify_file(candidate, entry->sha256, info.name);
    return candidate;
  }

  const std::string hint =
      str("Set SOZAI_DATA_DIR to a folder holding ", relative_path,
          " (for example a checkout's shared/data), or download it by hand from ", entry->url);
  const std::string where = searched.empty() ? std::string("nowhere (SOZAI_DATA_DIR, XDG_CACHE_HOME "
                                                           "and HOME are all unset)")
                                             : join(searched, ", ");
  const std::string cache = cache_dir();
  if (cache.empty())
    throw StorageError(str("dataset '", info.name, "': ", relative_path, " not found; searched ",
                           where, "; no cache folder to download into. ", hint));

  const std::string target = cache + "/" + relative_path;
  const auto fail = [&](const std::string& why) {
    return StorageError(str("dataset '", info.name, "': ", relative_path, " not found; searched ",
                            where, "; downloading ", entry->url, " failed: ", why, ". ", hint));
  };

  std::error_code ec;
  fs::create_directories(fs::path(target).parent_path(), ec);
  if (ec) throw fail(str("cannot create ", fs::path(target).parent_path().string(), " (", ec.message(), ")"));

  // Into a per-process temporary file (ctest runs test cases as parallel
  // processes), checked, then renamed over the target.
  try {
    write_atomically(target, [&](const std::string& part) {
      const std::string command = str("curl -fsSL -o ", shell_quote(part), " ", shell_quote(entry->url));
      const int status = std::system(command.c_str());
      if (status != 0) {
        const std::string how = (status != -1 && WIFEXITED(status))
                                    ? str("exited with status ", WEXITSTATUS(status))
                                    : str("could not run (system() returned ", status, ")");
        throw fail(str("curl ", how, " (command: ", command, ")"));
      }
      const std::string actual = sha256_file(part);
      if (actual != entry->sha256) throw fail(str("the download has SHA-256 ", actual, ", expected ", entry->sha256));
    });
  } catch (const StorageError& e) {
    const std::string what = e.what();
    if (what.rfind(str("dataset '", info.name, "'"), 0) == 0) throw;
    throw fail(what);
  }
  remember_verified(target, entry->sha256);
  return target;
}

}  // namespace sozai
