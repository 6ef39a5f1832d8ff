#pragma once
/// Internal: the parts of a screen (core/screen/screen.h) — candidate
/// sources, models, scoring, the fixed-size hit records that ranks, shards
/// and checkpoints exchange, and the MPI seam. Not part of the public API.

#include "core/screen/screen.h"
#include "core/space/design_space.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace sozai {
class Campaign;
namespace screen {
namespace detail {

// ---------------------------------------------------------------- sources

/// A block of candidates: those whose position lies in [begin, end).
struct Block {
  torch::Tensor index;              ///< [n] int64: grid positions or rows
  torch::Tensor raw;                ///< spaces: [n, raw_width] float64 raw candidates
  std::vector<std::string> inputs;  ///< tables: each row's model input (formula, SMILES, structure text)
  torch::Tensor features;           ///< tables: [n, F] float64 numeric columns (named by Source::feature_names)
  int64_t size() const { return index.defined() ? index.size(0) : 0; }
  /// The rows `rows` ([k] int64 positions in this block) as a block.
  Block rows(const torch::Tensor& rows) const;
};

class Source {
 public:
  virtual ~Source() = default;
  /// Grid positions (spaces) or rows (tables).
  virtual uint64_t positions() const = 0;
  /// The candidates at positions [begin, end); called with increasing begin.
  virtual Block read(uint64_t begin, uint64_t end) = 0;
  /// The named value columns of the output.
  virtual std::vector<std::string> columns() const = 0;
  /// Those values for the given positions (any order), as text.
  virtual std::vector<std::vector<std::string>> describe(const std::vector<int64_t>& index) = 0;
  /// What the candidates are: kind, file, digest, size.
  virtual nlohmann::json provenance() const = 0;
  /// The design space (spaces only).
  virtual const DesignSpace* space() const { return nullptr; }
  /// Names of Block::features' columns (tables with numeric columns).
  virtual std::vector<std::string> feature_names() const { return {}; }
};

/// A design space enumerated by grid index.
std::unique_ptr<Source> space_source(DesignSpace space, nlohmann::json space_json, const std::string& origin);
/// A library file or directory (by its extension: .h5/.hdf5, .csv, .smi;
/// a directory of .cif/POSCAR/.vasp files); `input_column` names a CSV's
/// model-input column (empty: none; the numeric columns are still read
/// as features when `feature_columns` names them).
std::unique_ptr<Source> library_source(const std::string& path, const std::string& input_column,
                                       const std::vector<std::string>& feature_columns);

// ---------------------------------------------------------------- models

/// One outcome a model predicts.
struct OutcomeInfo {
  std::string name;
  bool objective = true;   ///< else a constraint with `limit`
  bool maximize = true;
  bool has_limit = false;
  Limit limit;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const std::vector<OutcomeInfo>& outcomes() const = 0;
  /// Mean and variance [n, m] float64 (on the model's device) of a block.
  virtual void predict(const Block& block, torch::Tensor* mean, torch::Tensor* variance) const = 0;
  /// One posterior sample function's values [n, m] (the same function for
  /// every block: seeded once).
  virtual torch::Tensor sample(const Block& block) const = 0;
  /// Cheap enclosures of predict() for pruning (false: the model has none):
  /// each outcome's mean in [mean_lo, mean_hi] and variance <= var_hi, [n, m].
  /// coarse: looser bounds for a fraction of the cost (a first pass; what
  /// it keeps gets the full ones), the same as the full ones where the
  /// model has no cheaper kind.
  virtual bool bound(const Block& block, torch::Tensor* mean_lo, torch::Tensor* mean_hi, torch::Tensor* var_hi,
                     bool coarse = false) const {
    return false;
  }
  /// Rows whose predict() values depend only on the rows of their tile:
  /// aligned runs of this many rows from the block's start (0: on each row
  /// alone). Pruning keeps or drops whole tiles, so a candidate's numbers are
  /// bit for bit the same with and without it.
  virtual int64_t tile() const { return 0; }
  /// The incumbent of the first objective for EI (has_best false: none).
  virtual bool best(double* value) const { return false; }
  virtual nlohmann::json provenance() const = 0;
  /// Feature columns the model needs from a table library (pool campaigns).
  virtual std::vector<std::string> feature_columns() const { return {}; }
};

/// The GPs of a campaign loaded from `path` (its file is read once, by the
/// caller); `space`: the space screened (checked against a space campaign's
/// own), or null for a library.
std::unique_ptr<Model> campaign_model(const Campaign& campaign, const std::string& path, const DesignSpace* space,
                                      const std::string& device, uint64_t seed);
/// A campaign's design space (space campaigns) as JSON, or null.
nlohmann::json campaign_space(const Campaign& campaign);
/// Column names a pool campaign's GPs read (empty for space campaigns).
std::vector<std::string> campaign_feature_columns(const Campaign& campaign);
/// GnnEnsembles, one outcome each.
std::unique_ptr<Model> ensemble_model(const std::vector<std::string>& models, const std::vector<std::string>& names,
                                      bool minimize, const DesignSpace* space, uint64_t seed);

// ---------------------------------------------------------------- hits

/// A hit as `width` doubles: score, index, mean[m], variance[m]. Lists are
/// best first: higher score, then lower index.
inline int64_t record_width(int64_t outcomes) { return 2 + 2 * outcomes; }
/// The k best of two best-first lists.
std::vector<double> merge_top(const std::vector<double>& a, const std::vector<double>& b, int64_t width, int64_t k);
/// The non-dominated records of two fronts (objective values in `signs`
/// direction: record mean[j] * signs[j], larger is better; 0 = not an
/// objective), best first by score.
std::vector<double> merge_front(const std::vector<double>& a, const std::vector<double>& b, int64_t width,
                                const std::vector<double>& signs);

// ---------------------------------------------------------------- MPI

struct Comm {
  int rank = 0, size = 1, local_rank = 0;
  int local_size = 1;   ///< ranks on this node (sharing its cores and GPUs)
  bool active = false;  ///< an MPI job of more than this process
};
/// Joins the MPI job when the process was started by mpirun/srun (and
/// MPI was built in); otherwise a communicator of one.
Comm init_comm(bool use_mpi);
/// The top-k merge of every rank's list by one MPI reduction; the result at
/// rank 0 (others: their own list).
std::vector<double> reduce_top(const Comm& comm, const std::vector<double>& mine, int64_t width, int64_t k);
/// Every rank's records concatenated at rank 0 (fronts).
std::vector<double> gather_records(const Comm& comm, const std::vector<double>& mine);
/// Every rank's progress at rank 0, by point-to-point messages (never a
/// collective, so each rank reports when it likes): positions done,
/// candidates scored, and whether the report is its last (the totals are
/// known to rank 0 beforehand).
class ProgressBoard {
 public:
  explicit ProgressBoard(const Comm& comm);
  ~ProgressBoard();
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;
  /// This rank's state (rank 0 records its own; the others send it).
  void report(uint64_t done, uint64_t screened, bool last);
  /// Rank 0: takes the reports that have arrived; true once every rank has sent its last.
  bool poll();
  /// Rank 0: sums over the latest report of each rank.
  uint64_t done() const;
  uint64_t screened() const;

 private:
  const Comm& comm_;
  std::vector<std::array<uint64_t, 3>> latest_;  // per rank: done, screened, last
  struct Pending;
  std::vector<std::unique_ptr<Pending>> pending_;  // sends not yet known to be complete
};

/// Sum over ranks, everywhere.
uint64_t sum_all(const Comm& comm, uint64_t value);
/// Whether every rank says true.
bool all_true(const Comm& comm, bool value);

}  // namespace detail
}  // namespace screen
}  // namespace sozai
