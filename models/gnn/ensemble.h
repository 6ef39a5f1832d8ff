#pragma once
/// Deep ensembles of graph neural networks: several members of one
/// architecture trained from different seeds and data orders, each with a
/// mean-variance head; the ensemble's predictive distribution is the
/// members' Gaussian mixture (Lakshminarayanan et al., NeurIPS 2017),
/// recalibrated on held-out data. Inputs are materials as text (SMILES,
/// CIF/POSCAR, formulas) featurised by kind, or ready GraphBatches.

#include "datasets/graph.h"
#include "models/gnn/graph_model.h"
#include "models/surrogate.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sozai {
namespace gnn {

class PretrainedModel;  // models/gnn/pretrain.h
struct TrainData;       // models/gnn/train.h
struct Schedule;        // models/gnn/train.h

struct TrainConfig {
  /// Epochs at most. 0: chosen from the data, about 4000 optimiser steps
  /// (ceil(4000 / batches per epoch)) within [40, 200]: 200 for a few
  /// hundred rows, 40 for ten thousand.
  int64_t max_epochs = 0;
  int64_t batch_size = 64;
  double lr = 1e-3;
  double weight_decay = 1e-5;
  std::string schedule = "cosine";  ///< "cosine" (to lr/100 over max_epochs) or "constant"
  double val_fraction = 0.1;        ///< held out for early stopping and recalibration (>= 2 rows)
  int64_t patience = 0;             ///< epochs without a better validation MAE before stopping (0: max_epochs / 4, at least 10)
  double clip_norm = 10.0;          ///< gradient norm clipping (0: off)
  int64_t warmup_mse_epochs = 5;    ///< first epochs fit the mean only (MSE), then Gaussian NLL
  bool progress = true;             ///< a progress line per epoch on stderr
  /// Members trained at once, one CPU thread each (0: one per core). Each
  /// member has its own generator for its data order and its initial
  /// weights are drawn before any thread starts, so the result does not
  /// depend on the number of threads. With dropout > 0 (which draws from
  /// LibTorch's global generator) members are trained one after another.
  int64_t threads = 0;
  /// A file to which the ensemble is written after each finished member; a
  /// fit with the same configuration and data resumes from it, training
  /// only the members it lacks. Empty: no checkpoint.
  std::string checkpoint;
  /// How the epoch to keep is chosen:
  /// - "auto" (default): "folds" when fine-tuning a pretrained network with
  ///   n_members >= 2, "holdout" otherwise;
  /// - "holdout": val_fraction of the rows held out; each member keeps its
  ///   own best epoch on them and stops after `patience` epochs without a
  ///   better one;
  /// - "folds" (cross-validated stopping, for a few hundred rows, where a
  ///   10% holdout of 25 rows decides by noise): the rows are dealt into
  ///   n_members folds, member m holds out fold m, and the members train in
  ///   step; after each epoch the pooled MAE over ALL rows (each predicted
  ///   by the member that did not see it) decides, one epoch for every
  ///   member, and the variances are recalibrated on those out-of-fold
  ///   predictions. Needs n_members >= 2; val_fraction is not used.
  std::string stopping = "auto";
};

/// Fine-tuning from a pretrained network (models/gnn/pretrain.h).
struct FinetuneConfig {
  /// A shipped model's name ("composition-mp") or a file written by
  /// pretrain(); empty: members start from random weights.
  std::string pretrained;
  /// "new": a freshly drawn head per member; a task of the pretrained model
  /// ("mp_gap"): its head, with the targets standardised as that task's
  /// were (computed -> measured transfer of the same property).
  std::string head = "new";
  /// Epochs at the start in which only the head trains (the trunk: element
  /// table, message passing, pooling, frozen).
  int64_t freeze_epochs = 0;
  /// The trunk's learning rate as a fraction of lr (discriminative learning
  /// rates: the pretrained part moves less than the head), in (0, 1].
  double trunk_lr_scale = 1.0;
};

struct GnnEnsembleConfig {
  std::string kind;                 ///< "polymer", "crystal" or "composition"
  int64_t n_members = 5;
  uint64_t seed = 0;
  GraphModelConfig model;           ///< hidden, layers, head_hidden, dropout (dims are set by fit)
  TrainConfig train;
  double cutoff = 8.0;              ///< crystal featuriser
  int64_t max_neighbors = 12;       ///< crystal featuriser
  bool recalibrate = true;          ///< scale variances to be calibrated on the validation rows
  /// MC dropout (Gal & Ghahramani 2016): at prediction, each member runs
  /// this many times with its dropout layers active and the ensemble is the
  /// mixture of all these Gaussians. 0: off. Needs model.dropout > 0.
  /// Draws are seeded from `seed`, so predictions repeat.
  int64_t mc_dropout_samples = 0;
  FinetuneConfig finetune;          ///< start from a pretrained network (empty pretrained: from scratch)
};

/// What training measured, per member and for the ensemble.
struct TrainReport {
  int64_t max_epochs = 0;               ///< the epoch limit used (resolved when the config says 0)
  int64_t patience = 0;                 ///< the patience used
  std::vector<int64_t> epochs;          ///< epochs each member ran
  std::vector<double> best_val_mae;     ///< per member, original units
  std::vector<double> member_variance_scale;  ///< per member recalibration (for predict_member)
  double ensemble_val_mae = 0.0;
  double variance_scale = 1.0;          ///< recalibration factor applied to the variances
  std::string stopping;                 ///< the stopping rule used ("holdout" or "folds")
  double seconds = 0.0;
};

class GnnEnsemble {
 public:
  explicit GnnEnsemble(GnnEnsembleConfig config);

  /// An ensemble whose members start from a pretrained network
  /// (PretrainedModel::load: a shipped name, digest verified, or a file):
  /// its kind and architecture, config.finetune.pretrained = name_or_path,
  /// everything else from `config` (n_members, seed, training, finetune
  /// options; train.stopping "auto" becomes "folds" with n_members >= 2).
  static GnnEnsemble from_pretrained(const std::string& name_or_path, GnnEnsembleConfig config = {});

  /// Featurises `inputs` by kind (polymer: SMILES; crystal: CIF/POSCAR
  /// texts; composition: formulas). InputError names the bad input.
  GraphBatch featurize(const std::vector<std::string>& inputs) const;

  /// Trains every member. y: [n] targets; conditions: [n, C] or undefined.
  TrainReport fit(const GraphBatch& graphs, const torch::Tensor& y, const torch::Tensor& conditions = {});
  TrainReport fit(const std::vector<std::string>& inputs, const torch::Tensor& y,
                  const torch::Tensor& conditions = {});

  /// Predictive mean and variance [n, 1] in the units of y (mixture of the
  /// members, recalibrated). members_out (optional) receives each
  /// member's means [M, n].
  Posterior predict(const GraphBatch& graphs, const torch::Tensor& conditions = {},
                    torch::Tensor* members_out = nullptr) const;
  Posterior predict(const std::vector<std::string>& inputs, const torch::Tensor& conditions = {}) const;

  /// One member alone (its mean-variance head, recalibrated on the
  /// validation rows on its own): the "single model" a deep ensemble is
  /// compared with. InputError for m outside [0, n_members).
  Posterior predict_member(int64_t m, const GraphBatch& graphs, const torch::Tensor& conditions = {}) const;
  Posterior predict_member(int64_t m, const std::vector<std::string>& inputs,
                           const torch::Tensor& conditions = {}) const;

  /// The learned representation of each graph: the pooled embedding the
  /// members' heads see, averaged over members, [n, hidden] float64 (what a
  /// deep-kernel GP works on).
  torch::Tensor embed(const GraphBatch& graphs, const torch::Tensor& conditions = {}) const;

  /// One file: configuration, normalisation, calibration and every
  /// member's weights; load() in another process predicts the same numbers.
  void save(const std::string& path) const;
  static GnnEnsemble load(const std::string& path);

  const GnnEnsembleConfig& config() const { return config_; }
  bool fitted() const { return !members_.empty(); }
  const TrainReport& report() const { return report_; }

  /// Training driven from outside (federated rounds, core/federated): the
  /// architecture set for graphs like `like` with `condition_dim`
  /// conditions (a pretrained network adopted as fit would), the
  /// normalisation the parties agreed on, and the members' initial weights
  /// drawn in member order from config.seed - the same in every process.
  /// The members are then trained and averaged from outside through
  /// members(); set_variance_scale() sets the recalibration.
  void prepare_external(const GraphBatch& like, int64_t condition_dim, double y_mean, double y_std,
                        const torch::Tensor& cond_mean, const torch::Tensor& cond_std);
  const std::vector<std::shared_ptr<GraphModel>>& members() const { return members_; }
  void set_variance_scale(double scale);
  /// Targets and conditions in the standardised units the members see.
  torch::Tensor standardised_targets(const torch::Tensor& y) const;
  torch::Tensor standardised_conditions(const torch::Tensor& conditions) const;

 private:
  /// Sets the targets' and conditions' normalisation from the training rows.
  void standardise(const torch::Tensor& y, const torch::Tensor& cond, const torch::Tensor& train_idx);
  /// The ensemble's validation MAE and, with config.recalibrate, the
  /// variance scales (ensemble and per member) that maximise the
  /// likelihood of the validation rows (targets yv in the units of y).
  void recalibrate(const GraphBatch& val_graphs, const torch::Tensor& val_cond, const torch::Tensor& yv);
  /// Per-member (raw, unrecalibrated) means and variances [M*S, n] in the
  /// units of y, S = mc_dropout_samples or 1; or embeddings when `embed`.
  void member_outputs(const GraphBatch& graphs, const torch::Tensor& conditions, torch::Tensor& means,
                      torch::Tensor& vars, torch::Tensor* embedding, int64_t only_member = -1) const;
  using Members = std::vector<std::shared_ptr<GraphModel>>;
  /// Cross-validated stopping (TrainConfig::stopping "folds"): trains
  /// `models` in step, one fold held out each, keeps the epoch of the best
  /// pooled out-of-fold MAE and recalibrates on those predictions.
  void fit_folds(const TrainData& all, const torch::Tensor& order, const Schedule& schedule,
                 const Members& models, int64_t threads, const FinetuneConfig* finetune, const torch::Tensor& y,
                 const torch::Tensor& cond);
  /// Writes the configuration, normalisation and the members that are set
  /// (a checkpoint has null slots); atomically (temporary file + rename).
  void write_archive(const std::string& path, const Members& members, const std::string& fingerprint) const;
  /// The finished members of a checkpoint written for the same settings
  /// and `fingerprint` ([n_members], null where unfinished); empty when the
  /// file is for other data or settings.
  Members resume(const std::string& path, const std::string& fingerprint);

  /// Fresh members (initial weights drawn in member order): from the
  /// pretrained network when config_.finetune names one.
  std::shared_ptr<GraphModel> new_member(int64_t m) const;
  /// Checks and adopts a pretrained network's architecture.
  void adopt_pretrained();
  /// The members' feature widths from `graphs` (checked against a
  /// pretrained network's, adopted first) and condition_dim; `who` names
  /// the caller in errors.
  void set_architecture(const GraphBatch& graphs, int64_t condition_dim, const char* who);

  GnnEnsembleConfig config_;
  std::shared_ptr<const PretrainedModel> pretrained_;  ///< loaded for fit() (not saved)
  std::vector<std::shared_ptr<GraphModel>> members_;
  double y_mean_ = 0.0, y_std_ = 1.0;
  torch::Tensor cond_mean_, cond_std_;
  double variance_scale_ = 1.0;
  std::vector<double> member_variance_scale_;
  TrainReport report_;
};

}  // namespace gnn
}  // namespace sozai
