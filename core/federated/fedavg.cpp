#include "core/federated/fedavg.h"

#include "common/error.h"
#include "core/federated/secure_aggregation.h"
#include "datasets/graph.h"
#include "models/gnn/train.h"

#include <torch/nn/module.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

namespace sozai {
namespace federated {

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kRowsBound = 1e6;  // public bound on one party's rows

/// Every floating tensor of a member (parameters, then floating buffers
/// such as BatchNorm's running statistics), in a fixed order.
std::vector<torch::Tensor> state_of(gnn::GraphModel& m) {
  std::vector<torch::Tensor> out;
  for (auto& p : m.named_parameters()) out.push_back(p.value());
  for (auto& b : m.named_buffers())
    if (b.value().is_floating_point()) out.push_back(b.value());
  return out;
}

int64_t state_size(gnn::GraphModel& m) {
  int64_t n = 0;
  for (auto& t : state_of(m)) n += t.numel();
  return n;
}

void copy_state(gnn::GraphModel& from, gnn::GraphModel& to) {
  torch::NoGradGuard no_grad;
  auto a = state_of(from), b = state_of(to);
  for (size_t i = 0; i < a.size(); ++i) b[i].copy_(a[i]);
}

/// The smallest power of 2 at least max|x| (1 for an empty or zero tensor): its exponent is what a party reveals.
double power_bound(const torch::Tensor& x) {
  const double m = x.numel() ? x.abs().max().item<double>() : 0.0;
  return m > 0 ? std::pow(2.0, std::ceil(std::log2(m))) : 1.0;
}

/// Sums the parties' vectors as the configuration says: secure aggregation,
/// or in the clear (the coordinator then receives the float32 values).
struct Aggregator {
  const FederatedConfig& config;
  FederatedLog& log;
  int64_t round = 0;

  std::vector<double> sum(const std::vector<std::vector<double>>& vectors, double clip) {
    const int n = static_cast<int>(vectors.size());
    std::vector<uint8_t>* transcript = config.keep_messages ? &log.coordinator_received : nullptr;
    if (config.secure) {
      const int t = config.threshold > 0 ? config.threshold : std::max(1, n - 1);
      auto r = secure_sum(vectors, t, clip, {}, round++, transcript);
      log.coordinator_bytes += r.coordinator_bytes;
      log.max_quantisation_error = std::max(log.max_quantisation_error, r.max_quantisation_error);
      return r.sum;
    }
    std::vector<double> total(vectors.at(0).size(), 0.0);
    for (const auto& v : vectors) {
      std::vector<float> wire(v.begin(), v.end());  // what a party sends in the clear
      if (transcript)
        transcript->insert(transcript->end(), reinterpret_cast<const uint8_t*>(wire.data()),
                           reinterpret_cast<const uint8_t*>(wire.data()) + 4 * wire.size());
      log.coordinator_bytes += 4 * static_cast<int64_t>(wire.size());
      for (size_t i = 0; i < v.size(); ++i) total[i] += wire[i];
    }
    ++round;
    return total;
  }
};

struct Party {
  GraphBatch graphs;
  torch::Tensor y, cond;  // float64, original units
  torch::Tensor train_idx, calib_idx;
  gnn::TrainData data;
  std::unique_ptr<gnn::GnnEnsemble> local;
  std::vector<std::unique_ptr<gnn::MemberTrainer>> trainers;
};

}  // namespace

gnn::GnnEnsemble federated_fit(const gnn::GnnEnsembleConfig& like, const std::vector<PartyData>& parties_in,
                               const FederatedConfig& config, FederatedLog* log_out) {
  const auto P = static_cast<int64_t>(parties_in.size());
  SOZAI_CHECK(P >= 2 && P <= 255, "federated_fit: needs 2..255 parties, got ", P);
  SOZAI_CHECK(config.rounds >= 1 && config.local_epochs >= 1, "federated_fit: rounds and local_epochs must be >= 1, got ",
              config.rounds, " and ", config.local_epochs);
  SOZAI_CHECK(std::isfinite(config.proximal_mu) && config.proximal_mu >= 0, "federated_fit: proximal_mu must be >= 0, got ",
              config.proximal_mu);
  SOZAI_CHECK(config.calibration_fraction >= 0 && config.calibration_fraction < 0.5,
              "federated_fit: calibration_fraction must be in [0, 0.5), got ", config.calibration_fraction);
  FederatedLog local_log;
  FederatedLog& log = log_out ? *log_out : local_log;
  log = FederatedLog{};
  Aggregator agg{config, log};

  gnn::GnnEnsemble global(like);
  // Each party featurises and checks its own rows.
  std::deque<Party> parties;
  int64_t cdim = -1;
  for (int64_t i = 0; i < P; ++i) {
    const auto& d = parties_in[static_cast<size_t>(i)];
    const auto n = static_cast<int64_t>(d.inputs.size());
    SOZAI_CHECK(n >= 2, "federated_fit: party ", i + 1, " holds ", n, " rows; every party needs at least 2");
    SOZAI_CHECK(d.y.defined() && d.y.numel() == n, "federated_fit: party ", i + 1, " has ", n, " inputs but ",
                d.y.defined() ? d.y.numel() : 0, " targets");
    Party p;
    p.y = d.y.reshape({n}).to(torch::kCPU, torch::kFloat64);
    SOZAI_CHECK(torch::isfinite(p.y).all().item<bool>(), "federated_fit: party ", i + 1, "'s targets hold NaN or infinity");
    const int64_t c = d.conditions.defined() && d.conditions.numel() ? d.conditions.size(1) : 0;
    if (c) {
      SOZAI_CHECK(d.conditions.dim() == 2 && d.conditions.size(0) == n, "federated_fit: party ", i + 1,
                  "'s conditions must be [", n, ", C]");
      p.cond = d.conditions.to(torch::kCPU, torch::kFloat64);
      SOZAI_CHECK(torch::isfinite(p.cond).all().item<bool>(), "federated_fit: party ", i + 1,
                  "'s conditions hold NaN or infinity");
    }
    SOZAI_CHECK(cdim < 0 || cdim == c, "federated_fit: party ", i + 1, " has ", c, " condition column(s), party 1 has ",
                cdim);
    cdim = c;
    try {
      p.graphs = global.featurize(d.inputs);
    } catch (const InputError& e) {
      throw InputError(str("federated_fit: party ", i + 1, ": ", e.what()));
    }
    // Calibration rows: a fixed share, drawn from the ensemble's seed and the party.
    torch::manual_seed(like.seed * 7919ULL + static_cast<uint64_t>(i) + 1);
    auto order = torch::randperm(n, torch::kInt64);
    const int64_t n_cal = n >= 10 ? static_cast<int64_t>(std::llround(config.calibration_fraction * n)) : 0;
    p.calib_idx = order.narrow(0, 0, n_cal);
    p.train_idx = order.narrow(0, n_cal, n - n_cal);
    parties.push_back(std::move(p));
  }

  // Normalisation by secure sums: [rows, sum y, sum y^2, sum c_j, sum c_j^2] over training rows.
  double y_bound = 1.0;
  std::vector<double> c_bound(static_cast<size_t>(cdim), 1.0);
  for (auto& p : parties) {  // each party reveals only these exponents
    y_bound = std::max(y_bound, power_bound(p.y.index_select(0, p.train_idx)));
    for (int64_t j = 0; j < cdim; ++j)
      c_bound[j] = std::max(c_bound[j], power_bound(p.cond.index_select(0, p.train_idx).select(1, j)));
  }
  std::vector<std::vector<double>> stats;
  for (auto& p : parties) {
    auto yt = p.y.index_select(0, p.train_idx);
    std::vector<double> v{static_cast<double>(yt.numel()) / kRowsBound, yt.sum().item<double>() / (kRowsBound * y_bound),
                          yt.pow(2).sum().item<double>() / (kRowsBound * y_bound * y_bound)};
    for (int64_t j = 0; j < cdim; ++j) {
      auto cj = p.cond.index_select(0, p.train_idx).select(1, j);
      v.push_back(cj.sum().item<double>() / (kRowsBound * c_bound[j]));
      v.push_back(cj.pow(2).sum().item<double>() / (kRowsBound * c_bound[j] * c_bound[j]));
    }
    stats.push_back(std::move(v));
  }
  const auto s = agg.sum(stats, 1.0);
  const double N = std::round(s[0] * kRowsBound);
  SOZAI_CHECK(N >= 2, "federated_fit: fewer than 2 training rows over all parties");
  const double y_mean = s[1] * kRowsBound * y_bound / N;
  const double y_var = (s[2] * kRowsBound * y_bound * y_bound - N * y_mean * y_mean) / (N - 1);
  const double y_std = y_var > 0 ? std::sqrt(y_var) : 1.0;
  torch::Tensor c_mean, c_std;
  if (cdim > 0) {
    c_mean = torch::zeros({cdim}, torch::kFloat64);
    c_std = torch::ones({cdim}, torch::kFloat64);
    for (int64_t j = 0; j < cdim; ++j) {
      const double b = c_bound[j], m = s[3 + 2 * j] * kRowsBound * b / N;
      const double v = (s[4 + 2 * j] * kRowsBound * b * b - N * m * m) / (N - 1);
      c_mean[j] = m;
      c_std[j] = v > 0 ? std::sqrt(v) : 1.0;
    }
  }

  // The same initial members everywhere (drawn from like.seed).
  global.prepare_external(parties.front().graphs, cdim, y_mean, y_std, c_mean, c_std);
  const auto M = static_cast<int64_t>(global.members().size());
  gnn::Schedule schedule;
  schedule.max_epochs = config.rounds * config.local_epochs;
  schedule.patience = schedule.max_epochs + 1;
  const gnn::FinetuneConfig* finetune = like.finetune.pretrained.empty() ? nullptr : &like.finetune;
  int64_t i = 0;
  for (auto& p : parties) {
    p.local = std::make_unique<gnn::GnnEnsemble>(like);
    p.local->prepare_external(p.graphs, cdim, y_mean, y_std, c_mean, c_std);
    p.data.graphs = &p.graphs;
    p.data.train_idx = p.train_idx;
    p.data.ys = p.local->standardised_targets(p.y);
    p.data.cs = p.local->standardised_conditions(p.cond);
    p.data.y_std = y_std;
    for (int64_t m = 0; m < M; ++m)
      p.trainers.push_back(std::make_unique<gnn::MemberTrainer>(*p.local->members()[m], p.data, like.train, schedule,
                                                                like.seed * 1000003ULL + 31 * i + m + 1, finetune));
    ++i;
  }

  // Rounds: local epochs from the global weights, then the row-weighted mean update.
  int64_t size = 0;
  for (auto& mem : global.members()) size += state_size(*mem);
  for (int64_t r = 0; r < config.rounds; ++r) {
    const auto t0 = Clock::now();
    const auto bytes0 = log.coordinator_bytes;
    std::vector<std::vector<double>> updates;
    for (auto& p : parties) {
      const double w = static_cast<double>(p.train_idx.numel()) / N;
      std::vector<double> u;
      u.reserve(static_cast<size_t>(size));
      for (int64_t m = 0; m < M; ++m) {
        auto& local = *p.local->members()[m];
        copy_state(*global.members()[m], local);
        if (config.proximal_mu > 0) {
          std::vector<torch::Tensor> ref;
          for (auto& w : global.members()[m]->parameters()) ref.push_back(w.detach().clone());
          p.trainers[m]->set_proximal(config.proximal_mu, std::move(ref));
        }
        for (int64_t e = 0; e < config.local_epochs; ++e) p.trainers[m]->train_epoch();
        auto a = state_of(local), g = state_of(*global.members()[m]);
        for (size_t k = 0; k < a.size(); ++k) {
          auto d = ((a[k] - g[k]).to(torch::kFloat64) * w).reshape({-1}).contiguous();
          const double* x = d.data_ptr<double>();
          for (int64_t j = 0; j < d.numel(); ++j) {
            if (std::abs(x[j]) > config.update_clip) ++log.clipped_entries;
            u.push_back(x[j]);
          }
        }
      }
      updates.push_back(std::move(u));
    }
    const auto mean_update = agg.sum(updates, config.update_clip);
    double norm2 = 0;
    for (double v : mean_update) norm2 += v * v;
    log.round_update_norm.push_back(std::sqrt(norm2));
    torch::NoGradGuard no_grad;
    size_t off = 0;
    for (auto& mem : global.members())
      for (auto& t : state_of(*mem)) {
        auto d = torch::from_blob(const_cast<double*>(mean_update.data() + off), {t.numel()}, torch::kFloat64);
        t.add_(d.reshape(t.sizes()).to(t.scalar_type()));
        off += static_cast<size_t>(t.numel());
      }
    log.round_seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    log.round_bytes.push_back(log.coordinator_bytes - bytes0);
    if (like.train.progress) {
      double done = 0;
      for (double t : log.round_seconds) done += t;
      const double eta = done / static_cast<double>(r + 1) * static_cast<double>(config.rounds - r - 1);
      std::fprintf(stderr, "\r[sozai federated] round %lld/%lld | %.2f s/round | %.2f MB/round | ETA %.0f s   ",
                   static_cast<long long>(r + 1), static_cast<long long>(config.rounds), log.round_seconds.back(),
                   static_cast<double>(log.round_bytes.back()) / 1e6, eta);
      if (r + 1 == config.rounds) std::fprintf(stderr, "\n");
    }
  }
  for (auto& mem : global.members()) mem->eval();

  // Variance recalibration on the calibration rows: the scale that makes the
  // standardised squared errors average 1 (the likelihood's maximiser).
  std::vector<std::vector<double>> cal;
  for (auto& p : parties) {
    double z2 = 0;
    if (p.calib_idx.numel() > 0) {
      auto sub = select_graphs(p.graphs, p.calib_idx);
      auto c = p.cond.defined() ? p.cond.index_select(0, p.calib_idx) : torch::Tensor();
      auto post = global.predict(sub, c);
      auto err = post.mean.reshape({-1}) - p.y.index_select(0, p.calib_idx);
      z2 = (err.pow(2) / post.variance.reshape({-1}).clamp_min(1e-12)).sum().item<double>();
    }
    cal.push_back({static_cast<double>(p.calib_idx.numel()) / kRowsBound, std::min(z2, 1e5) / (kRowsBound * 100.0)});
  }
  const auto cs = agg.sum(cal, 1.0);
  const double n_cal = std::round(cs[0] * kRowsBound);
  log.variance_scale = n_cal >= 2 ? std::max(cs[1] * kRowsBound * 100.0 / n_cal, 1e-6) : 1.0;
  global.set_variance_scale(log.variance_scale);
  return global;
}

}  // namespace federated
}  // namespace sozai
