#pragma once
/// Pretrained graph networks: multi-task pretraining on large computed
/// datasets (10^5 DFT formation energies and band gaps for compositions;
/// Tg and Eg for polymers), the saved model with its model card, and the
/// registry of the models the project ships.
///
/// The network is one trunk (any GraphModel: element table, message
/// passing and pooling) with one mean-variance head per task; a row of
/// task t trains the trunk and head t. The trunk's own head (every
/// GraphModel has one) is not trained: fine-tuning (GnnEnsemble with
/// FinetuneConfig::pretrained) copies the trunk into each member and gives
/// the member either a new head or the head of one task.
///
/// Training is built for hours on a few cores: AdamW with a per-step cosine
/// schedule, the data order of each epoch drawn from (seed, epoch), a
/// checkpoint (weights, optimiser state, position in the epoch, history)
/// written every few minutes and at each epoch's end, and a time limit
/// after which the run stops with its checkpoint; the same call resumes
/// where it stopped and ends with the same model as an uninterrupted run
/// (on the same hardware and thread count).

#include "datasets/graph.h"
#include "models/gnn/graph_model.h"
#include "models/surrogate.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/nn/modules/container/sequential.h>

namespace sozai {
namespace gnn {

/// One task: materials as text and one measured or computed value each.
struct PretrainTask {
  std::string name;                   ///< the head's name, e.g. "mp_e_form"
  std::vector<std::string> inputs;    ///< formulas (composition) or SMILES (polymer)
  torch::Tensor y;                    ///< [n] targets
  std::string units;
  std::string source;                 ///< the data file, for the model card
  std::string sha256;                 ///< its digest, for the model card
};

struct PretrainConfig {
  std::string kind = "composition";   ///< "composition" or "polymer"
  /// hidden (0: the architecture's reference width), layers, head_hidden,
  /// element_dim (set from the element table); node and edge widths come
  /// from the featuriser.
  GraphModelConfig model;
  /// Composition: the element table's starting values, "mat2vec" (from
  /// element_table, mat2vec.csv: 200-d embeddings from the literature, as
  /// CrabNet starts), "magpie" (the 22 standardised Magpie properties) or
  /// "none" (no table).
  std::string element_init = "mat2vec";
  std::string element_table;          ///< path of the CSV for element_init = "mat2vec"
  int64_t epochs = 60;
  int64_t batch_size = 256;
  double lr = 1e-3;                   ///< peak; cosine to lr / 100 over all steps, after a 1-epoch linear warm-up
  double weight_decay = 1e-5;
  double clip_norm = 10.0;
  double val_fraction = 0.05;         ///< of each task, held out for the model card
  uint64_t seed = 0;
  /// Written every checkpoint_minutes and at the end of each epoch; a call
  /// with the same settings and data resumes from it. Empty: no checkpoint.
  std::string checkpoint;
  double checkpoint_minutes = 10.0;
  /// Stop after this many hours of this call (checkpoint written; call
  /// again to go on). 0: no limit.
  double max_hours = 0.0;
  /// Write the model as it stands in the checkpoint to `out` (its card
  /// says how far training got) and return without training: to try a
  /// long run's network while the run goes on. Needs the checkpoint.
  bool export_only = false;
  std::string device = "cpu";         ///< "cpu", "cuda" or "cuda:N" (minibatches are moved there)
  int64_t threads = 0;                ///< LibTorch intra-op threads (0: leave as is)
  bool progress = true;               ///< progress line on stderr
};

/// What a run reached.
struct PretrainReport {
  bool finished = false;              ///< all epochs done and the model written (false for export_only)
  int64_t epochs = 0;                 ///< planned
  double epochs_done = 0;             ///< fractional while unfinished
  double seconds = 0;                 ///< training time over all resumed calls
  std::map<std::string, double> val_mae;  ///< per task, original units, at the end of the last finished epoch
};

/// A pretrained network: trunk, one head per task, and its model card.
class PretrainedModel {
 public:
  /// name_or_path: a name of pretrained_registry() ("composition-mp": the
  /// file is found in pretrained_dir() and its SHA-256 verified first) or
  /// the path of a file written by pretrain(). StorageError naming the file
  /// and what did not match (digest, format, shapes).
  static PretrainedModel load(const std::string& name_or_path);
  void save(const std::string& path) const;

  const std::string& kind() const { return config_.kind; }
  const GraphModelConfig& model_config() const { return config_; }
  std::vector<std::string> tasks() const;
  /// The model card: data (files, SHA-256, rows), settings, validation MAE
  /// per task, training time, and a fixed check subset per task
  /// ("check": inputs, targets, the MAE the model had on them).
  const nlohmann::json& card() const { return card_; }
  /// A task's targets' mean and standard deviation (the head predicts in
  /// these standardised units).
  std::pair<double, double> task_scale(const std::string& task) const;

  GraphBatch featurize(const std::vector<std::string>& inputs) const;
  /// Mean and variance [n, 1] of task `task` in its units. InputError for
  /// an unknown task (the message lists them).
  Posterior predict(const std::string& task, const std::vector<std::string>& inputs) const;
  Posterior predict(const std::string& task, const GraphBatch& graphs) const;
  /// The trunk's pooled states [n, hidden] float64.
  torch::Tensor embed(const GraphBatch& graphs) const;

  /// A new model of the same architecture, with condition_dim conditions,
  /// its trunk (every parameter but the head) copied from this one, and
  /// its head either freshly drawn (head = "new", from LibTorch's current
  /// generator) or task `head`'s (the weights for the conditions, which
  /// the pretrained head never saw, start at 0). In training mode.
  std::shared_ptr<GraphModel> make_member(int64_t condition_dim, const std::string& head) const;

  /// Names of the trunk's parameters (what fine-tuning may freeze).
  static bool is_head_parameter(const std::string& name) { return name.rfind("head.", 0) == 0; }

 private:
  friend PretrainReport pretrain(const std::vector<PretrainTask>&, const PretrainConfig&, const std::string&);
  GraphModelConfig config_;
  std::shared_ptr<GraphModel> trunk_;
  std::vector<std::string> task_names_;
  mutable std::vector<torch::nn::Sequential> heads_;  // forward() is not const in LibTorch
  std::vector<double> y_mean_, y_std_;
  nlohmann::json card_;
  int64_t task_index(const std::string& task) const;
};

/// Trains a multi-task network on `tasks` and writes it to `out` (with
/// the model card inside; see PretrainedModel::card). Returns early, with
/// finished = false and the checkpoint written, when max_hours is reached.
/// InputError for empty or mismatched tasks, repeated task names, or a
/// checkpoint written for other settings or data (it is never silently
/// overwritten).
PretrainReport pretrain(const std::vector<PretrainTask>& tasks, const PretrainConfig& config, const std::string& out);

/// The tasks of registered datasets ("mp_e_form", "mp_gap", "tg_polymers",
/// "eg_polymers", ... : dataset_registry() names, resolved and verified
/// there), each with its file and digest for the model card; `limit` > 0
/// keeps the first rows of each.
std::vector<PretrainTask> registered_pretrain_tasks(const std::vector<std::string>& datasets, int64_t limit = -1);

/// The model card as Markdown (what README and pretrained/*.md show).
std::string model_card_markdown(const nlohmann::json& card);

/// Models the project ships, each a file in pretrained_dir() with its
/// SHA-256 (held in this library, so a replaced file is noticed).
struct PretrainedEntry {
  std::string name;        ///< e.g. "composition-mp"
  std::string file;        ///< file name in pretrained_dir()
  std::string sha256;
  std::string kind;
  std::string description;
};
const std::vector<PretrainedEntry>& pretrained_registry();
/// $SOZAI_PRETRAINED_DIR, else the source tree's pretrained/ folder.
std::string pretrained_dir();
/// The verified path of a shipped model, or `name_or_path` itself when it
/// names a file. StorageError: unknown name (listing the known ones),
/// missing file, digest mismatch (expected and actual).
std::string resolve_pretrained(const std::string& name_or_path);

/// The featuriser of a kind ("composition": formulas, "polymer": SMILES or
/// blends "A|B", "crystal": CIF/POSCAR texts), as GnnEnsemble uses it.
GraphBatch featurize_inputs(const std::string& kind, const std::vector<std::string>& inputs, double cutoff = 8.0,
                            int64_t max_neighbors = 12);

}  // namespace gnn
}  // namespace sozai
