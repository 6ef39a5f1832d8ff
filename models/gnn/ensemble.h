#pragma once
/// Deep ensembles of graph neural networks: several members of one
/// architecture trained from different seeds and data orders, each with a
/// mean-variance head; the ensemble's predictive distribution is the
/// members' Gaussian mixture (Lakshminarayanan et al., NeurIPS 2017),
/// recalibrated on held-out data. Inputs are materials as text (SMILES,
/// CIF/POSCAR, formulas) featurised by kind, or ready GraphBatches.

#include <sozai/datasets/graph.h>
#include <sozai/models/gnn/graph_model.h>
#include <sozai/models/surrogate.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sozai {
namespace gnn {

struct TrainConfig {
  int64_t max_epochs = 300;
  int64_t batch_size = 64;
  double lr = 1e-3;
  double weight_decay = 1e-5;
  std::string schedule = "cosine";  ///< "cosine" (to lr/100 over max_epochs) or "constant"
  double val_fraction = 0.1;        ///< held out for early stopping and recalibration (>= 2 rows)
  int64_t patience = 30;            ///< epochs without a better validation MAE before stopping
  double clip_norm = 10.0;          ///< gradient norm clipping (0: off)
  int64_t warmup_mse_epochs = 5;    ///< first epochs fit the mean only (MSE), then Gaussian NLL
  bool progress = true;             ///< a progress line per epoch on stderr
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
};

/// What training measured, per member and for the ensemble.
struct TrainReport {
  std::vector<int64_t> epochs;          ///< epochs each member ran
  std::vector<double> best_val_mae;     ///< per member, original units
  double ensemble_val_mae = 0.0;
  double variance_scale = 1.0;          ///< recalibration factor applied to the variances
  double seconds = 0.0;
};

class GnnEnsemble {
 public:
  explicit GnnEnsemble(GnnEnsembleConfig config);

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

  /// One file: configuration, normalisation, calibration and every
  /// member's weights; load() in another process predicts the same numbers.
  void save(const std::string& path) const;
  static GnnEnsemble load(const std::string& path);

  const GnnEnsembleConfig& config() const { return config_; }
  bool fitted() const { return !members_.empty(); }
  const TrainReport& report() const { return report_; }

 private:
  GnnEnsembleConfig config_;
  std::vector<std::shared_ptr<GraphModel>> members_;
  double y_mean_ = 0.0, y_std_ = 1.0;
  torch::Tensor cond_mean_, cond_std_;
  double variance_scale_ = 1.0;
  TrainReport report_;
};

}  // namespace gnn
}  // namespace sozai
