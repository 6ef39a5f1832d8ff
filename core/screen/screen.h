#pragma once
/// Batch screening (DESIGN.md: core/screen): score every candidate of a
/// library that does not fit in memory with a trained model and keep the
/// best k (or, for several objectives, the Pareto set), in memory that
/// depends on k and the chunk, never on the library.
///
/// Candidates come from
///   - a design space enumerated lazily by grid index (composition
///     simplexes, grids of process conditions, choices; the linear
///     constraints, forbidden elements and critical-element budget are
///     applied while enumerating),
///   - a featurised HDF5 library (datasets/featurized.h), read by row ranges,
///   - a CSV file (one input column: formula, SMILES, or numeric feature
///     columns), a .smi file (SMILES per line), or a directory of CIF/POSCAR
///     files, read in chunks.
/// A candidate's `index` is its grid position (spaces) or its row (tables):
/// positions are cut into blocks of `chunk` positions, and every block is
/// scored the same way whoever scores it, so the result is identical for any
/// number of ranks or shards and after any restart.
///
/// Models: a saved campaign (its GP per outcome, with the hyperparameters it
/// saved, conditioned on everything told), or saved/pretrained GnnEnsembles,
/// one per objective. Scores: "mean", "ucb", "ei", "logei", "thompson" (one
/// posterior sample path, the same function across chunks and ranks), and
/// "pareto" (the non-dominated set of predicted means over the objectives).
/// Outcome limits (a campaign's constraints and `limits`) make feasibility:
/// EI and LogEI are weighted by the probability of meeting every limit
/// (constrained EI, Gardner et al. 2014); the other scores keep only
/// candidates whose probability is at least min_probability.
///
/// Distributed: with MPI, ranks take contiguous ranges of blocks and one
/// MPI reduction merges their top-k (screen_mpi.cpp; a build without MPI
/// screens on one process). Without MPI across nodes, shard i of n screens
/// its range and writes a part; merge() combines the parts.
///
/// Checkpoints: every `checkpoint_seconds` a shard (or rank) writes what it
/// has done and its current best atomically; run again with the same
/// settings and it goes on after the last finished block.

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include <torch/types.h>

namespace sozai {
namespace screen {

/// A limit on a predicted outcome: outcome >= value (at_least) or <= value.
struct Limit {
  std::string outcome;
  double value = 0.0;
  bool at_least = true;
};
/// Parses "name>=value" or "name<=value"; InputError naming the text.
Limit parse_limit(const std::string& text);

struct ScreenOptions {
  // ------------------------------------------------------------ candidates
  std::string space;          ///< design-space JSON file (default: the campaign's space)
  std::string library;        ///< .h5 featurised library, .csv, .smi, or a directory of .cif/POSCAR files
  std::string input_column;   ///< CSV: the column holding the model's input (formula or SMILES)
  // ------------------------------------------------------------ models
  std::string campaign;       ///< a saved campaign (.json or .h5): its GPs, outcomes and best result
  std::vector<std::string> models;  ///< saved GnnEnsembles or pretrained names, one objective each
  std::vector<std::string> objectives;  ///< names of the models' objectives (default: file stems)
  bool minimize = false;      ///< models without a campaign: smaller is better
  // ------------------------------------------------------------ score
  std::string score = "logei";  ///< mean, ucb, ei, logei, thompson, pareto
  double beta = 4.0;          ///< ucb: mean + sqrt(beta) sigma
  bool has_best = false;      ///< ei/logei: use `best` as the incumbent (else the campaign's best)
  double best = 0.0;
  std::vector<Limit> limits;  ///< beside a campaign's own constraints
  double min_probability = 0.5;  ///< feasibility needed by mean, ucb, thompson and pareto
  uint64_t seed = 0;          ///< thompson's sample path
  // ------------------------------------------------------------ run
  int64_t top = 1000;         ///< k best kept (pareto: the whole front)
  int64_t chunk = 65536;      ///< grid positions (or rows) per block
  std::string out;            ///< .csv or .h5 (by extension); empty: not written
  std::string checkpoint;     ///< default: out + ".ckpt" (+ ".rankR" under MPI); "none": off
  double checkpoint_seconds = 30.0;
  int64_t shard_index = 0, shard_count = 1;  ///< --shard i/n
  std::string device = "cpu"; ///< cpu, cuda, cuda:N, or auto (each rank its local GPU, else CPU)
  bool progress = true;       ///< progress lines on stderr
  bool use_mpi = true;        ///< join the MPI job when the process was started by mpirun/srun
  int64_t max_blocks = -1;    ///< tests: stop after this many blocks (as if killed); -1: all
  /// Dismiss candidates whose score is bounded below the k-th best so far
  /// (a campaign's GPs: PosteriorBound) before computing their exact
  /// posterior. The result is the same either way; false is the check.
  bool prune = true;
};

/// What a screen found, best first.
struct ScreenResult {
  std::vector<std::string> outcomes;   ///< model outcome names
  std::vector<int64_t> index;          ///< grid position or row of each hit
  std::vector<double> score;
  std::vector<std::vector<double>> mean, variance;   ///< [hit][outcome]
  std::vector<std::string> columns;    ///< named value columns ("x.Ni", "temperature", "smiles", ...)
  std::vector<std::vector<std::string>> values;  ///< [hit][column] as text
  nlohmann::json provenance;           ///< model digests, space, settings, version, counts
  uint64_t screened = 0;               ///< candidates scored
  uint64_t positions = 0;              ///< grid positions (or rows) examined
  uint64_t exact = 0;                  ///< candidates whose exact posterior was computed (the rest: bounds)
  bool complete = false;               ///< every block of the shard was scored
  int64_t size() const { return static_cast<int64_t>(index.size()); }
};

/// Runs a screen (under mpirun: this rank's part; rank 0 returns and writes
/// the merged result, other ranks return theirs after the merge).
/// InputError naming the option, file, row or field that is wrong.
ScreenResult screen(const ScreenOptions& options);

/// Combines parts written by `--shard i/n` runs of the same screen (the
/// same settings digest, every shard present once) into one result, written
/// to `out` when not empty. InputError naming the part that does not fit.
ScreenResult merge(const std::vector<std::string>& parts, const std::string& out = "");

/// Writes a result: CSV (one column per named value, then score, mean and
/// variance per outcome; provenance in PATH.provenance.json beside it) or
/// HDF5 (.h5/.hdf5: datasets index, score, mean, variance, values; the
/// provenance as a JSON attribute), through a temporary file renamed.
void write_result(const ScreenResult& result, const std::string& path);
/// The CSV form alone (header, then one line per hit) to a stream.
void write_csv(const ScreenResult& result, std::ostream& out);
/// Reads what write_result wrote; StorageError naming the file and field.
ScreenResult read_result(const std::string& path);

/// Number of points on a composition simplex grid of `elements` elements at
/// `step` (1/step must be an integer): C(1/step + elements - 1, elements - 1).
uint64_t simplex_grid_size(int64_t elements, double step);

}  // namespace screen
}  // namespace sozai
