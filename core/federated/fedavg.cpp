#include "core/federated/fedavg.h"

#include "common/error.h"
#include "core/federated/privacy.h"
#include "core/federated/secure_aggregation.h"
#include "common/strings.h"
#include "models/config_json.h"
#include "models/gnn/checkpoint.h"
#include "datasets/graph.h"
#include "models/gnn/train.h"

#include <torch/nn/module.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

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

void copy_state(gnn::GraphModel& from, gnn::GraphModel& to) {
  torch::NoGradGuard no_grad;
  auto a = state_of(from), b = state_of(to);
  for (size_t i = 0; i < a.size(); ++i) b[i].copy_(a[i]);
}

/// The exponent of the smallest power of 2 at least max|x| (0 for an empty or zero tensor): what a party reveals.
double power_exponent(const torch::Tensor& x) {
  const double m = x.numel() ? x.abs().max().item<double>() : 0.0;
  return m > 0 ? std::ceil(std::log2(m)) : 0.0;
}

/// Drawing the calibration split and the initial members seeds torch's
/// global generator: parties joining from threads of one process (tests, a
/// notebook) take turns, so that each draws what it would alone.
std::mutex& global_rng_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

void check_config(const FederatedConfig& c, const std::string& where) {
  SOZAI_CHECK(c.rounds >= 1 && c.local_epochs >= 1, where, ": rounds and local_epochs must be >= 1, got ", c.rounds,
              " and ", c.local_epochs);
  SOZAI_CHECK(std::isfinite(c.proximal_mu) && c.proximal_mu >= 0, where, ": proximal_mu must be >= 0, got ",
              c.proximal_mu);
  SOZAI_CHECK(std::isfinite(c.update_clip) && c.update_clip > 0, where, ": update_clip must be > 0, got ", c.update_clip);
  SOZAI_CHECK(c.calibration_fraction >= 0 && c.calibration_fraction < 0.5, where,
              ": calibration_fraction must be in [0, 0.5), got ", c.calibration_fraction);
  SOZAI_CHECK(c.threshold >= 0 && c.threshold <= 255, where, ": threshold must be in [0, 255], got ", c.threshold);
  SOZAI_CHECK(std::isfinite(c.dp_clip) && c.dp_clip >= 0, where, ": dp_clip must be >= 0, got ", c.dp_clip);
  SOZAI_CHECK(std::isfinite(c.dp_noise_multiplier) && c.dp_noise_multiplier >= 0, where,
              ": dp_noise_multiplier must be >= 0, got ", c.dp_noise_multiplier);
  SOZAI_CHECK(c.dp_noise_multiplier == 0 || c.dp_clip > 0, where,
              ": dp_noise_multiplier needs dp_clip > 0 (the noise is scaled to the clip norm)");
  SOZAI_CHECK(c.dp_delta > 0 && c.dp_delta < 1, where, ": dp_delta must be in (0, 1), got ", c.dp_delta);
  SOZAI_CHECK(std::isfinite(c.server_lr) && c.server_lr > 0, where, ": server_lr must be > 0, got ", c.server_lr);
  SOZAI_CHECK(c.server_momentum >= 0 && c.server_momentum < 1, where, ": server_momentum must be in [0, 1), got ",
              c.server_momentum);
}

void record_privacy(const FederatedConfig& c, FederatedLog& log) {
  if (c.dp_noise_multiplier <= 0) return;
  const auto p = gaussian_privacy(c.dp_noise_multiplier, c.rounds, c.dp_delta);
  log.dp_epsilon = p.epsilon;
  log.dp_delta = p.delta;
}

int threshold_of(const FederatedConfig& c, int parties) { return c.threshold > 0 ? c.threshold : std::max(1, parties - 1); }

struct FederatedParty::Impl {
  gnn::GnnEnsembleConfig like;
  FederatedConfig config;
  int index = 0, parties = 1;
  GraphBatch graphs;
  torch::Tensor y, cond;  // float64, original units
  int64_t cdim = 0;
  torch::Tensor train_idx, calib_idx;
  std::vector<double> max_exponents;
  double n_total = 0;  // training rows over all parties
  std::unique_ptr<gnn::GnnEnsemble> global, local;
  gnn::TrainData data;
  gnn::Schedule schedule;
  std::vector<std::unique_ptr<gnn::MemberTrainer>> trainers;
  int64_t clipped = 0;
  std::vector<double> velocity;  // the server optimiser's momentum
  double last_loss = 0;          // the last local epoch's training loss, mean over members
  double weight_scale = 1.0;  // the weight entry w is sent as w * weight_scale (inside the clip)
};

FederatedParty::FederatedParty(const gnn::GnnEnsembleConfig& like, const PartyData& d, int index, int parties,
                               const FederatedConfig& config)
    : impl_(std::make_unique<Impl>()) {
  auto& p = *impl_;
  p.like = like;
  p.config = config;
  p.index = index;
  p.parties = parties;
  const int who = index + 1;
  const auto n = static_cast<int64_t>(d.inputs.size());
  SOZAI_CHECK(n >= 2, "federated: party ", who, " holds ", n, " rows; every party needs at least 2");
  SOZAI_CHECK(d.y.defined() && d.y.numel() == n, "federated: party ", who, " has ", n, " inputs but ",
              d.y.defined() ? d.y.numel() : 0, " targets");
  p.y = d.y.reshape({n}).to(torch::kCPU, torch::kFloat64);
  SOZAI_CHECK(torch::isfinite(p.y).all().item<bool>(), "federated: party ", who, "'s targets hold NaN or infinity");
  p.cdim = d.conditions.defined() && d.conditions.numel() ? d.conditions.size(1) : 0;
  if (p.cdim) {
    SOZAI_CHECK(d.conditions.dim() == 2 && d.conditions.size(0) == n, "federated: party ", who,
                "'s conditions must be [", n, ", C]");
    p.cond = d.conditions.to(torch::kCPU, torch::kFloat64);
    SOZAI_CHECK(torch::isfinite(p.cond).all().item<bool>(), "federated: party ", who,
                "'s conditions hold NaN or infinity");
  }
  p.global = std::make_unique<gnn::GnnEnsemble>(like);
  try {
    p.graphs = p.global->featurize(d.inputs);
  } catch (const InputError& e) {
    throw InputError(str("federated: party ", who, ": ", e.what()));
  }
  // Calibration rows: a fixed share, drawn from the ensemble's seed and the party.
  torch::Tensor order;
  {
    std::lock_guard<std::mutex> lock(global_rng_mutex());
    torch::manual_seed(like.seed * 7919ULL + static_cast<uint64_t>(index) + 1);
    order = torch::randperm(n, torch::kInt64);
  }
  const int64_t n_cal = n >= 10 ? static_cast<int64_t>(std::llround(config.calibration_fraction * n)) : 0;
  p.calib_idx = order.narrow(0, 0, n_cal);
  p.train_idx = order.narrow(0, n_cal, n - n_cal);
  p.weight_scale = std::min(1.0, config.update_clip);
}

FederatedParty::~FederatedParty() = default;
FederatedParty::FederatedParty(FederatedParty&&) noexcept = default;

int64_t FederatedParty::condition_width() const { return impl_->cdim; }
int64_t FederatedParty::clipped_entries() const { return impl_->clipped; }
double FederatedParty::last_loss() const { return impl_->last_loss; }
double FederatedParty::weight() const {
  return impl_->n_total > 0 ? static_cast<double>(impl_->train_idx.numel()) / impl_->n_total : 0.0;
}
double FederatedParty::update_clip() const { return impl_->config.update_clip; }

std::vector<double> FederatedParty::bound_exponents() const {
  const auto& p = *impl_;
  std::vector<double> k{power_exponent(p.y.index_select(0, p.train_idx))};
  for (int64_t j = 0; j < p.cdim; ++j) k.push_back(power_exponent(p.cond.index_select(0, p.train_idx).select(1, j)));
  return k;
}

std::vector<double> FederatedParty::statistics(const std::vector<double>& max_exponents) {
  auto& p = *impl_;
  SOZAI_CHECK(static_cast<int64_t>(max_exponents.size()) == 1 + p.cdim, "federated: the parties' bounds have ",
              max_exponents.size() - 1, " condition column(s); party ", p.index + 1, " has ", p.cdim);
  p.max_exponents = max_exponents;
  auto yt = p.y.index_select(0, p.train_idx);
  const double yb = std::pow(2.0, max_exponents[0]);
  std::vector<double> v{static_cast<double>(yt.numel()) / kRowsBound, yt.sum().item<double>() / (kRowsBound * yb),
                        yt.pow(2).sum().item<double>() / (kRowsBound * yb * yb)};
  for (int64_t j = 0; j < p.cdim; ++j) {
    auto cj = p.cond.index_select(0, p.train_idx).select(1, j);
    const double b = std::pow(2.0, max_exponents[1 + j]);
    v.push_back(cj.sum().item<double>() / (kRowsBound * b));
    v.push_back(cj.pow(2).sum().item<double>() / (kRowsBound * b * b));
  }
  return v;
}

void FederatedParty::start(const std::vector<double>& s) {
  auto& p = *impl_;
  SOZAI_CHECK(static_cast<int64_t>(s.size()) == 3 + 2 * p.cdim, "federated: the statistics sum has ", s.size(),
              " entries, expected ", 3 + 2 * p.cdim);
  const double N = std::round(s[0] * kRowsBound);
  SOZAI_CHECK(N >= 2, "federated: fewer than 2 training rows over all parties");
  p.n_total = N;
  const double yb = std::pow(2.0, p.max_exponents[0]);
  const double y_mean = s[1] * kRowsBound * yb / N;
  const double y_var = (s[2] * kRowsBound * yb * yb - N * y_mean * y_mean) / (N - 1);
  const double y_std = y_var > 0 ? std::sqrt(y_var) : 1.0;
  torch::Tensor c_mean, c_std;
  if (p.cdim > 0) {
    c_mean = torch::zeros({p.cdim}, torch::kFloat64);
    c_std = torch::ones({p.cdim}, torch::kFloat64);
    for (int64_t j = 0; j < p.cdim; ++j) {
      const double b = std::pow(2.0, p.max_exponents[1 + j]), m = s[3 + 2 * j] * kRowsBound * b / N;
      const double v = (s[4 + 2 * j] * kRowsBound * b * b - N * m * m) / (N - 1);
      c_mean[j] = m;
      c_std[j] = v > 0 ? std::sqrt(v) : 1.0;
    }
  }
  // The same initial members everywhere (drawn from like.seed).
  {
    std::lock_guard<std::mutex> lock(global_rng_mutex());
    p.global->prepare_external(p.graphs, p.cdim, y_mean, y_std, c_mean, c_std);
    p.local = std::make_unique<gnn::GnnEnsemble>(p.like);
    p.local->prepare_external(p.graphs, p.cdim, y_mean, y_std, c_mean, c_std);
  }
  p.data.graphs = &p.graphs;
  p.data.train_idx = p.train_idx;
  p.data.ys = p.local->standardised_targets(p.y);
  p.data.cs = p.local->standardised_conditions(p.cond);
  p.data.y_std = y_std;
  p.schedule.max_epochs = p.config.rounds * p.config.local_epochs;
  p.schedule.patience = p.schedule.max_epochs + 1;
  const gnn::FinetuneConfig* finetune = p.like.finetune.pretrained.empty() ? nullptr : &p.like.finetune;
  const auto M = static_cast<int64_t>(p.global->members().size());
  for (int64_t m = 0; m < M; ++m)
    p.trainers.push_back(std::make_unique<gnn::MemberTrainer>(*p.local->members()[m], p.data, p.like.train, p.schedule,
                                                              p.like.seed * 1000003ULL + 31 * p.index + m + 1, finetune));
}

std::vector<double> FederatedParty::update() {
  auto& p = *impl_;
  SOZAI_CHECK(!p.trainers.empty(), "federated: update() before start()");
  const double w = static_cast<double>(p.train_idx.numel()) / p.n_total;
  p.last_loss = 0;
  std::vector<double> u;
  const auto M = static_cast<int64_t>(p.global->members().size());
  for (int64_t m = 0; m < M; ++m) {
    auto& local = *p.local->members()[m];
    auto& global = *p.global->members()[m];
    copy_state(global, local);
    if (p.config.proximal_mu > 0) {
      std::vector<torch::Tensor> ref;
      for (auto& t : global.parameters()) ref.push_back(t.detach().clone());
      p.trainers[m]->set_proximal(p.config.proximal_mu, std::move(ref));
    }
    double loss = 0;
    for (int64_t e = 0; e < p.config.local_epochs; ++e) loss = p.trainers[m]->train_epoch();
    p.last_loss += loss / static_cast<double>(M);
    auto a = state_of(local), g = state_of(global);
    for (size_t k = 0; k < a.size(); ++k) {
      auto d = (a[k] - g[k]).to(torch::kFloat64).reshape({-1}).contiguous();
      const double* x = d.data_ptr<double>();
      u.insert(u.end(), x, x + d.numel());
    }
  }
  if (p.config.dp_clip > 0) {
    // Differential privacy: the whole update clipped, weighted, then this party's share of the noise.
    u = clip_and_noise(u, p.config.dp_clip, 0.0);
    const double sd = p.config.dp_noise_multiplier * p.config.dp_clip / std::sqrt(static_cast<double>(p.parties));
    const auto noise = sd > 0 ? clip_and_noise(std::vector<double>(u.size(), 0.0), 1.0, sd) : std::vector<double>();
    for (size_t j = 0; j < u.size(); ++j) u[j] = w * u[j] + (noise.empty() ? 0.0 : noise[j]);
  } else {
    for (auto& v : u) v *= w;
  }
  for (double v : u)
    if (std::abs(v) > p.config.update_clip) ++p.clipped;
  u.push_back(w * p.weight_scale);
  return u;
}

double FederatedParty::apply(const std::vector<double>& sum) {
  auto& p = *impl_;
  SOZAI_CHECK(!sum.empty(), "federated: an empty update sum");
  const double weight = sum.back() / p.weight_scale;
  SOZAI_CHECK(weight > 0, "federated: the update sum carries no weight (no party's update is in it)");
  int64_t size = 0;
  for (auto& mem : p.global->members())
    for (auto& t : state_of(*mem)) size += t.numel();
  SOZAI_CHECK(static_cast<size_t>(size) + 1 == sum.size(), "federated: the update sum has ", sum.size(),
              " entries, the model ", size + 1);
  // The server optimiser: v = momentum * v + mean update; step = server_lr * v.
  if (p.velocity.empty()) p.velocity.assign(static_cast<size_t>(size), 0.0);
  for (size_t j = 0; j < p.velocity.size(); ++j)
    p.velocity[j] = p.config.server_momentum * p.velocity[j] + sum[j] / weight;
  size_t off = 0;
  double norm2 = 0;
  torch::NoGradGuard no_grad;
  for (auto& mem : p.global->members())
    for (auto& t : state_of(*mem)) {
      auto d = torch::from_blob(p.velocity.data() + off, {t.numel()}, torch::kFloat64) * p.config.server_lr;
      norm2 += d.pow(2).sum().item<double>();
      t.add_(d.reshape(t.sizes()).to(t.scalar_type()));
      off += static_cast<size_t>(t.numel());
    }
  return std::sqrt(norm2);
}

std::vector<double> FederatedParty::calibration() {
  auto& p = *impl_;
  for (auto& mem : p.global->members()) mem->eval();
  double z2 = 0;
  if (p.calib_idx.numel() > 0) {
    auto sub = select_graphs(p.graphs, p.calib_idx);
    auto c = p.cond.defined() ? p.cond.index_select(0, p.calib_idx) : torch::Tensor();
    auto post = p.global->predict(sub, c);
    auto err = post.mean.reshape({-1}) - p.y.index_select(0, p.calib_idx);
    z2 = (err.pow(2) / post.variance.reshape({-1}).clamp_min(1e-12)).sum().item<double>();
  }
  return {static_cast<double>(p.calib_idx.numel()) / kRowsBound, std::min(z2, 1e5) / (kRowsBound * 100.0)};
}

gnn::GnnEnsemble FederatedParty::finish(const std::vector<double>& cs) {
  auto& p = *impl_;
  SOZAI_CHECK(cs.size() == 2, "federated: the calibration sum has ", cs.size(), " entries, expected 2");
  // The scale that makes the standardised squared errors average 1 (the likelihood's maximiser).
  const double n_cal = std::round(cs[0] * kRowsBound);
  const double scale = n_cal >= 2 ? std::max(cs[1] * kRowsBound * 100.0 / n_cal, 1e-6) : 1.0;
  for (auto& mem : p.global->members()) mem->eval();
  p.global->set_variance_scale(scale);
  return *p.global;
}

namespace {

template <typename T>
std::vector<T> read_vector(torch::serialize::InputArchive& a, const char* key) {
  torch::Tensor t;
  a.read(key, t);
  t = t.contiguous();
  return std::vector<T>(t.data_ptr<T>(), t.data_ptr<T>() + t.numel());
}

}  // namespace

void FederatedParty::save(torch::serialize::OutputArchive& a) {
  auto& p = *impl_;
  const auto M = p.global->members().size();
  for (size_t m = 0; m < M; ++m) {
    torch::serialize::OutputArchive member, trainer;
    p.global->members()[m]->save(member);
    p.trainers.at(m)->save(trainer);
    a.write(str("member", m), member);
    a.write(str("trainer", m), trainer);
  }
  a.write("velocity", torch::tensor(p.velocity, torch::kFloat64));
  a.write("clipped", c10::IValue(p.clipped));
}

void FederatedParty::load(torch::serialize::InputArchive& a) {
  auto& p = *impl_;
  SOZAI_CHECK(!p.trainers.empty(), "federated: load() before start()");
  const auto M = p.global->members().size();
  for (size_t m = 0; m < M; ++m) {
    torch::serialize::InputArchive member, trainer;
    a.read(str("member", m), member);
    a.read(str("trainer", m), trainer);
    p.global->members()[m]->load(member);
    p.trainers.at(m)->load(trainer);
  }
  p.velocity = read_vector<double>(a, "velocity");
  c10::IValue clipped;
  a.read("clipped", clipped);
  p.clipped = clipped.toInt();
}

namespace {

constexpr const char* kCheckpointFormat = "sozai-federated-checkpoint-1";

/// Everything a simulation's checkpoint must agree with to be resumed: the
/// ensemble's and the federation's settings, and each party's rows.
nlohmann::json run_identity(const gnn::GnnEnsembleConfig& like, const std::vector<PartyData>& parties,
                            const FederatedConfig& config) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& d : parties)
    data.push_back({{"rows", d.inputs.size()}, {"digest", gnn::rows_digest(d.inputs, {d.y, d.conditions})}});
  return {{"model", like}, {"federation", config}, {"keep_messages", config.keep_messages}, {"parties", data}};
}

/// The log of the rounds run so far, as a checkpoint keeps it: counts in
/// its JSON state, the per-round values as tensors (JSON has no NaN or
/// infinity, and a round's loss may be either).
nlohmann::json log_state(const FederatedLog& log, int64_t rounds_done, int64_t step) {
  return {{"rounds_done", rounds_done}, {"step", step}, {"coordinator_bytes", log.coordinator_bytes}};
}

void save_log(const FederatedLog& log, torch::serialize::OutputArchive& a) {
  a.write("round_seconds", torch::tensor(log.round_seconds, torch::kFloat64));
  a.write("round_bytes", torch::tensor(log.round_bytes, torch::kInt64));
  a.write("round_update_norm", torch::tensor(log.round_update_norm, torch::kFloat64));
  a.write("round_loss", torch::tensor(log.round_loss, torch::kFloat64));
  a.write("max_quantisation_error", torch::tensor(log.max_quantisation_error, torch::kFloat64));
  if (!log.coordinator_received.empty())
    a.write("coordinator_received",
            torch::tensor(at::ArrayRef<uint8_t>(log.coordinator_received), torch::kUInt8));
}

void load_log(FederatedLog& log, torch::serialize::InputArchive& a, bool keep_messages) {
  log.round_seconds = read_vector<double>(a, "round_seconds");
  log.round_bytes = read_vector<int64_t>(a, "round_bytes");
  log.round_update_norm = read_vector<double>(a, "round_update_norm");
  log.round_loss = read_vector<double>(a, "round_loss");
  log.max_quantisation_error = read_vector<double>(a, "max_quantisation_error").at(0);
  torch::Tensor t;
  log.coordinator_received.clear();
  if (keep_messages && a.try_read("coordinator_received", t)) {
    t = t.contiguous();
    log.coordinator_received.assign(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
  }
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
      auto r = secure_sum(vectors, threshold_of(config, n), clip, {}, round++, transcript);
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

}  // namespace

gnn::GnnEnsemble federated_fit(const gnn::GnnEnsembleConfig& like, const std::vector<PartyData>& parties_in,
                               const FederatedConfig& config, FederatedLog* log_out,
                               const SimulationCheckpoint& checkpoint) {
  const auto P = static_cast<int64_t>(parties_in.size());
  SOZAI_CHECK(P >= 2 && P <= 255, "federated_fit: needs 2..255 parties, got ", P);
  check_config(config, "federated_fit");
  SOZAI_CHECK(checkpoint.max_hours >= 0 && checkpoint.checkpoint_minutes > 0,
              "federated_fit: max_hours must be >= 0 and checkpoint_minutes > 0, got ", checkpoint.max_hours, " and ",
              checkpoint.checkpoint_minutes);
  SOZAI_CHECK(checkpoint.max_hours == 0 || !checkpoint.path.empty(),
              "federated_fit: max_hours needs a checkpoint to stop into (a run stopped without one would be lost)");
  const auto call_start = Clock::now();  // max_hours counts the parties' set-up too
  FederatedLog local_log;
  FederatedLog& log = log_out ? *log_out : local_log;
  log = FederatedLog{};
  Aggregator agg{config, log};

  // Each party featurises and checks its own rows.
  std::vector<FederatedParty> parties;
  for (int64_t i = 0; i < P; ++i) {
    parties.emplace_back(like, parties_in[static_cast<size_t>(i)], static_cast<int>(i), static_cast<int>(P), config);
    SOZAI_CHECK(parties.back().condition_width() == parties.front().condition_width(), "federated_fit: party ", i + 1,
                " has ", parties.back().condition_width(), " condition column(s), party 1 has ",
                parties.front().condition_width());
  }
  // Step 0 in the clear (each party reveals its exponents), step 1 securely.
  std::vector<double> max_k = parties.front().bound_exponents();
  for (auto& p : parties) {
    const auto k = p.bound_exponents();
    for (size_t j = 0; j < k.size(); ++j) max_k[j] = std::max(max_k[j], k[j]);
  }
  std::vector<std::vector<double>> stats;
  for (auto& p : parties) stats.push_back(p.statistics(max_k));
  const auto s = agg.sum(stats, 1.0);
  for (auto& p : parties) p.start(s);

  // A checkpoint puts every party where an earlier call left it (the two
  // steps above are run again: they are exact, so they agree with it).
  auto last_write = Clock::now();
  const auto identity = checkpoint.path.empty() ? nlohmann::json() : run_identity(like, parties_in, config);
  int64_t first_round = 0;
  {
    torch::serialize::InputArchive a;
    nlohmann::json st;
    if (!checkpoint.path.empty() &&
        gnn::read_run_checkpoint(checkpoint.path, kCheckpointFormat, "federated", identity, st, a)) {
      try {
        first_round = st.at("rounds_done").get<int64_t>();
        agg.round = st.at("step").get<int64_t>();
        log.coordinator_bytes = st.at("coordinator_bytes").get<int64_t>();
        load_log(log, a, config.keep_messages);
        for (size_t i = 0; i < parties.size(); ++i) {
          torch::serialize::InputArchive party;
          a.read(str("party", i), party);
          parties[i].load(party);
        }
      } catch (const nlohmann::json::exception& e) {
        throw StorageError(str("federated: checkpoint '", checkpoint.path, "' is damaged (", e.what(), ")"));
      } catch (const c10::Error& e) {
        throw StorageError(str("federated: checkpoint '", checkpoint.path, "' is damaged (",
                               e.what_without_backtrace(), ")"));
      }
      log.resumed_rounds = first_round;
      if (like.train.progress)
        std::fprintf(stderr, "[sozai federated] resuming from %s after round %lld\n", checkpoint.path.c_str(),
                     static_cast<long long>(first_round));
    }
  }
  auto write_checkpoint = [&](int64_t rounds_done) {
    gnn::write_run_checkpoint(checkpoint.path, kCheckpointFormat, "federated", identity,
                              log_state(log, rounds_done, agg.round), [&](torch::serialize::OutputArchive& a) {
                                save_log(log, a);
                                for (size_t i = 0; i < parties.size(); ++i) {
                                  torch::serialize::OutputArchive party;
                                  parties[i].save(party);
                                  a.write(str("party", i), party);
                                }
                              });
    last_write = Clock::now();
  };

  for (int64_t r = first_round; r < config.rounds; ++r) {
    const auto t0 = Clock::now();
    const auto bytes0 = log.coordinator_bytes;
    std::vector<std::vector<double>> updates;
    double loss = 0, weight = 0;
    for (auto& p : parties) {
      updates.push_back(p.update());
      loss += p.weight() * p.last_loss();
      weight += p.weight();
    }
    log.round_loss.push_back(loss / weight);
    const auto sum = agg.sum(updates, config.update_clip);
    double norm = 0;
    for (auto& p : parties) norm = p.apply(sum);
    log.round_update_norm.push_back(norm);
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
    if (checkpoint.path.empty() || r + 1 == config.rounds) continue;
    const auto now = Clock::now();
    const bool out_of_time = checkpoint.max_hours > 0 &&
                             std::chrono::duration<double>(now - call_start).count() >= checkpoint.max_hours * 3600.0;
    if (out_of_time || std::chrono::duration<double>(now - last_write).count() >= checkpoint.checkpoint_minutes * 60.0)
      write_checkpoint(r + 1);
    if (out_of_time) {
      if (like.train.progress)
        std::fprintf(stderr, "\n[sozai federated] stopped after round %lld/%lld (max_hours); run again to resume from %s\n",
                     static_cast<long long>(r + 1), static_cast<long long>(config.rounds), checkpoint.path.c_str());
      for (auto& p : parties) log.clipped_entries += p.clipped_entries();
      log.finished = false;
      return parties.front().finish({0.0, 0.0});  // as it stands: no calibration rows, variance scale 1
    }
  }
  for (auto& p : parties) log.clipped_entries += p.clipped_entries();

  std::vector<std::vector<double>> cal;
  for (auto& p : parties) cal.push_back(p.calibration());
  const auto cs = agg.sum(cal, 1.0);
  auto model = parties.front().finish(cs);
  log.variance_scale = model.report().variance_scale;
  record_privacy(config, log);
  if (!checkpoint.path.empty()) std::remove(checkpoint.path.c_str());
  return model;
}

}  // namespace federated
}  // namespace sozai
