#pragma once
/// Import of property tables (CSV) into featurised datasets: one input
/// column (SMILES, formula or CIF/POSCAR text), one or more numeric target
/// columns. Rows that cannot be used are reported by file line with the
/// reason, and the import carries on with the good ones.

#include "datasets/featurized.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sozai {

struct PropertyImportOptions {
  std::string kind;                        ///< "polymer", "composition" or "crystal"
  std::string input_column;                ///< SMILES / formula / structure text column
  std::vector<std::string> target_columns; ///< numeric targets; a row missing any is skipped
  std::vector<std::string> target_units;   ///< one per target ("" for unitless); empty = all ""
  std::vector<std::string> target_names;   ///< names to store (default: the column names)
  bool graphs = true;                      ///< build graphs (polymer, crystal, composition graphs)
  bool features = true;                    ///< polymer: Morgan counts; composition: the 110 Magpie statistics
  int64_t morgan_radius = 2;
  int64_t morgan_bits = 2048;
  double cutoff = 8.0;                     ///< crystal graphs, Å
  int64_t max_neighbors = 12;              ///< crystal graphs (-1: all within the cutoff)
  /// Process conditions beside the material (PI data): numeric columns
  /// (temperatures, times, rates) are appended to the features as they
  /// are, and a row missing one is left out ("missing condition");
  /// categorical columns (routes: cast, wrought, powder ...) are appended
  /// one-hot, with their categories sorted and an empty cell as the
  /// category "unknown". Feature names: the column name, or "column=value".
  std::vector<std::string> numeric_conditions;
  std::vector<std::string> categorical_conditions;
  int64_t limit = -1;                      ///< read at most this many data rows (-1: all)
  bool progress = false;                   ///< a progress line on stderr
};

/// One row that was left out.
struct BadRow {
  int line = 0;          ///< 1-based line of the file (the header is line 1)
  std::string reason;    ///< "invalid SMILES", "invalid repeat unit", "unknown element", "missing condition", "malformed formula", "malformed structure",
                         ///< "missing target", "non-numeric target" or "malformed row"
  std::string message;   ///< the full error
};

struct PropertyImportReport {
  std::string path;
  int64_t rows_read = 0;
  int64_t rows_kept = 0;
  std::vector<BadRow> bad_rows;
  /// Count of bad rows per reason.
  std::map<std::string, int64_t> counts() const;
  /// "tg.csv: kept 6902 of 6906 rows; left out: invalid SMILES 3, missing target 1"
  std::string summary() const;
};

struct PropertyImport {
  FeaturizedDataset data;
  PropertyImportReport report;
};

/// Reads and featurises a property CSV. InputError only for problems that
/// concern the whole file (a missing column, an unknown kind); StorageError
/// if it cannot be read. Provenance: source (the file), input_sha256,
/// featurizer and featurizer_version, created (UTC), plus `provenance`.
PropertyImport import_property_csv(const std::string& path, const PropertyImportOptions& options,
                                   const std::map<std::string, std::string>& provenance = {});

/// Options for the registered property datasets (dataset_registry() names:
/// tg_polymers, eg_polymers, perov_5, matbench_dielectric,
/// matbench_expt_gap, matbench_castelli, mpea, matbench_steels_yield).
PropertyImportOptions property_import_preset(const std::string& dataset);

/// Resolves a registered property dataset (SOZAI_DATA_DIR, cache or
/// download) and imports it with its preset, recording its source and
/// licence in the provenance.
PropertyImport import_registered_dataset(const std::string& dataset, const PropertyImportOptions* override_options = nullptr);

}  // namespace sozai
