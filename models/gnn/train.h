#pragma once
/// Internal to models/gnn: training one member of a GnnEnsemble (AdamW,
/// cosine schedule, early stopping on the validation MAE, gradient
/// clipping, MSE warm-up then Gaussian NLL), the runner that trains members
/// side by side, and the progress line they share. The ensemble
/// (ensemble.cpp) splits the data, resumes checkpoints and recalibrates.

#include "models/gnn/ensemble.h"

#include <ATen/core/Generator.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace sozai {
namespace gnn {

/// The data every member trains on: standardised targets ys [n] and
/// conditions cs [n, C] (float32; cs undefined without conditions), the
/// training rows, and the validation rows every member is early-stopped on.
struct TrainData {
  const GraphBatch* graphs = nullptr;
  torch::Tensor train_idx, ys, cs;
  GraphBatch val_graphs;
  torch::Tensor val_cond, y_val;  ///< y_val undefined: no validation rows
  double y_std = 1.0;             ///< MAE back in the targets' units
  /// The graphs and conditions of rows idx.
  std::pair<GraphBatch, torch::Tensor> batch(const torch::Tensor& idx) const;
  bool has_validation() const { return y_val.defined(); }
};

/// Epochs at most and early-stopping patience for a fit of n_train rows
/// (TrainConfig's automatic values where it leaves them at 0).
struct Schedule {
  int64_t max_epochs = 0, patience = 0;
};
Schedule training_schedule(const TrainConfig& tc, int64_t n_train);

/// One member's training, an epoch at a time: AdamW (two parameter groups
/// when fine-tuning: the trunk at lr * trunk_lr_scale, the head at lr),
/// the schedule, MSE warm-up then Gaussian NLL, clipping; the trunk frozen
/// for the first freeze_epochs. Its own generator (seed) orders the data.
class MemberTrainer {
 public:
  /// finetune: null or FinetuneConfig::pretrained empty trains every
  /// parameter alike.
  MemberTrainer(GraphModel& model, const TrainData& data, const TrainConfig& tc, const Schedule& schedule,
                uint64_t seed, const FinetuneConfig* finetune);
  /// Trains epoch epochs_run() + 1; returns its mean training loss.
  double train_epoch();
  /// The model's outputs (standardised) on the validation rows (eval mode).
  GraphOutput validation_outputs();
  /// Validation MAE in the targets' units.
  double validation_mae();
  /// FedProx (Li et al. 2020): from now on each step's loss adds
  /// mu/2 * |w - reference|^2 over the model's parameters (in their order),
  /// keeping a party's local training near the global model; mu = 0 (or an
  /// empty reference) turns it off. InputError when the reference does not
  /// match the parameters' shapes.
  void set_proximal(double mu, std::vector<torch::Tensor> reference);
  /// The trainer's progress for a checkpoint: its optimiser's state, the
  /// generator of its data order and the epochs run (the model's weights
  /// are the caller's to keep). load() into a trainer built alike (same
  /// model shape, data and settings) goes on as the saved one would.
  void save(torch::serialize::OutputArchive& archive);
  void load(torch::serialize::InputArchive& archive);
  void keep_best();     ///< snapshot of the current weights
  void restore_best();  ///< back to the snapshot, eval mode
  int64_t epochs_run() const { return epoch_; }

 private:
  GraphModel& model_;
  const TrainData& data_;
  const TrainConfig& tc_;
  Schedule schedule_;
  at::Generator gen_;
  std::vector<torch::Tensor> trunk_, head_;
  std::vector<double> group_scale_;
  int64_t freeze_epochs_ = 0;
  std::unique_ptr<torch::optim::AdamW> opt_;
  std::map<std::string, torch::Tensor> best_;
  int64_t epoch_ = 0;
  double proximal_mu_ = 0.0;
  std::vector<torch::Tensor> proximal_ref_;
};

/// Trains `model` (its initial weights already drawn) on its own until its
/// validation MAE has not improved for `patience` epochs; leaves it in
/// eval mode with the weights of its best validation epoch. status(text)
/// reports each epoch. Returns (epochs run, best validation MAE, or
/// training loss without validation rows).
std::pair<int64_t, double> train_member(GraphModel& model, const TrainData& data, const TrainConfig& tc,
                                        const Schedule& schedule, uint64_t seed, const FinetuneConfig* finetune,
                                        const std::function<void(const std::string&)>& status);

/// Runs job(i) for i in [0, n) on up to `threads` threads (OpenBLAS on one
/// thread meanwhile, when several run: its threads would only compete); the
/// first exception stops the jobs not yet started and is rethrown.
void run_side_by_side(int64_t n, int64_t threads, const std::function<void(int64_t)>& job);

/// The progress line (stderr) of members training side by side.
class Progress {
 public:
  Progress(bool on, int64_t members) : on_(on), members_(members) {}
  ~Progress();
  void update(int64_t m, const std::string& status);
  void finish(int64_t m);

 private:
  void print();
  bool on_;
  int64_t members_, done_ = 0;
  size_t last_width_ = 0;
  std::map<int64_t, std::string> status_;
  std::mutex mu_;
};

}  // namespace gnn
}  // namespace sozai
