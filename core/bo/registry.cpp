#include "core/bo/registry.h"
#include "common/error.h"
#include "common/strings.h"

#include <algorithm>

namespace sozai {

// Factories, one per file of core/bo.
std::unique_ptr<Acquisition> make_analytic_acquisition(const AcquisitionSpec&, const std::vector<const Surrogate*>&,
                                                       const AcquisitionData&);
std::unique_ptr<Acquisition> make_monte_carlo_acquisition(const AcquisitionSpec&,
                                                          const std::vector<const Surrogate*>&, const AcquisitionData&);
std::unique_ptr<Acquisition> make_multi_outcome_acquisition(const AcquisitionSpec&,
                                                            const std::vector<const Surrogate*>&,
                                                            const AcquisitionData&);
std::unique_ptr<Acquisition> make_thompson_acquisition(const AcquisitionSpec&, const std::vector<const Surrogate*>&,
                                                       const AcquisitionData&);
std::unique_ptr<Acquisition> make_augmented_ei(const AcquisitionSpec&, const std::vector<const Surrogate*>&,
                                               const AcquisitionData&);

namespace {

/// qLogNEI of one modelled objective in the latent space, or, with outcome
/// constraints, of the objective weighted by feasibility in original units.
std::unique_ptr<Acquisition> make_qlognei(const AcquisitionSpec& s, const std::vector<const Surrogate*>& m,
                                          const AcquisitionData& d) {
  return s.outcomes.size() > 1 ? make_multi_outcome_acquisition(s, m, d) : make_monte_carlo_acquisition(s, m, d);
}

using K = AcquisitionKind;
using B = BatchStrategy;

std::vector<AcquisitionInfo> build_registry() {
  // kind, name, aliases, summary, batch, joint, constraints, max objectives, single objective, fidelities, spaces
  return {
      {K::EI, "ei", {}, "expected improvement (analytic)", B::KrigingBeliever, false, false, 1, true, false, true,
       make_analytic_acquisition},
      {K::LogEI, "logei", {"log_ei"}, "log expected improvement (analytic, Ament et al. 2023)", B::KrigingBeliever,
       false, false, 1, true, false, true, make_analytic_acquisition},
      {K::UCB, "ucb", {}, "upper confidence bound, mean + sqrt(beta) sigma (analytic)", B::KrigingBeliever, false,
       false, 1, true, false, true, make_analytic_acquisition},
      {K::PI, "pi", {}, "probability of improvement (analytic)", B::KrigingBeliever, false, false, 1, true, false, true,
       make_analytic_acquisition},
      {K::qLogNEI, "qlognei", {"qlognoisyei"}, "Monte-Carlo log noisy expected improvement", B::GreedySequential, true,
       true, 1, true, false, true, make_qlognei},
      {K::qUCB, "qucb", {}, "Monte-Carlo upper confidence bound", B::GreedySequential, true, false, 1, true, false,
       true, make_monte_carlo_acquisition},
      {K::Thompson, "thompson", {}, "Thompson sampling from GP sample paths (pools of millions)", B::SamplePaths,
       false, false, 1, true, false, true, make_thompson_acquisition},
      {K::qNEHVI, "qnehvi", {}, "noisy expected hypervolume improvement, 2-3 objectives", B::GreedySequential, true,
       true, 3, false, false, true, make_multi_outcome_acquisition},
      {K::qLogNEHVI, "qlognehvi", {}, "log noisy expected hypervolume improvement, 2-3 objectives",
       B::GreedySequential, true, true, 3, false, false, true, make_multi_outcome_acquisition},
      {K::qParEGO, "qparego", {}, "qLogNEI on random Chebyshev scalarisations, any number of objectives",
       B::GreedySequential, true, true, -1, false, false, true, make_multi_outcome_acquisition},
      {K::AEI, "aei", {}, "augmented EI per unit cost over fidelities (multi-fidelity pools)", B::KrigingBeliever,
       false, false, 1, true, true, false, make_augmented_ei},
  };
}

/// Whether info can serve these outcomes (fidelities aside).
bool serves(const AcquisitionInfo& info, int64_t objectives, int64_t constraints) {
  if (objectives < 1) return false;
  if (info.max_objectives >= 0 && objectives > info.max_objectives) return false;
  if (constraints > 0 && !info.constraints) return false;
  return objectives + constraints > 1 || info.single_objective;
}

std::string or_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

}  // namespace

nlohmann::json to_json(const AcquisitionInfo& info) {
  static const char* batch[] = {"kriging_believer", "greedy_sequential", "sample_paths"};
  return {{"name", info.name},
          {"aliases", info.aliases},
          {"summary", info.summary},
          {"batch", batch[static_cast<int>(info.batch)]},
          {"joint", info.joint},
          {"constraints", info.constraints},
          {"max_objectives", info.max_objectives},
          {"single_objective", info.single_objective},
          {"fidelities", info.fidelities},
          {"spaces", info.spaces}};
}

const std::vector<AcquisitionInfo>& acquisition_registry() {
  static const std::vector<AcquisitionInfo> registry = build_registry();
  return registry;
}

const AcquisitionInfo& acquisition_info(AcquisitionKind kind) {
  for (const auto& info : acquisition_registry())
    if (info.kind == kind) return info;
  throw InputError(str("unknown acquisition kind ", static_cast<int>(kind)));
}

const AcquisitionInfo& acquisition_info(const std::string& name) {
  const auto n = to_lower(name);
  for (const auto& info : acquisition_registry()) {
    if (info.name == n) return info;
    if (std::find(info.aliases.begin(), info.aliases.end(), n) != info.aliases.end()) return info;
  }
  std::string list;
  for (const auto& info : acquisition_registry()) list += (list.empty() ? "" : ", ") + info.name;
  throw InputError(str("unknown acquisition '", name, "'; expected one of ", list));
}

std::vector<std::string> acquisition_names() {
  std::vector<std::string> out;
  for (const auto& info : acquisition_registry()) out.push_back(info.name);
  return out;
}

const std::string& to_string(AcquisitionKind kind) { return acquisition_info(kind).name; }

AcquisitionKind default_acquisition(const std::vector<Outcome>& outcomes) {
  return objective_positions(outcomes).size() > 1 ? AcquisitionKind::qLogNEHVI : AcquisitionKind::qLogNEI;
}

void check_acquisition(AcquisitionKind kind, const std::vector<Outcome>& outcomes, bool fidelities, bool space,
                       const std::string& where) {
  const auto& info = acquisition_info(kind);
  const auto objectives = static_cast<int64_t>(objective_positions(outcomes).size());
  const auto constraints = static_cast<int64_t>(outcomes.size()) - objectives;
  if (fidelities) {
    SOZAI_CHECK(!space, where, ": multi-fidelity campaigns run over pools (PoolCampaign with fidelity_costs)");
    SOZAI_CHECK(info.fidelities, where, ": a multi-fidelity campaign chooses by augmented EI per unit cost: "
                "acquisition must be 'aei', not '", info.name, "'");
    SOZAI_CHECK(outcomes.size() == 1, where, ": a multi-fidelity campaign has one objective; got ", outcomes.size(),
                " outcomes");
    return;
  }
  SOZAI_CHECK(!info.fidelities, where, ": acquisition '", info.name,
              "' needs fidelity_costs (a multi-fidelity pool whose last column is the fidelity)");
  SOZAI_CHECK(!space || info.spaces, where, ": acquisition '", info.name, "' cannot be optimised over a design space");
  if (serves(info, objectives, constraints)) return;
  std::vector<std::string> would;
  for (const auto& other : acquisition_registry())
    if (!other.fidelities && serves(other, objectives, constraints)) would.push_back(other.name);
  const std::string use = would.empty() ? std::string() : str("; use ", or_list(would));
  if (info.max_objectives == 1 && objectives > 1)
    throw InputError(str(where, ": acquisition '", info.name, "' takes one objective, got ", objectives, use));
  if (info.max_objectives > 1 && objectives > info.max_objectives)
    throw InputError(str(where, ": acquisition '", info.name, "' decomposes the front into boxes and supports up to ",
                         info.max_objectives, " objectives, got ", objectives, use));
  if (constraints > 0 && !info.constraints)
    throw InputError(str(where, ": acquisition '", info.name, "' cannot weigh outcome constraints (", constraints,
                         " given)", use));
  throw InputError(str(where, ": acquisition '", info.name, "' needs several outcomes (objectives or constraints)",
                       use));
}

}  // namespace sozai
