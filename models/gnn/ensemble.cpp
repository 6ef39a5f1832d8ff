// Deep ensembles of graph networks: featurisation by kind, training
// (AdamW, cosine schedule, early stopping, clipping, mean-variance loss),
// mixture prediction, recalibration and one-file save/load.
#include <sozai/core/common/error.h>
#include <sozai/datasets/composition.h>
#include <sozai/datasets/crystal_graph.h>
#include <sozai/datasets/polymer.h>
#include <sozai/models/gnn/ensemble.h>

#include <nlohmann/json.hpp>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>

namespace sozai {
namespace gnn {
namespace {

using Clock = std::chrono::steady_clock;

/// Parameters and buffers (BatchNorm statistics) of a model, copied.
std::map<std::string, torch::Tensor> snapshot(const GraphModel& m) {
  std::map<std::string, torch::Tensor> s;
  for (const auto& p : m.named_parameters()) s[p.key()] = p.value().detach().clone();
  for (const auto& b : m.named_buffers()) s["buffer:" + b.key()] = b.value().detach().clone();
  return s;
}

void restore(GraphModel& m, const std::map<std::string, torch::Tensor>& s) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters()) p.value().copy_(s.at(p.key()));
  for (auto& b : m.named_buffers()) b.value().copy_(s.at("buffer:" + b.key()));
}

/// Gaussian negative log-likelihood per row (constant dropped).
torch::Tensor gaussian_nll(const GraphOutput& out, const torch::Tensor& y) {
  auto log_var = out.log_var.clamp(-12.0, 12.0);
  return 0.5 * (log_var + (y - out.mean).pow(2) * torch::exp(-log_var));
}

nlohmann::json config_json(const GnnEnsembleConfig& c) {
  const auto& m = c.model;
  const auto& t = c.train;
  return {{"kind", c.kind},
          {"n_members", c.n_members},
          {"seed", c.seed},
          {"cutoff", c.cutoff},
          {"max_neighbors", c.max_neighbors},
          {"recalibrate", c.recalibrate},
          {"model",
           {{"kind", m.kind}, {"node_dim", m.node_dim}, {"edge_dim", m.edge_dim}, {"condition_dim", m.condition_dim},
            {"hidden", m.hidden}, {"layers", m.layers}, {"head_hidden", m.head_hidden}, {"dropout", m.dropout}}},
          {"train",
           {{"max_epochs", t.max_epochs}, {"batch_size", t.batch_size}, {"lr", t.lr},
            {"weight_decay", t.weight_decay}, {"schedule", t.schedule}, {"val_fraction", t.val_fraction},
            {"patience", t.patience}, {"clip_norm", t.clip_norm}, {"warmup_mse_epochs", t.warmup_mse_epochs}}}};
}

GnnEnsembleConfig config_from_json(const nlohmann::json& j) {
  GnnEnsembleConfig c;
  c.kind = j.at("kind");
  c.n_members = j.at("n_members");
  c.seed = j.at("seed");
  c.cutoff = j.at("cutoff");
  c.max_neighbors = j.at("max_neighbors");
  c.recalibrate = j.at("recalibrate");
  const auto& m = j.at("model");
  c.model.kind = m.at("kind");
  c.model.node_dim = m.at("node_dim");
  c.model.edge_dim = m.at("edge_dim");
  c.model.condition_dim = m.at("condition_dim");
  c.model.hidden = m.at("hidden");
  c.model.layers = m.at("layers");
  c.model.head_hidden = m.at("head_hidden");
  c.model.dropout = m.at("dropout");
  const auto& t = j.at("train");
  c.train.max_epochs = t.at("max_epochs");
  c.train.batch_size = t.at("batch_size");
  c.train.lr = t.at("lr");
  c.train.weight_decay = t.at("weight_decay");
  c.train.schedule = t.at("schedule");
  c.train.val_fraction = t.at("val_fraction");
  c.train.patience = t.at("patience");
  c.train.clip_norm = t.at("clip_norm");
  c.train.warmup_mse_epochs = t.at("warmup_mse_epochs");
  return c;
}

}  // namespace

GnnEnsemble::GnnEnsemble(GnnEnsembleConfig config) : config_(std::move(config)) {
  const auto& k = config_.kind;
  SOZAI_CHECK(k == "polymer" || k == "crystal" || k == "composition",
              "GnnEnsemble: kind must be polymer, crystal or composition, got '", k, "'");
  SOZAI_CHECK(config_.n_members >= 1, "GnnEnsemble: n_members must be >= 1, got ", config_.n_members);
  const auto& t = config_.train;
  SOZAI_CHECK(t.max_epochs >= 1 && t.batch_size >= 1 && t.lr > 0 && t.weight_decay >= 0 && t.patience >= 1,
              "GnnEnsemble: training needs max_epochs, batch_size, patience >= 1, lr > 0, weight_decay >= 0");
  SOZAI_CHECK(t.val_fraction >= 0 && t.val_fraction < 0.5, "GnnEnsemble: val_fraction must be in [0, 0.5), got ",
              t.val_fraction);
  SOZAI_CHECK(t.schedule == "cosine" || t.schedule == "constant", "GnnEnsemble: schedule must be cosine or constant, got '",
              t.schedule, "'");
  config_.model.kind = k;
}

GraphBatch GnnEnsemble::featurize(const std::vector<std::string>& inputs) const {
  SOZAI_CHECK(!inputs.empty(), "GnnEnsemble: no inputs given");
  if (config_.kind == "polymer") return polymer_graphs(inputs);
  if (config_.kind == "crystal") {
    CrystalGraphConfig c;
    c.cutoff = config_.cutoff;
    c.max_neighbors = config_.max_neighbors;
    return crystal_graphs(inputs, c);
  }
  std::vector<MaterialGraph> graphs;
  graphs.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    try {
      graphs.push_back(composition_graph(parse_formula(inputs[i])));
    } catch (const InputError& e) {
      throw InputError(str("GnnEnsemble: input ", i, ": ", e.what()));
    }
  }
  return batch_graphs(graphs);
}

TrainReport GnnEnsemble::fit(const std::vector<std::string>& inputs, const torch::Tensor& y,
                             const torch::Tensor& conditions) {
  return fit(featurize(inputs), y, conditions);
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
  auto& mc = config_.model;
  mc.node_dim = graphs.x.size(1);
  mc.edge_dim = graphs.edge_attr.defined() ? graphs.edge_attr.size(1) : 0;
  mc.condition_dim = cond.defined() ? cond.size(1) : 0;
  const auto& tc = config_.train;

  // One validation split for every member: early stopping and the ensemble's
  // recalibration see the same held-out rows.
  torch::manual_seed(config_.seed);
  auto order = torch::randperm(n, torch::kInt64);
  const int64_t n_val = n >= 10 && tc.val_fraction > 0
                            ? std::max<int64_t>(2, static_cast<int64_t>(std::llround(tc.val_fraction * n)))
                            : 0;
  auto val_idx = order.narrow(0, 0, n_val);
  auto train_idx = order.narrow(0, n_val, n - n_val);
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
  const auto ys = ((y - y_mean_) / y_std_).to(torch::kFloat32);
  const auto cs = cond.defined() ? ((cond - cond_mean_) / cond_std_).to(torch::kFloat32) : torch::Tensor();
  auto batch_of = [&](const torch::Tensor& idx) {
    return std::make_pair(select_graphs(graphs, idx), cs.defined() ? cs.index_select(0, idx) : torch::Tensor());
  };

  members_.clear();
  report_ = TrainReport{};
  const auto [val_graphs, val_cond] = n_val > 0 ? batch_of(val_idx) : std::make_pair(GraphBatch{}, torch::Tensor());
  const auto y_val = n_val > 0 ? ys.index_select(0, val_idx) : torch::Tensor();
  for (int64_t m = 0; m < config_.n_members; ++m) {
    // Each member: its own initial weights and data order.
    torch::manual_seed(config_.seed * 1000003ULL + static_cast<uint64_t>(m) + 1);
    auto model = make_graph_model(mc);
    torch::optim::AdamW opt(model->parameters(),
                            torch::optim::AdamWOptions(tc.lr).weight_decay(tc.weight_decay));
    std::map<std::string, torch::Tensor> best;
    double best_val = std::numeric_limits<double>::infinity();
    int64_t since_best = 0, epoch = 0;
    for (epoch = 0; epoch < tc.max_epochs; ++epoch) {
      const double lr = tc.schedule == "cosine"
                            ? tc.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * epoch / tc.max_epochs)))
                            : tc.lr;
      for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      model->train();
      auto perm = train_idx.index_select(0, torch::randperm(train_idx.numel(), torch::kInt64));
      double loss_sum = 0;
      int64_t batches = 0;
      for (int64_t s = 0; s < perm.numel(); s += tc.batch_size) {
        auto idx = perm.narrow(0, s, std::min(tc.batch_size, perm.numel() - s));
        if (idx.numel() < 2 && perm.numel() >= 2) continue;  // BatchNorm needs 2 rows
        auto [g, c] = batch_of(idx);
        auto target = ys.index_select(0, idx);
        auto out = model->forward(g, c);
        auto loss = epoch < tc.warmup_mse_epochs ? (out.mean - target).pow(2).mean()
                                                 : gaussian_nll(out, target).mean();
        opt.zero_grad();
        loss.backward();
        if (tc.clip_norm > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), tc.clip_norm);
        opt.step();
        loss_sum += loss.item<double>();
        ++batches;
      }
      double val_mae = loss_sum / std::max<int64_t>(batches, 1);  // no validation rows: training loss
      if (n_val > 0) {
        torch::NoGradGuard no_grad;
        model->eval();
        val_mae = (model->forward(val_graphs, val_cond).mean - y_val).abs().mean().item<double>() * y_std_;
      }
      if (val_mae < best_val) {
        best_val = val_mae;
        best = snapshot(*model);
        since_best = 0;
      } else if (++since_best >= tc.patience) {
        ++epoch;
        break;
      }
      if (tc.progress) {
        std::cerr << "\r[sozai gnn] member " << (m + 1) << "/" << config_.n_members << " epoch " << (epoch + 1) << "/"
                  << tc.max_epochs << " loss " << std::setprecision(4) << loss_sum / std::max<int64_t>(batches, 1)
                  << (n_val > 0 ? " val MAE " : " train loss ") << val_mae << " (best " << best_val << ")   "
                  << std::flush;
      }
    }
    if (tc.progress) std::cerr << "\n";
    restore(*model, best);
    model->eval();
    members_.push_back(model);
    report_.epochs.push_back(epoch);
    report_.best_val_mae.push_back(best_val);
  }

  variance_scale_ = 1.0;
  if (n_val > 0) {
    auto post = predict(val_graphs, n_val > 0 && cond.defined() ? cond.index_select(0, val_idx) : torch::Tensor());
    auto yv = y.index_select(0, val_idx);
    report_.ensemble_val_mae = (post.mean.squeeze(1) - yv).abs().mean().item<double>();
    if (config_.recalibrate) {
      // The variance scale that maximises the validation likelihood.
      const double s = ((post.mean.squeeze(1) - yv).pow(2) / post.variance.squeeze(1)).mean().item<double>();
      variance_scale_ = std::min(1e3, std::max(1e-3, s));
    }
  }
  report_.variance_scale = variance_scale_;
  report_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report_;
}

Posterior GnnEnsemble::predict(const std::vector<std::string>& inputs, const torch::Tensor& conditions) const {
  return predict(featurize(inputs), conditions);
}

Posterior GnnEnsemble::predict(const GraphBatch& graphs, const torch::Tensor& cond_in,
                               torch::Tensor* members_out) const {
  SOZAI_CHECK(fitted(), "GnnEnsemble::predict: the ensemble has not been fitted (or loaded)");
  const int64_t n = graphs.num_graphs();
  torch::Tensor cs;
  if (config_.model.condition_dim > 0) {
    SOZAI_CHECK(cond_in.defined() && cond_in.dim() == 2 && cond_in.size(0) == n &&
                    cond_in.size(1) == config_.model.condition_dim,
                "GnnEnsemble::predict: expected conditions [", n, ", ", config_.model.condition_dim, "]");
    cs = ((cond_in.to(torch::kCPU, torch::kFloat64) - cond_mean_) / cond_std_).to(torch::kFloat32);
  } else {
    SOZAI_CHECK(!cond_in.defined() || cond_in.numel() == 0,
                "GnnEnsemble::predict: conditions given, but the ensemble was fitted without them");
  }
  torch::NoGradGuard no_grad;
  const int64_t M = static_cast<int64_t>(members_.size());
  auto means = torch::empty({M, n}, torch::kFloat64), vars = torch::empty({M, n}, torch::kFloat64);
  const int64_t chunk = 512;
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t c = std::min(chunk, n - s);
    auto idx = torch::arange(s, s + c, torch::kInt64);
    auto g = select_graphs(graphs, idx);
    auto cc = cs.defined() ? cs.narrow(0, s, c) : torch::Tensor();
    for (int64_t m = 0; m < M; ++m) {
      auto out = members_[static_cast<size_t>(m)]->forward(g, cc);
      means[m].narrow(0, s, c).copy_(out.mean.to(torch::kFloat64) * y_std_ + y_mean_);
      vars[m].narrow(0, s, c).copy_(torch::exp(out.log_var.to(torch::kFloat64).clamp(-12.0, 12.0)) * y_std_ * y_std_);
    }
  }
  auto mean = means.mean(0);
  // Mixture of the members' Gaussians: aleatoric (their variances) plus
  // epistemic (the spread of their means).
  auto var = (vars + means.pow(2)).mean(0) - mean.pow(2);
  var = var.clamp_min(1e-12) * variance_scale_;
  if (members_out) *members_out = means;
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

void GnnEnsemble::save(const std::string& path) const {
  SOZAI_CHECK(fitted(), "GnnEnsemble::save: nothing to save, the ensemble has not been fitted");
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("sozai-gnn-ensemble-1")));
  archive.write("config", c10::IValue(config_json(config_).dump()));
  archive.write("y_mean", torch::tensor(y_mean_, torch::kFloat64));
  archive.write("y_std", torch::tensor(y_std_, torch::kFloat64));
  archive.write("variance_scale", torch::tensor(variance_scale_, torch::kFloat64));
  if (cond_mean_.defined()) {
    archive.write("cond_mean", cond_mean_);
    archive.write("cond_std", cond_std_);
  }
  for (size_t m = 0; m < members_.size(); ++m) {
    torch::serialize::OutputArchive sub;
    members_[m]->save(sub);
    archive.write("member" + std::to_string(m), sub);
  }
  const std::string tmp = path + ".tmp";
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    throw StorageError(str("GnnEnsemble::save: cannot write '", tmp, "': ", e.what_without_backtrace()));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw StorageError(str("GnnEnsemble::save: cannot move '", tmp, "' to '", path, "'"));
}

GnnEnsemble GnnEnsemble::load(const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw StorageError(str("GnnEnsemble::load: cannot read '", path, "' as a saved ensemble: ",
                           e.what_without_backtrace()));
  }
  c10::IValue format, config;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != "sozai-gnn-ensemble-1")
    throw StorageError(str("GnnEnsemble::load: '", path, "' is not a sozai GNN ensemble"));
  archive.read("config", config);
  GnnEnsemble e(config_from_json(nlohmann::json::parse(config.toStringRef())));
  torch::Tensor t;
  archive.read("y_mean", t);
  e.y_mean_ = t.item<double>();
  archive.read("y_std", t);
  e.y_std_ = t.item<double>();
  archive.read("variance_scale", t);
  e.variance_scale_ = t.item<double>();
  if (e.config_.model.condition_dim > 0) {
    archive.read("cond_mean", e.cond_mean_);
    archive.read("cond_std", e.cond_std_);
  }
  for (int64_t m = 0; m < e.config_.n_members; ++m) {
    auto model = make_graph_model(e.config_.model);
    torch::serialize::InputArchive sub;
    archive.read("member" + std::to_string(m), sub);
    model->load(sub);
    model->eval();
    e.members_.push_back(model);
  }
  return e;
}

}  // namespace gnn
}  // namespace sozai
