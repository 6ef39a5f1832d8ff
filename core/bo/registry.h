#pragma once
/// The registry of acquisitions: every name sozai accepts, parsed once into
/// one AcquisitionKind, with what each supports. make_acquisition() builds
/// from it, campaign settings validate against it, acquisition_names() is
/// generated from it. Adding an acquisition is its file (the class and its
/// factory), its enum value and one line in registry.cpp.

#include "core/bo/acquisition.h"

#include <functional>
#include <string>
#include <vector>

namespace sozai {

/// How a batch grows by one point.
enum class BatchStrategy {
  KrigingBeliever,   ///< each pick is fantasised at its posterior mean before the next
  GreedySequential,  ///< each pick is scored jointly with the members (shared posterior samples)
  SamplePaths,       ///< each pick maximises its own posterior sample path
};

using AcquisitionFactory = std::function<std::unique_ptr<Acquisition>(
    const AcquisitionSpec&, const std::vector<const Surrogate*>&, const AcquisitionData&)>;

struct AcquisitionInfo {
  AcquisitionKind kind;
  std::string name;                  ///< lower case, as users write it
  std::vector<std::string> aliases;  ///< other accepted spellings
  std::string summary;               ///< one line for listings and errors
  BatchStrategy batch;
  bool joint = false;             ///< values q > 1 batches jointly ([b, q, d])
  bool constraints = false;       ///< weighs outcome constraints
  int max_objectives = 1;         ///< -1: any number
  bool single_objective = true;   ///< serves one objective with nothing else
  bool fidelities = false;        ///< needs fidelity costs (multi-fidelity pools only)
  bool spaces = true;             ///< can be optimised over a design space
  AcquisitionFactory make;
};

/// What an info says, as JSON: name, aliases, summary, batch
/// ("kriging_believer", "greedy_sequential", "sample_paths"), joint,
/// constraints, max_objectives, single_objective, fidelities, spaces.
nlohmann::json to_json(const AcquisitionInfo& info);

/// Every acquisition, in a fixed order.
const std::vector<AcquisitionInfo>& acquisition_registry();
const AcquisitionInfo& acquisition_info(AcquisitionKind kind);
/// The acquisition named `name` (any case, aliases accepted); InputError
/// listing every name otherwise.
const AcquisitionInfo& acquisition_info(const std::string& name);
/// The registry's names, in its order.
std::vector<std::string> acquisition_names();
/// The lower-case name of a kind.
const std::string& to_string(AcquisitionKind kind);
/// The default acquisition for these outcomes: qlognei for one objective
/// (with or without constraints: noisy, batch-aware, and ahead of LogEI on
/// every closed-loop set of benchmarks/results/bo_batch.md), qlognehvi for
/// several objectives.
AcquisitionKind default_acquisition(const std::vector<Outcome>& outcomes);
/// InputError naming `where` unless `kind` serves these outcomes (and
/// fidelities, and a design space when `space`), with the names that would.
void check_acquisition(AcquisitionKind kind, const std::vector<Outcome>& outcomes, bool fidelities, bool space,
                       const std::string& where);

}  // namespace sozai
