#include <sozai/core/bo/acquisition.h>
#include <sozai/core/bo/monte_carlo.h>
#include <sozai/core/bo/select.h>
#include <sozai/core/bo/thompson.h>
#include <sozai/core/common/error.h>

#include <algorithm>
#include <cctype>

namespace sozai {

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::vector<std::string> acquisition_names() { return {"ei", "logei", "ucb", "pi", "qlognei", "qucb", "thompson"}; }

void check_acquisition_name(const std::string& name) {
  const auto names = acquisition_names();
  if (std::find(names.begin(), names.end(), lower(name)) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw InputError(str("unknown acquisition '", name, "'; expected one of ", list));
}

std::vector<int64_t> select_batch(const Surrogate& model, const torch::Tensor& candidates,
                                  const torch::Tensor& available, int64_t q, const torch::Tensor& X_observed,
                                  const torch::Tensor& y_observed, const AcquisitionSpec& spec,
                                  const std::vector<int64_t>& pending) {
  check_acquisition_name(spec.name);
  if (lower(spec.name) == "thompson") {
    const auto* gp = dynamic_cast<const ExactGP*>(&model);
    SOZAI_CHECK(gp, "acquisition 'thompson' draws GP sample paths and needs surrogate 'gp', not ", model.name());
    ThompsonConfig tc;
    tc.maximize = spec.maximize;
    tc.seed = spec.seed;
    return select_batch_thompson(*gp, candidates, available, q, tc, pending);
  }
  if (is_mc_acquisition(spec.name)) {
    MCAcquisitionConfig mc;
    mc.kind = mc_acquisition_kind_from_string(spec.name);
    mc.maximize = spec.maximize;
    mc.beta = spec.beta;
    mc.samples = spec.mc_samples;
    mc.seed = spec.seed;
    return select_batch_mc(model, candidates, available, q, X_observed, mc, pending);
  }
  AcquisitionParams params;
  params.kind = kernels::acquisition_kind_from_string(spec.name);
  params.maximize = spec.maximize;
  params.beta = spec.beta;
  if (params.kind != AcquisitionKind::UCB) params.best_f = best_latent_value(model, y_observed, spec.maximize);
  return select_batch_from_pool(model, candidates, available, q, params, pending);
}

}  // namespace sozai
