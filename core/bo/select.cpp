#include "core/bo/acquisition.h"
#include "core/bo/monte_carlo.h"
#include "core/bo/select.h"
#include "core/bo/thompson.h"
#include "common/error.h"
#include "common/strings.h"

#include <algorithm>

namespace sozai {

namespace {
}  // namespace

std::vector<std::string> acquisition_names() { return {"ei", "logei", "ucb", "pi", "qlognei", "qucb", "thompson"}; }

void check_acquisition_name(const std::string& name) {
  const auto names = acquisition_names();
  if (std::find(names.begin(), names.end(), to_lower(name)) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw InputError(str("unknown acquisition '", name, "'; expected one of ", list));
}

MCAcquisitionConfig mc_config(const AcquisitionSpec& spec) {
  MCAcquisitionConfig mc;
  mc.kind = mc_acquisition_kind_from_string(spec.name);
  mc.maximize = spec.maximize;
  mc.beta = spec.beta;
  mc.samples = spec.mc_samples;
  mc.seed = spec.seed;
  return mc;
}

const ExactGP& require_exact_gp(const Surrogate& model, const std::string& acquisition) {
  const auto* gp = dynamic_cast<const ExactGP*>(&model);
  SOZAI_CHECK(gp, "acquisition '", acquisition, "' needs a GP surrogate ('gp'), not ", model.name());
  return *gp;
}

std::vector<int64_t> select_batch(const Surrogate& model, const torch::Tensor& candidates,
                                  const torch::Tensor& available, int64_t q, const torch::Tensor& X_observed,
                                  const torch::Tensor& y_observed, const AcquisitionSpec& spec,
                                  const std::vector<int64_t>& pending) {
  check_acquisition_name(spec.name);
  if (to_lower(spec.name) == "thompson") {
    ThompsonConfig tc;
    tc.maximize = spec.maximize;
    tc.seed = spec.seed;
    return select_batch_thompson(require_exact_gp(model, spec.name), candidates, available, q, tc, pending);
  }
  if (is_mc_acquisition(spec.name))
    return select_batch_mc(model, candidates, available, q, X_observed, mc_config(spec), pending);
  AcquisitionParams params;
  params.kind = kernels::acquisition_kind_from_string(spec.name);
  params.maximize = spec.maximize;
  params.beta = spec.beta;
  if (params.kind != AcquisitionKind::UCB) params.best_f = best_latent_value(model, y_observed, spec.maximize);
  return select_batch_from_pool(model, candidates, available, q, params, pending);
}

}  // namespace sozai
