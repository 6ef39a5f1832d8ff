// Training the members of a GnnEnsemble (see train.h).
#include "models/gnn/train.h"
#include "common/blas.h"
#include "common/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>


#include <algorithm>
#include <atomic>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

namespace sozai {
namespace gnn {

namespace {

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

}  // namespace

std::pair<GraphBatch, torch::Tensor> TrainData::batch(const torch::Tensor& idx) const {
  return std::make_pair(select_graphs(*graphs, idx), cs.defined() ? cs.index_select(0, idx) : torch::Tensor());
}

Schedule training_schedule(const TrainConfig& tc, int64_t n_train) {
  Schedule s;
  const int64_t batches_per_epoch = (n_train + tc.batch_size - 1) / tc.batch_size;
  s.max_epochs = tc.max_epochs > 0
                     ? tc.max_epochs
                     : std::min<int64_t>(200, std::max<int64_t>(40, (4000 + batches_per_epoch - 1) / batches_per_epoch));
  s.patience = tc.patience > 0 ? tc.patience : std::max<int64_t>(10, s.max_epochs / 4);
  return s;
}

MemberTrainer::MemberTrainer(GraphModel& model, const TrainData& data, const TrainConfig& tc,
                             const Schedule& schedule, uint64_t seed, const FinetuneConfig* finetune)
    : model_(model), data_(data), tc_(tc), schedule_(schedule), gen_(at::detail::createCPUGenerator(seed)) {
  const bool tuned = finetune && !finetune->pretrained.empty();
  auto options = torch::optim::AdamWOptions(tc.lr).weight_decay(tc.weight_decay);
  if (!tuned) {
    opt_ = std::make_unique<torch::optim::AdamW>(model.parameters(), options);
    group_scale_ = {1.0};
    return;
  }
  for (const auto& p : model.named_parameters())
    (p.key().rfind("head.", 0) == 0 ? head_ : trunk_).push_back(p.value());
  freeze_epochs_ = finetune->freeze_epochs;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(trunk_, std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(head_, std::make_unique<torch::optim::AdamWOptions>(options));
  opt_ = std::make_unique<torch::optim::AdamW>(std::move(groups), options);
  group_scale_ = {finetune->trunk_lr_scale, 1.0};
}

double MemberTrainer::train_epoch() {
  const int64_t epoch = epoch_++;
  const int64_t max_epochs = schedule_.max_epochs;
  const double lr = tc_.schedule == "cosine" ? tc_.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * epoch / max_epochs)))
                                             : tc_.lr;
  auto& groups = opt_->param_groups();
  for (size_t k = 0; k < groups.size(); ++k)
    static_cast<torch::optim::AdamWOptions&>(groups[k].options()).lr(lr * group_scale_[k]);
  // The trunk learns only once the new head has settled on it.
  const bool frozen = epoch < freeze_epochs_;
  for (auto& p : trunk_) p.requires_grad_(!frozen);
  model_.train();
  const auto& train_idx = data_.train_idx;
  auto perm = train_idx.index_select(0, torch::randperm(train_idx.numel(), gen_, torch::kInt64));
  double loss_sum = 0;
  int64_t batches = 0;
  for (int64_t s = 0; s < perm.numel(); s += tc_.batch_size) {
    auto idx = perm.narrow(0, s, std::min(tc_.batch_size, perm.numel() - s));
    if (idx.numel() < 2 && perm.numel() >= 2) continue;  // BatchNorm needs 2 rows
    auto [g, c] = data_.batch(idx);
    auto target = data_.ys.index_select(0, idx);
    auto out = model_.forward(g, c);
    auto loss = epoch < tc_.warmup_mse_epochs ? (out.mean - target).pow(2).mean() : gaussian_nll(out, target).mean();
    if (proximal_mu_ > 0) {
      const auto params = model_.parameters();
      auto prox = torch::zeros({}, loss.options());
      for (size_t k = 0; k < params.size(); ++k) prox = prox + (params[k] - proximal_ref_[k]).pow(2).sum();
      loss = loss + 0.5 * proximal_mu_ * prox;
    }
    opt_->zero_grad();
    loss.backward();
    if (tc_.clip_norm > 0) torch::nn::utils::clip_grad_norm_(model_.parameters(), tc_.clip_norm);
    opt_->step();
    loss_sum += loss.item<double>();
    ++batches;
  }
  if (frozen)
    for (auto& p : trunk_) p.requires_grad_(true);
  return loss_sum / std::max<int64_t>(batches, 1);
}

void MemberTrainer::set_proximal(double mu, std::vector<torch::Tensor> reference) {
  SOZAI_CHECK(std::isfinite(mu) && mu >= 0, "MemberTrainer::set_proximal: mu must be >= 0, got ", mu);
  const auto params = model_.parameters();
  if (mu > 0) {
    SOZAI_CHECK(reference.size() == params.size(), "MemberTrainer::set_proximal: ", reference.size(),
                " reference tensors for ", params.size(), " parameters");
    for (size_t k = 0; k < params.size(); ++k) {
      SOZAI_CHECK(reference[k].sizes() == params[k].sizes(), "MemberTrainer::set_proximal: reference ", k, " has shape ",
                  reference[k].sizes(), ", the parameter ", params[k].sizes());
      reference[k] = reference[k].detach().to(params[k].options());
    }
  }
  proximal_mu_ = mu;
  proximal_ref_ = mu > 0 ? std::move(reference) : std::vector<torch::Tensor>{};
}

GraphOutput MemberTrainer::validation_outputs() {
  torch::NoGradGuard no_grad;
  model_.eval();
  return model_.forward(data_.val_graphs, data_.val_cond);
}

double MemberTrainer::validation_mae() {
  return (validation_outputs().mean - data_.y_val).abs().mean().item<double>() * data_.y_std;
}

void MemberTrainer::save(torch::serialize::OutputArchive& a) {
  torch::serialize::OutputArchive o;
  opt_->save(o);
  a.write("optimizer", o);
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    state = gen_.get_state();
  }
  a.write("generator", state);
  a.write("epoch", c10::IValue(epoch_));
}

void MemberTrainer::load(torch::serialize::InputArchive& a) {
  torch::serialize::InputArchive o;
  a.read("optimizer", o);
  opt_->load(o);
  torch::Tensor state;
  a.read("generator", state);
  {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    gen_.set_state(state);
  }
  c10::IValue epoch;
  a.read("epoch", epoch);
  epoch_ = epoch.toInt();
}

void MemberTrainer::keep_best() { best_ = snapshot(model_); }

void MemberTrainer::restore_best() {
  if (!best_.empty()) restore(model_, best_);
  model_.eval();
}

std::pair<int64_t, double> train_member(GraphModel& model, const TrainData& data, const TrainConfig& tc,
                                        const Schedule& schedule, uint64_t seed, const FinetuneConfig* finetune,
                                        const std::function<void(const std::string&)>& status) {
  MemberTrainer trainer(model, data, tc, schedule, seed, finetune);
  const int64_t max_epochs = schedule.max_epochs;
  double best_val = std::numeric_limits<double>::infinity();
  int64_t since_best = 0;
  while (trainer.epochs_run() < max_epochs) {
    const double train_loss = trainer.train_epoch();
    const double val_mae = data.has_validation() ? trainer.validation_mae() : train_loss;
    if (val_mae < best_val) {
      best_val = val_mae;
      trainer.keep_best();
      since_best = 0;
    } else if (++since_best >= schedule.patience) {
      break;
    }
    status(str("epoch ", trainer.epochs_run(), "/", max_epochs, " loss ", std::setprecision(4), train_loss,
               data.has_validation() ? " val MAE " : " train loss ", best_val));
  }
  trainer.restore_best();
  return {trainer.epochs_run(), best_val};
}

void run_side_by_side(int64_t n, int64_t threads, const std::function<void(int64_t)>& job) {
  threads = std::max<int64_t>(1, std::min(threads, n));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
  auto worker = [&]() {
    for (int64_t i = next++; i < n && !failed; i = next++) {
      try {
        job(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  // BLAS runs on one thread also when the members train one after another:
  // a multi-threaded OpenBLAS splits some products along their sums (seen
  // on AMD EPYC), and a member trained alone would then differ in the last
  // bits from the same member trained beside others.
  {
    ScopedSingleThreadBlas blas(true);
    std::vector<std::thread> pool;
    for (int64_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);
}

Progress::~Progress() {
  if (on_) std::cerr << "\n";
}

void Progress::update(int64_t m, const std::string& status) {
  if (!on_) return;
  std::lock_guard<std::mutex> lock(mu_);
  status_[m] = status;
  print();
}

void Progress::finish(int64_t m) {
  if (!on_) return;
  std::lock_guard<std::mutex> lock(mu_);
  status_.erase(m);
  ++done_;
  print();
}

void Progress::print() {
  std::ostringstream line;
  line << "\r[sozai gnn] " << done_ << "/" << members_ << " members done";
  for (const auto& [m, s] : status_) line << " | member " << (m + 1) << " " << s;
  std::string text = line.str();
  const size_t width = text.size();
  if (width < last_width_) text.append(last_width_ - width, ' ');
  last_width_ = width;
  std::cerr << text << std::flush;
}

}  // namespace gnn
}  // namespace sozai
