#pragma once
/// Registry of the real datasets sozai's tests and benchmarks use.
///
/// The project never commits the data: each entry names its canonical
/// source, the file names and their SHA-256. Files are looked up in
/// $SOZAI_DATA_DIR, then in the user cache ($XDG_CACHE_HOME/sozai or
/// ~/.cache/sozai), then downloaded from the source into the cache (with
/// curl) and verified.

#include <string>
#include <vector>

namespace sozai {

struct RegisteredFile {
  std::string relative_path;  ///< path under the data directory, e.g. "pvlab-benchmarking/P3HT_dataset.csv"
  std::string url;            ///< where to download the same bytes
  std::string sha256;         ///< expected lower-case hex digest
};

struct DatasetInfo {
  std::string name;           ///< registry key, e.g. "p3ht"
  std::string title;          ///< human name, e.g. "P3HT/CNT conductivity"
  std::string kind;           ///< "pvlab" or "olympus" for closed-loop sets; "property" otherwise
  std::string source;         ///< repository @ commit, path
  std::string licence;
  std::vector<RegisteredFile> files;
  bool closed_loop = false;   ///< usable as a pool for campaign benchmarks
  bool single_objective = false;
};

/// All registered datasets, in a stable order.
const std::vector<DatasetInfo>& dataset_registry();

/// Looks up a dataset by name; InputError listing the known names if absent.
const DatasetInfo& dataset_info(const std::string& name);

/// Resolves a registered file to a local path, verifying its SHA-256
/// (StorageError naming the file, expected and actual digests on mismatch;
/// StorageError naming the places searched when it cannot be found or
/// fetched). `verify=false` skips hashing (for repeated loads).
std::string dataset_path(const DatasetInfo& info, const std::string& relative_path,
                         bool verify = true);

/// The data directory search order actually used, for messages and docs.
std::vector<std::string> dataset_search_dirs();

}  // namespace sozai
