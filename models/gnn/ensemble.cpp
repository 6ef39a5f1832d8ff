// Deep ensembles of graph networks: featurisation by kind, the fit (data
// split, checkpoints, members trained side by side by train.cpp),
// recalibration, mixture prediction and one-file save/load.
#include "common/error.h"
#include "common/files.h"
#include "datasets/composition.h"
#include "datasets/crystal_graph.h"
#include "datasets/polymer.h"
#include "models/config_json.h"
#include "models/gnn/ensemble.h"
#include "common/json.h"
#include "models/gnn/pretrain.h"
#include "models/gnn/train.h"

#include <nlohmann/json.hpp>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

namespace sozai {
namespace gnn {
namespace {

using Clock = std::chrono::steady_clock;

/// Version 2 adds the member list and data fingerprint (checkpoints).
constexpr const char* kFormat = "sozai-gnn-ensemble-2";

uint64_t member_seed(uint64_t seed, int64_t m) { return seed * 1000003ULL + static_cast<uint64_t>(m) + 1; }

/// Everything a fit depends on besides the configuration, as text: a
/// checkpoint is resumed only for the same data.
std::string data_fingerprint(const GraphBatch& g, const torch::Tensor& y, const torch::Tensor& cond) {
  std::ostringstream s;
  s << std::setprecision(17) << g.num_graphs() << ":" << g.num_nodes() << ":" << g.num_edges() << ":"
    << g.x.to(torch::kFloat64).sum().item<double>() << ":" << y.sum().item<double>() << ":"
    << y.pow(2).sum().item<double>();
  if (cond.defined()) s << ":" << cond.sum().item<double>();
  return s.str();
}

/// Dropout layers only in training mode (MC dropout), everything else
/// (BatchNorm) as in evaluation.
void set_dropout_active(GraphModel& model, bool active) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (dynamic_cast<torch::nn::DropoutImpl*>(module.get())) module->train(active);
  }
}

/// The mixture of R Gaussians (rows of means / vars [R, n]) as one mean and
/// variance [n, 1]: aleatoric (their variances) plus epistemic (the spread
/// of their means), times the recalibration scale.
Posterior mixture(const torch::Tensor& means, const torch::Tensor& vars, double scale) {
  auto mean = means.mean(0);
  auto var = ((vars + means.pow(2)).mean(0) - mean.pow(2)).clamp_min(1e-12) * scale;
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

}  // namespace

GnnEnsemble::GnnEnsemble(GnnEnsembleConfig config) : config_(std::move(config)) {
  const auto& k = config_.kind;
  SOZAI_CHECK(k == "polymer" || k == "crystal" || k == "composition",
              "GnnEnsemble: kind must be polymer, crystal or composition, got '", k, "'");
  SOZAI_CHECK(config_.n_members >= 1, "GnnEnsemble: n_members must be >= 1, got ", config_.n_members);
  const auto& t = config_.train;
  SOZAI_CHECK(t.max_epochs >= 0 && t.batch_size >= 1 && t.lr > 0 && t.weight_decay >= 0 && t.patience >= 0,
              "GnnEnsemble: training needs batch_size >= 1, max_epochs and patience >= 0 (0: automatic), lr > 0, "
              "weight_decay >= 0");
  SOZAI_CHECK(t.val_fraction >= 0 && t.val_fraction < 0.5, "GnnEnsemble: val_fraction must be in [0, 0.5), got ",
              t.val_fraction);
  SOZAI_CHECK(t.schedule == "cosine" || t.schedule == "constant", "GnnEnsemble: schedule must be cosine or constant, got '",
              t.schedule, "'");
  SOZAI_CHECK(t.threads >= 0, "GnnEnsemble: threads must be >= 0 (0: one per core), got ", t.threads);
  SOZAI_CHECK(t.stopping == "auto" || t.stopping == "holdout" || t.stopping == "folds",
              "GnnEnsemble: stopping must be auto, holdout or folds, got '", t.stopping, "'");
  const auto& f = config_.finetune;
  SOZAI_CHECK(f.freeze_epochs >= 0 && f.trunk_lr_scale > 0 && f.trunk_lr_scale <= 1 && !f.head.empty(),
              "GnnEnsemble: finetune needs freeze_epochs >= 0, 0 < trunk_lr_scale <= 1 and a head ('new' or a ",
              "task), got freeze_epochs=", f.freeze_epochs, " trunk_lr_scale=", f.trunk_lr_scale, " head='", f.head,
              "'");
  SOZAI_CHECK(config_.mc_dropout_samples >= 0, "GnnEnsemble: mc_dropout_samples must be >= 0, got ",
              config_.mc_dropout_samples);
  SOZAI_CHECK(config_.mc_dropout_samples == 0 || config_.model.dropout > 0,
              "GnnEnsemble: mc_dropout_samples = ", config_.mc_dropout_samples,
              " needs dropout > 0 (the model has no dropout to sample)");
  config_.model.kind = k;
  if (config_.model.hidden == 0) config_.model.hidden = default_hidden(k);
}

GraphBatch GnnEnsemble::featurize(const std::vector<std::string>& inputs) const {
  SOZAI_CHECK(!inputs.empty(), "GnnEnsemble: no inputs given");
  try {
    return featurize_inputs(config_.kind, inputs, config_.cutoff, config_.max_neighbors);
  } catch (const InputError& e) {
    if (config_.kind != "composition") throw;
    throw InputError(str("GnnEnsemble: ", e.what()));
  }
}

TrainReport GnnEnsemble::fit(const std::vector<std::string>& inputs, const torch::Tensor& y,
                             const torch::Tensor& conditions) {
  return fit(featurize(inputs), y, conditions);
}

GnnEnsemble GnnEnsemble::from_pretrained(const std::string& name_or_path, GnnEnsembleConfig config) {
  auto model = std::make_shared<const PretrainedModel>(PretrainedModel::load(name_or_path));
  config.kind = model->kind();
  config.finetune.pretrained = name_or_path;
  GnnEnsemble e(config);
  e.pretrained_ = model;
  e.adopt_pretrained();
  return e;
}

void GnnEnsemble::adopt_pretrained() {
  const auto& f = config_.finetune;
  if (!pretrained_) pretrained_ = std::make_shared<const PretrainedModel>(PretrainedModel::load(f.pretrained));
  SOZAI_CHECK(pretrained_->kind() == config_.kind, "GnnEnsemble: the pretrained model '", f.pretrained, "' is a ",
              pretrained_->kind(), " model, the ensemble's kind is ", config_.kind);
  SOZAI_CHECK(f.head == "new" || [&] {
    const auto t = pretrained_->tasks();
    return std::find(t.begin(), t.end(), f.head) != t.end();
  }(), "GnnEnsemble: finetune head '", f.head, "' is neither 'new' nor a task of '", f.pretrained, "' (",
              join(pretrained_->tasks()), ")");
  const auto& pc = pretrained_->model_config();
  auto& mc = config_.model;
  mc.node_dim = pc.node_dim;
  mc.edge_dim = pc.edge_dim;
  mc.hidden = pc.hidden;
  mc.layers = pc.layers;
  mc.head_hidden = pc.head_hidden;
  mc.element_dim = pc.element_dim;
}

std::shared_ptr<GraphModel> GnnEnsemble::new_member(int64_t m) const {
  torch::manual_seed(member_seed(config_.seed, m));
  if (pretrained_) return pretrained_->make_member(config_.model.condition_dim, config_.finetune.head);
  return make_graph_model(config_.model);
}

void GnnEnsemble::set_architecture(const GraphBatch& graphs, int64_t condition_dim, const char* who) {
  auto& mc = config_.model;
  const int64_t node_dim = graphs.x.size(1);
  const int64_t edge_dim = graphs.edge_attr.defined() ? graphs.edge_attr.size(1) : 0;
  if (!config_.finetune.pretrained.empty()) {
    adopt_pretrained();
    SOZAI_CHECK(node_dim == mc.node_dim && edge_dim == mc.edge_dim, who, ": the graphs have node/edge ",
                "features of width ", node_dim, "/", edge_dim, " but the pretrained model '",
                config_.finetune.pretrained, "' was trained on ", mc.node_dim, "/", mc.edge_dim);
  } else {
    mc.node_dim = node_dim;
    mc.edge_dim = edge_dim;
  }
  mc.condition_dim = condition_dim;
}

void GnnEnsemble::prepare_external(const GraphBatch& like, int64_t condition_dim, double y_mean, double y_std,
                                   const torch::Tensor& cond_mean, const torch::Tensor& cond_std) {
  SOZAI_CHECK(like.num_graphs() >= 1, "GnnEnsemble::prepare_external: needs a graph to take the feature widths from");
  SOZAI_CHECK(std::isfinite(y_mean) && std::isfinite(y_std) && y_std > 0, "GnnEnsemble::prepare_external: y_std must be ",
              "a positive number, got mean ", y_mean, " and sd ", y_std);
  SOZAI_CHECK(condition_dim == 0 || (cond_mean.defined() && cond_std.defined() && cond_mean.numel() == condition_dim &&
                                     cond_std.numel() == condition_dim && (cond_std > 0).all().item<bool>()),
              "GnnEnsemble::prepare_external: ", condition_dim, " conditions need a mean and a positive sd each");
  set_architecture(like, condition_dim, "GnnEnsemble::prepare_external");
  y_mean_ = y_mean;
  y_std_ = y_std;
  cond_mean_ = condition_dim ? cond_mean.reshape({-1}).to(torch::kFloat64) : torch::Tensor();
  cond_std_ = condition_dim ? cond_std.reshape({-1}).to(torch::kFloat64) : torch::Tensor();
  members_.clear();
  for (int64_t m = 0; m < config_.n_members; ++m) members_.push_back(new_member(m));
  variance_scale_ = 1.0;
  member_variance_scale_.assign(static_cast<size_t>(config_.n_members), 1.0);
  report_ = TrainReport{};
}

void GnnEnsemble::set_variance_scale(double scale) {
  SOZAI_CHECK(std::isfinite(scale) && scale > 0, "GnnEnsemble::set_variance_scale: needs a positive number, got ", scale);
  variance_scale_ = scale;
  report_.variance_scale = scale;
}

torch::Tensor GnnEnsemble::standardised_targets(const torch::Tensor& y) const {
  return ((y.reshape({-1}).to(torch::kCPU, torch::kFloat64) - y_mean_) / y_std_).to(torch::kFloat32);
}

torch::Tensor GnnEnsemble::standardised_conditions(const torch::Tensor& conditions) const {
  if (!conditions.defined() || conditions.numel() == 0 || !cond_mean_.defined()) return torch::Tensor();
  return ((conditions.to(torch::kCPU, torch::kFloat64) - cond_mean_) / cond_std_).to(torch::kFloat32);
}

TrainReport GnnEnsemble::fit(const GraphBatch& graphs, const torch::Tensor& y_in, const torch::Tensor& cond_in) {
  const auto start = Clock::now();
  const int64_t n = graphs.num_graphs();
  SOZAI_CHECK(n >= 2, "GnnEnsemble::fit: needs at least 2 graphs, got ", n);
  SOZAI_CHECK(y_in.defined() && y_in.numel() == n, "GnnEnsemble::fit: y must hold one target per graph (", n,
              "), got ", y_in.defined() ? y_in.numel() : 0);
  auto y = y_in.reshape({n}).to(torch::kCPU, torch::kFloat64);
  SOZAI_CHECK(torch::isfinite(y).all().item<bool>(), "GnnEnsemble::fit: y contains NaN or infinity");
  torch::Tensor cond;
  if (cond_in.defined() && cond_in.numel() > 0) {
    SOZAI_CHECK(cond_in.dim() == 2 && cond_in.size(0) == n, "GnnEnsemble::fit: conditions must be [", n, ", C], got ",
                cond_in.sizes());
    cond = cond_in.to(torch::kCPU, torch::kFloat64);
    SOZAI_CHECK(torch::isfinite(cond).all().item<bool>(), "GnnEnsemble::fit: conditions contain NaN or infinity");
  }
  set_architecture(graphs, cond.defined() ? cond.size(1) : 0, "GnnEnsemble::fit");
  const auto& mc = config_.model;
  const auto& tc = config_.train;
  const int64_t M = config_.n_members;
  const bool folds = tc.stopping == "folds" || (tc.stopping == "auto" && pretrained_ && M >= 2);
  SOZAI_CHECK(!folds || (M >= 2 && n >= 2 * M), "GnnEnsemble::fit: stopping = 'folds' deals the rows into ",
              "n_members folds: it needs n_members >= 2 and at least 2 rows per fold, got n_members = ", M, " and ",
              n, " rows");

  // Holdout: one validation split for every member, so that early stopping
  // and the ensemble's recalibration see the same held-out rows. Folds:
  // every row is held out by exactly one member.
  torch::manual_seed(config_.seed);
  auto order = torch::randperm(n, torch::kInt64);
  const int64_t n_val = !folds && n >= 10 && tc.val_fraction > 0
                            ? std::max<int64_t>(2, static_cast<int64_t>(std::llround(tc.val_fraction * n)))
                            : 0;
  auto val_idx = order.narrow(0, 0, n_val);
  TrainData data;
  data.graphs = &graphs;
  data.train_idx = order.narrow(0, n_val, n - n_val);
  standardise(y, cond, data.train_idx);
  if (pretrained_ && config_.finetune.head != "new") {
    // The pretrained head predicts in its task's standardised units.
    std::tie(y_mean_, y_std_) = pretrained_->task_scale(config_.finetune.head);
  }
  data.y_std = y_std_;
  data.ys = standardised_targets(y);
  data.cs = standardised_conditions(cond);
  if (n_val > 0) {
    std::tie(data.val_graphs, data.val_cond) = data.batch(val_idx);
    data.y_val = data.ys.index_select(0, val_idx);
  }

  members_.clear();
  report_ = TrainReport{};
  const auto schedule = training_schedule(tc, folds ? n - n / M : data.train_idx.numel());
  report_.max_epochs = schedule.max_epochs;
  report_.patience = schedule.patience;
  report_.epochs.assign(static_cast<size_t>(M), 0);
  report_.best_val_mae.assign(static_cast<size_t>(M), std::numeric_limits<double>::quiet_NaN());

  // Finished members of an earlier, interrupted fit of the same data.
  const std::string fingerprint = data_fingerprint(graphs, y, cond);
  Members members(static_cast<size_t>(M));
  // (With folds the members train in step and finish together: nothing to
  // resume but a finished fit.)
  if (!folds && !tc.checkpoint.empty() && std::ifstream(tc.checkpoint).good()) {
    Members resumed = resume(tc.checkpoint, fingerprint);
    if (!resumed.empty()) {
      members = resumed;
      if (tc.progress) {
        const auto k = std::count_if(members.begin(), members.end(), [](const auto& p) { return p != nullptr; });
        std::cerr << "[sozai gnn] resuming from " << tc.checkpoint << ": " << k << " of " << M
                  << " members already trained\n";
      }
    } else if (tc.progress) {
      std::cerr << "[sozai gnn] " << tc.checkpoint << " is for other data or settings; starting afresh\n";
    }
  }
  // Initial weights drawn here, in member order, so that they do not depend
  // on how many threads train the members.
  std::vector<int64_t> untrained;
  Members models(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    if (members[static_cast<size_t>(m)]) continue;
    models[static_cast<size_t>(m)] = new_member(m);
    untrained.push_back(m);
  }

  int64_t threads = tc.threads > 0 ? tc.threads : std::max<int64_t>(1, std::thread::hardware_concurrency());
  if (mc.dropout > 0) threads = 1;  // dropout draws from the global generator
  const FinetuneConfig* finetune = pretrained_ ? &config_.finetune : nullptr;
  if (folds) {
    fit_folds(data, order, schedule, models, threads, finetune, y, cond);
    members = models;
    if (!tc.checkpoint.empty()) write_archive(tc.checkpoint, members, fingerprint);
  } else {
    // Members side by side, one thread each; each finished one is
    // checkpointed.
    Progress progress(tc.progress, M);
    std::mutex mu;
    run_side_by_side(static_cast<int64_t>(untrained.size()), threads, [&](int64_t i) {
      const int64_t m = untrained[static_cast<size_t>(i)];
      const auto [epochs, best_val] =
          train_member(*models[static_cast<size_t>(m)], data, tc, schedule, member_seed(config_.seed, m), finetune,
                       [&](const std::string& text) { progress.update(m, text); });
      {
        std::lock_guard<std::mutex> lock(mu);
        members[static_cast<size_t>(m)] = models[static_cast<size_t>(m)];
        report_.epochs[static_cast<size_t>(m)] = epochs;
        report_.best_val_mae[static_cast<size_t>(m)] = best_val;
        if (!tc.checkpoint.empty()) write_archive(tc.checkpoint, members, fingerprint);
      }
      progress.finish(m);
    });
    members_ = members;
    if (n_val > 0) {
      recalibrate(data.val_graphs, cond.defined() ? cond.index_select(0, val_idx) : torch::Tensor(),
                  y.index_select(0, val_idx));
    } else {
      variance_scale_ = 1.0;
      member_variance_scale_.assign(static_cast<size_t>(M), 1.0);
    }
  }
  report_.stopping = folds ? "folds" : "holdout";
  report_.variance_scale = variance_scale_;
  report_.member_variance_scale = member_variance_scale_;
  report_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!tc.checkpoint.empty()) std::remove(tc.checkpoint.c_str());  // finished: the model is what to keep
  return report_;
}

void GnnEnsemble::fit_folds(const TrainData& all, const torch::Tensor& order, const Schedule& schedule,
                            const Members& models, int64_t threads, const FinetuneConfig* finetune,
                            const torch::Tensor& y, const torch::Tensor& cond) {
  const auto& tc = config_.train;
  const int64_t M = config_.n_members, n = order.numel();
  // Row order[i] goes to fold i mod M.
  auto fold_of = torch::empty({n}, torch::kInt64);
  fold_of.index_put_({order}, torch::arange(n, torch::kInt64).remainder(M));
  std::vector<TrainData> data(static_cast<size_t>(M), all);
  std::vector<torch::Tensor> held(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    auto& d = data[static_cast<size_t>(m)];
    held[static_cast<size_t>(m)] = torch::nonzero(fold_of == m).squeeze(1);
    d.train_idx = torch::nonzero(fold_of != m).squeeze(1);
    std::tie(d.val_graphs, d.val_cond) = d.batch(held[static_cast<size_t>(m)]);
    d.y_val = d.ys.index_select(0, held[static_cast<size_t>(m)]);
  }
  std::vector<std::unique_ptr<MemberTrainer>> trainers;
  for (int64_t m = 0; m < M; ++m)
    trainers.push_back(std::make_unique<MemberTrainer>(*models[static_cast<size_t>(m)], data[static_cast<size_t>(m)],
                                                       tc, schedule, member_seed(config_.seed, m), finetune));
  // Out-of-fold means and log variances (standardised) of the current
  // epoch, and of the best one.
  auto oof_mean = torch::zeros({n}, torch::kFloat64), oof_lv = torch::zeros({n}, torch::kFloat64);
  torch::Tensor best_mean, best_lv;
  double best = std::numeric_limits<double>::infinity();
  int64_t since_best = 0, best_epoch = 0;
  Progress progress(tc.progress, 1);
  while (trainers.front()->epochs_run() < schedule.max_epochs) {
    run_side_by_side(M, threads, [&](int64_t m) {
      trainers[static_cast<size_t>(m)]->train_epoch();
      auto out = trainers[static_cast<size_t>(m)]->validation_outputs();
      oof_mean.index_put_({held[static_cast<size_t>(m)]}, out.mean.to(torch::kFloat64));
      oof_lv.index_put_({held[static_cast<size_t>(m)]}, out.log_var.to(torch::kFloat64));
    });
    const double pooled = (oof_mean - all.ys.to(torch::kFloat64)).abs().mean().item<double>() * y_std_;
    const int64_t epoch = trainers.front()->epochs_run();
    if (pooled < best) {
      best = pooled;
      best_epoch = epoch;
      best_mean = oof_mean.clone();
      best_lv = oof_lv.clone();
      for (auto& t : trainers) t->keep_best();
      since_best = 0;
    } else if (++since_best >= schedule.patience) {
      break;
    }
    progress.update(0, str("epoch ", epoch, "/", schedule.max_epochs, " pooled out-of-fold MAE ",
                           std::setprecision(4), best, " (epoch ", best_epoch, ")"));
  }
  progress.finish(0);
  for (auto& t : trainers) t->restore_best();
  members_ = models;
  report_.ensemble_val_mae = best;
  const auto ys = all.ys.to(torch::kFloat64);
  variance_scale_ = 1.0;
  member_variance_scale_.assign(static_cast<size_t>(M), 1.0);
  for (int64_t m = 0; m < M; ++m) {
    const auto& h = held[static_cast<size_t>(m)];
    report_.epochs[static_cast<size_t>(m)] = trainers[static_cast<size_t>(m)]->epochs_run();
    auto r = best_mean.index_select(0, h) - ys.index_select(0, h);
    report_.best_val_mae[static_cast<size_t>(m)] = r.abs().mean().item<double>() * y_std_;
    if (config_.recalibrate)
      member_variance_scale_[static_cast<size_t>(m)] = std::clamp(
          (r.pow(2) / torch::exp(best_lv.index_select(0, h).clamp(-12.0, 12.0))).mean().item<double>(), 1e-3, 1e3);
  }
  if (config_.recalibrate) {
    // The ensemble's variance against the out-of-fold errors: each row's
    // error is that of one member that did not see it (conservative for the
    // mixture, whose mean is a little better than one member's).
    torch::Tensor means, vars;
    member_outputs(*all.graphs, cond, means, vars, nullptr);
    const auto var = mixture(means, vars, 1.0).variance.squeeze(1);
    const auto r = (best_mean - ys) * y_std_;
    variance_scale_ = std::clamp((r.pow(2) / var).mean().item<double>(), 1e-3, 1e3);
  }
}

void GnnEnsemble::standardise(const torch::Tensor& y, const torch::Tensor& cond, const torch::Tensor& train_idx) {
  auto y_train = y.index_select(0, train_idx);
  y_mean_ = y_train.mean().item<double>();
  y_std_ = train_idx.numel() > 1 ? y_train.std().item<double>() : 1.0;
  if (!(y_std_ > 0)) y_std_ = 1.0;
  if (cond.defined()) {
    auto ct = cond.index_select(0, train_idx);
    cond_mean_ = ct.mean(0);
    cond_std_ = ct.std(0, /*unbiased=*/true).nan_to_num(1.0);
    cond_std_ = torch::where(cond_std_ > 0, cond_std_, torch::ones_like(cond_std_));
  } else {
    cond_mean_ = cond_std_ = torch::Tensor();
  }
}

void GnnEnsemble::recalibrate(const GraphBatch& val_graphs, const torch::Tensor& val_cond, const torch::Tensor& yv) {
  const int64_t M = config_.n_members;
  variance_scale_ = 1.0;
  member_variance_scale_.assign(static_cast<size_t>(M), 1.0);
  // Every member's outputs on the validation rows, once: the ensemble and
  // each member alone are mixtures of their rows (S per member).
  torch::Tensor means, vars;
  member_outputs(val_graphs, val_cond, means, vars, nullptr);
  const int64_t S = means.size(0) / M;
  const auto post = mixture(means, vars, 1.0);
  report_.ensemble_val_mae = (post.mean.squeeze(1) - yv).abs().mean().item<double>();
  if (!config_.recalibrate) return;
  // The variance scale that maximises the validation likelihood.
  auto likeliest_scale = [&](const Posterior& p) {
    const double s = ((p.mean.squeeze(1) - yv).pow(2) / p.variance.squeeze(1)).mean().item<double>();
    return std::min(1e3, std::max(1e-3, s));
  };
  variance_scale_ = likeliest_scale(post);
  for (int64_t m = 0; m < M; ++m)
    member_variance_scale_[static_cast<size_t>(m)] =
        likeliest_scale(mixture(means.narrow(0, m * S, S), vars.narrow(0, m * S, S), 1.0));
}

void GnnEnsemble::member_outputs(const GraphBatch& graphs, const torch::Tensor& cond_in, torch::Tensor& means,
                                 torch::Tensor& vars, torch::Tensor* embedding, int64_t only_member) const {
  SOZAI_CHECK(fitted(), "GnnEnsemble: the ensemble has not been fitted (or loaded)");
  const int64_t n = graphs.num_graphs();
  SOZAI_CHECK(n >= 1, "GnnEnsemble: no graphs to predict");
  torch::Tensor cs;
  if (config_.model.condition_dim > 0) {
    SOZAI_CHECK(cond_in.defined() && cond_in.dim() == 2 && cond_in.size(0) == n &&
                    cond_in.size(1) == config_.model.condition_dim,
                "GnnEnsemble::predict: expected conditions [", n, ", ", config_.model.condition_dim, "], got ",
                cond_in.defined() ? sozai::str(cond_in.sizes()) : std::string("none"));
    cs = ((cond_in.to(torch::kCPU, torch::kFloat64) - cond_mean_) / cond_std_).to(torch::kFloat32);
  } else {
    SOZAI_CHECK(!cond_in.defined() || cond_in.numel() == 0,
                "GnnEnsemble::predict: conditions given, but the ensemble was fitted without them");
  }
  std::vector<int64_t> which;
  for (int64_t m = 0; m < static_cast<int64_t>(members_.size()); ++m)
    if (only_member < 0 || m == only_member) which.push_back(m);
  const int64_t S = embedding ? 1 : std::max<int64_t>(1, config_.mc_dropout_samples);
  const int64_t R = static_cast<int64_t>(which.size()) * S;
  means = torch::empty({R, n}, torch::kFloat64);
  vars = torch::empty({R, n}, torch::kFloat64);
  if (embedding) *embedding = torch::zeros({n, config_.model.hidden}, torch::kFloat64);

  torch::NoGradGuard no_grad;
  // MC dropout draws from LibTorch's global generator: seeded and held for
  // the whole prediction so that it repeats.
  static std::mutex mc_mutex;
  std::unique_lock<std::mutex> mc_lock(mc_mutex, std::defer_lock);
  if (S > 1) {
    mc_lock.lock();
    torch::manual_seed(config_.seed + 0x5eedULL);
  }
  const int64_t chunk = 512;
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t c = std::min(chunk, n - s);
    auto g = select_graphs(graphs, torch::arange(s, s + c, torch::kInt64));
    auto cc = cs.defined() ? cs.narrow(0, s, c) : torch::Tensor();
    for (size_t k = 0; k < which.size(); ++k) {
      GraphModel& model = *members_[static_cast<size_t>(which[k])];
      if (S > 1) set_dropout_active(model, true);
      for (int64_t d = 0; d < S; ++d) {
        const int64_t r = static_cast<int64_t>(k) * S + d;
        auto out = model.forward(g, cc);
        means[r].narrow(0, s, c).copy_(out.mean.to(torch::kFloat64) * y_std_ + y_mean_);
        vars[r].narrow(0, s, c).copy_(torch::exp(out.log_var.to(torch::kFloat64).clamp(-12.0, 12.0)) * y_std_ *
                                      y_std_);
        if (embedding)
          embedding->narrow(0, s, c).add_(out.embedding.to(torch::kFloat64) / static_cast<double>(which.size()));
      }
      if (S > 1) set_dropout_active(model, false);
    }
  }
}

Posterior GnnEnsemble::predict(const std::vector<std::string>& inputs, const torch::Tensor& conditions) const {
  return predict(featurize(inputs), conditions);
}

Posterior GnnEnsemble::predict(const GraphBatch& graphs, const torch::Tensor& cond_in,
                               torch::Tensor* members_out) const {
  torch::Tensor means, vars;
  member_outputs(graphs, cond_in, means, vars, nullptr);
  if (members_out) *members_out = means;
  return mixture(means, vars, variance_scale_);
}

Posterior GnnEnsemble::predict_member(int64_t m, const GraphBatch& graphs, const torch::Tensor& conditions) const {
  SOZAI_CHECK(m >= 0 && m < config_.n_members, "GnnEnsemble::predict_member: member ", m, " is not in [0, ",
              config_.n_members, ")");
  torch::Tensor means, vars;
  member_outputs(graphs, conditions, means, vars, nullptr, m);
  const double scale = static_cast<size_t>(m) < member_variance_scale_.size()
                           ? member_variance_scale_[static_cast<size_t>(m)]
                           : 1.0;
  return mixture(means, vars, scale);
}

Posterior GnnEnsemble::predict_member(int64_t m, const std::vector<std::string>& inputs,
                                      const torch::Tensor& conditions) const {
  return predict_member(m, featurize(inputs), conditions);
}

torch::Tensor GnnEnsemble::embed(const GraphBatch& graphs, const torch::Tensor& conditions) const {
  torch::Tensor means, vars, embedding;
  member_outputs(graphs, conditions, means, vars, &embedding);
  return embedding;
}

void GnnEnsemble::save(const std::string& path) const {
  SOZAI_CHECK(fitted(), "GnnEnsemble::save: nothing to save, the ensemble has not been fitted");
  write_archive(path, members_, "");
}

void GnnEnsemble::write_archive(const std::string& path, const Members& members, const std::string& fingerprint) const {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("config", c10::IValue(nlohmann::json(config_).dump()));
  archive.write("fingerprint", c10::IValue(fingerprint));
  archive.write("y_mean", torch::tensor(y_mean_, torch::kFloat64));
  archive.write("y_std", torch::tensor(y_std_, torch::kFloat64));
  archive.write("variance_scale", torch::tensor(variance_scale_, torch::kFloat64));
  archive.write("member_variance_scale", torch::tensor(member_variance_scale_.empty()
                                                           ? std::vector<double>(members.size(), 1.0)
                                                           : member_variance_scale_,
                                                       torch::kFloat64));
  if (cond_mean_.defined()) {
    archive.write("cond_mean", cond_mean_);
    archive.write("cond_std", cond_std_);
  }
  nlohmann::json done = nlohmann::json::array();
  for (size_t m = 0; m < members.size(); ++m) {
    if (!members[m]) continue;
    done.push_back({{"member", m},
                    {"epochs", m < report_.epochs.size() ? report_.epochs[m] : 0},
                    {"best_val_mae", m < report_.best_val_mae.size() ? report_.best_val_mae[m] : 0.0}});
    torch::serialize::OutputArchive sub;
    members[m]->save(sub);
    archive.write("member" + std::to_string(m), sub);
  }
  archive.write("members", c10::IValue(done.dump()));
  write_atomically(path, [&](const std::string& tmp) {
    try {
      archive.save_to(tmp);
    } catch (const c10::Error& e) {
      throw StorageError(str("GnnEnsemble::save: cannot write '", tmp, "': ", e.what_without_backtrace()));
    }
  });
}

namespace {
/// Reads an archive written by write_archive: the ensemble without members
/// plus its member list (index, epochs, best validation MAE).
struct Archive {
  torch::serialize::InputArchive in;
  nlohmann::json config, members;
  std::string fingerprint;
};

void open_archive(const std::string& path, Archive& a) {
  try {
    a.in.load_from(path);
  } catch (const c10::Error& e) {
    throw StorageError(str("GnnEnsemble::load: cannot read '", path, "' as a saved ensemble: ",
                           e.what_without_backtrace()));
  }
  c10::IValue v;
  if (!a.in.try_read("format", v) || !v.isString() || v.toStringRef() != kFormat)
    throw StorageError(str("GnnEnsemble::load: '", path, "' is not a sozai GNN ensemble"));
  a.in.read("config", v);
  a.config = nlohmann::json::parse(v.toStringRef());
  a.in.read("members", v);
  a.members = nlohmann::json::parse(v.toStringRef());
  a.in.read("fingerprint", v);
  a.fingerprint = v.toStringRef();
}
}  // namespace

GnnEnsemble::Members GnnEnsemble::resume(const std::string& path, const std::string& fingerprint) {
  Archive a;
  try {
    open_archive(path, a);
  } catch (const StorageError&) {
    return {};
  }
  if (a.fingerprint != fingerprint || a.config != nlohmann::json(config_)) return {};
  Members members(static_cast<size_t>(config_.n_members));
  for (const auto& d : a.members) {
    const size_t m = d.at("member");
    auto model = make_graph_model(config_.model);
    torch::serialize::InputArchive sub;
    a.in.read("member" + std::to_string(m), sub);
    model->load(sub);
    model->eval();
    members.at(m) = model;
    report_.epochs.at(m) = d.at("epochs");
    report_.best_val_mae.at(m) = d.at("best_val_mae");
  }
  return members;
}

GnnEnsemble GnnEnsemble::load(const std::string& path) {
  Archive a;
  open_archive(path, a);
  GnnEnsemble e(json_io::read_fields<GnnEnsembleConfig, StorageError>(a.config, str(path, ": config")));
  const int64_t M = e.config_.n_members;
  if (static_cast<int64_t>(a.members.size()) != M)
    throw StorageError(str("GnnEnsemble::load: '", path, "' is a training checkpoint with ", a.members.size(), " of ",
                           M, " members; finish it by fitting again with checkpoint='", path, "'"));
  torch::Tensor t;
  a.in.read("y_mean", t);
  e.y_mean_ = t.item<double>();
  a.in.read("y_std", t);
  e.y_std_ = t.item<double>();
  a.in.read("variance_scale", t);
  e.variance_scale_ = t.item<double>();
  a.in.read("member_variance_scale", t);
  e.member_variance_scale_ = std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  if (e.config_.model.condition_dim > 0) {
    a.in.read("cond_mean", e.cond_mean_);
    a.in.read("cond_std", e.cond_std_);
  }
  e.report_.variance_scale = e.variance_scale_;
  e.report_.member_variance_scale = e.member_variance_scale_;
  for (const auto& d : a.members) {
    const int64_t m = d.at("member");
    auto model = make_graph_model(e.config_.model);
    torch::serialize::InputArchive sub;
    a.in.read("member" + std::to_string(m), sub);
    model->load(sub);
    model->eval();
    e.members_.push_back(model);
    e.report_.epochs.push_back(d.at("epochs"));
    e.report_.best_val_mae.push_back(d.at("best_val_mae"));
  }
  return e;
}

}  // namespace gnn
}  // namespace sozai
