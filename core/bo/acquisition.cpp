#include "core/bo/acquisition.h"
#include "core/bo/registry.h"
#include "common/error.h"
#include "common/json.h"

#include <ATen/ATen.h>

#include <cmath>

namespace sozai {

namespace {

using nlohmann::json;

/// Builder over pool rows that scores their values through a point builder.
class RowsThroughPoints final : public PoolBatchBuilder {
 public:
  RowsThroughPoints(std::unique_ptr<BatchBuilder> points, const torch::Tensor& candidates, int64_t chunk)
      : points_(std::move(points)), candidates_(candidates), chunk_(chunk) {}
  int64_t chunk() const override { return chunk_; }
  torch::Tensor score(const torch::Tensor& rows) override {
    return points_->score(candidates_.index_select(0, rows.to(candidates_.device())));
  }
  void add(int64_t row) override { points_->add(candidates_[row]); }

 private:
  std::unique_ptr<BatchBuilder> points_;
  torch::Tensor candidates_;
  int64_t chunk_;
};

}  // namespace

Acquisition::Acquisition(const AcquisitionSpec& spec) : spec_(spec), info_(&acquisition_info(spec.kind)) {}

std::unique_ptr<PoolBatchBuilder> Acquisition::start_pool_batch(const torch::Tensor& candidates, const torch::Tensor&,
                                                                int64_t) const {
  return std::make_unique<RowsThroughPoints>(start_batch(), candidates, pool_chunk());
}

const std::vector<std::string>& acquisition_spec_keys() {
  static const std::vector<std::string> keys = {"acquisition",    "outcomes",        "ref_point",
                                                "ucb_beta",       "mc_samples",      "seed",
                                                "fidelity_costs", "target_fidelity", "aei_target_first",
                                                "aei_max_cheap_share"};
  return keys;
}

AcquisitionSpec acquisition_spec_from_json(const json& j, const std::string& where, const AcquisitionSpec& base) {
  json_io::require_object(j, where);
  AcquisitionSpec s = base;
  if (j.contains("outcomes") && !j.at("outcomes").is_null())
    s.outcomes = outcomes_from_json(j.at("outcomes"), str(where, ": outcomes"));
  if (j.contains("acquisition") && !j.at("acquisition").is_null()) {
    const auto name = json_io::required<std::string>(j, "acquisition", where);
    try {
      s.kind = acquisition_info(name).kind;
    } catch (const InputError& e) {
      throw InputError(str(where, ": ", e.what()));
    }
  } else
    s.kind = default_acquisition(s.outcomes);
  s.ref_point = json_io::optional(j, "ref_point", s.ref_point, where);
  s.beta = json_io::optional(j, "ucb_beta", s.beta, where);
  s.mc_samples = json_io::optional(j, "mc_samples", s.mc_samples, where);
  s.seed = json_io::optional(j, "seed", s.seed, where);
  s.fidelity.costs = json_io::optional(j, "fidelity_costs", s.fidelity.costs, where);
  s.fidelity.target = json_io::optional(j, "target_fidelity", s.fidelity.target, where);
  s.fidelity.target_first = json_io::optional(j, "aei_target_first", s.fidelity.target_first, where);
  s.fidelity.max_cheap_share = json_io::optional(j, "aei_max_cheap_share", s.fidelity.max_cheap_share, where);
  validate(s, where);
  return s;
}

json acquisition_spec_to_json(const AcquisitionSpec& s) {
  return {{"acquisition", to_string(s.kind)},
          {"outcomes", outcomes_to_json(s.outcomes)},
          {"ref_point", s.ref_point},
          {"ucb_beta", s.beta},
          {"mc_samples", s.mc_samples},
          {"seed", s.seed},
          {"fidelity_costs", s.fidelity.costs},
          {"target_fidelity", s.fidelity.target},
          {"aei_target_first", s.fidelity.target_first},
          {"aei_max_cheap_share", s.fidelity.max_cheap_share}};
}

void validate(const AcquisitionSpec& s, const std::string& where) {
  SOZAI_CHECK(!s.outcomes.empty() && !objective_positions(s.outcomes).empty(), where,
              ": outcomes: at least one must be an objective (maximize or minimize), got ", s.outcomes.size(),
              " constraint(s)");
  const bool fidelities = !s.fidelity.costs.empty();
  check_acquisition(s.kind, s.outcomes, fidelities, /*space=*/false, where);
  const auto objectives = objective_positions(s.outcomes).size();
  SOZAI_CHECK(s.ref_point.empty() || s.ref_point.size() == objectives, where, ": ref_point has ", s.ref_point.size(),
              " values for ", objectives, " objectives");
  for (double r : s.ref_point) SOZAI_CHECK(std::isfinite(r), where, ": ref_point values must be finite, got ", r);
  SOZAI_CHECK(s.beta >= 0 && std::isfinite(s.beta), where, ": ucb_beta must be >= 0, got ", s.beta);
  SOZAI_CHECK(s.mc_samples >= 1, where, ": mc_samples must be >= 1, got ", s.mc_samples);
  for (size_t i = 0; i < s.fidelity.costs.size(); ++i)
    SOZAI_CHECK(s.fidelity.costs[i] > 0 && std::isfinite(s.fidelity.costs[i]), where, ": fidelity_costs[", i,
                "] must be > 0, got ", s.fidelity.costs[i]);
  if (fidelities) {
    SOZAI_CHECK(s.fidelity.target >= -1 && s.fidelity.target < static_cast<int64_t>(s.fidelity.costs.size()), where,
                ": target_fidelity ", s.fidelity.target, " outside [0, ", s.fidelity.costs.size(), ")");
    SOZAI_CHECK(s.fidelity.max_cheap_share >= 0 && s.fidelity.max_cheap_share <= 1, where,
                ": aei_max_cheap_share must be in [0, 1], got ", s.fidelity.max_cheap_share);
  }
  const auto& t = s.sampling;
  SOZAI_CHECK(t.tau_max > 0 && t.tau_relu > 0 && t.eta > 0 && t.tau > 0, where,
              ": tau_max, tau_relu, eta and tau must be > 0");
  SOZAI_CHECK(t.max_baseline >= 1 && t.chunk >= 0 && t.path_features >= 1, where,
              ": max_baseline and path_features must be >= 1 and chunk >= 0");
}

std::unique_ptr<Acquisition> make_acquisition(const AcquisitionSpec& spec, const std::vector<const Surrogate*>& models,
                                              const AcquisitionData& data) {
  validate(spec);
  const auto& info = acquisition_info(spec.kind);
  const auto k = static_cast<int64_t>(spec.outcomes.size());
  SOZAI_CHECK(static_cast<int64_t>(models.size()) == k, info.name, ": ", models.size(), " models for ", k,
              " outcomes (one model per outcome)");
  for (auto* m : models) SOZAI_CHECK(m != nullptr, info.name, ": a model is missing");
  SOZAI_CHECK(data.X.defined() && data.X.dim() == 2, info.name, ": X_observed must be [n, d], got ",
              data.X.defined() ? data.X.sizes() : at::IntArrayRef{});
  if (data.Y.defined()) {
    auto Y = data.Y.dim() == 1 ? data.Y.unsqueeze(1) : data.Y;
    SOZAI_CHECK(Y.dim() == 2 && Y.size(0) == data.X.size(0) && Y.size(1) == k, info.name, ": Y_observed must be [",
                data.X.size(0), ", ", k, "] (one column per outcome), got ", data.Y.sizes());
    SOZAI_CHECK(torch::isfinite(Y).all().item<bool>(), info.name, ": Y_observed has non-finite values");
  }
  if (data.X_pending.defined() && data.X_pending.numel() > 0)
    SOZAI_CHECK(data.X_pending.dim() == 2 && data.X_pending.size(1) == data.X.size(1), info.name,
                ": X_pending must be [p, ", data.X.size(1), "], got ", data.X_pending.sizes());
  torch::NoGradGuard no_grad;
  std::unique_ptr<Acquisition> acquisition;
  try {
    acquisition = info.make(spec, models, data);
  } catch (const InputError& e) {
    // Most that can go wrong here is data the models do not take.
    throw InputError(str(info.name, ": building on X_observed [", data.X.size(0), ", ", data.X.size(1), "]: ", e.what()));
  }
  acquisition->input_dim_ = data.X.size(1);
  return acquisition;
}

double best_latent_value(const Surrogate& model, const torch::Tensor& Y, bool maximize) {
  SOZAI_CHECK(Y.defined() && Y.numel() > 0, "best_latent_value: no observations");
  auto z = model.transform_outcome(Y.reshape({-1}));
  return (maximize ? z.max() : z.min()).item<double>();
}

}  // namespace sozai
