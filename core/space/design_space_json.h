#pragma once
/// JSON form of design spaces and of candidates in them: what a space
/// campaign saves, and what the lab service's API takes and returns.
///
/// A space:
///   {"parameters": [
///      {"name": "T", "type": "continuous", "low": 300, "high": 900, "log": false, "levels": 0},
///      {"name": "n", "type": "integer", "low": 1, "high": 5},
///      {"name": "route", "type": "categorical", "choices": ["cast", "forged"], "descriptors": [[..], [..]]},
///      {"name": "alloy", "type": "composition", "elements": ["Fe", "Co"], "low": [..], "high": [..], "step": 0.05},
///      {"name": "solvent", "type": "molecule", "choices": ["CCO", ...]},
///      {"name": "phase", "type": "structure", "choices": [CIF or POSCAR text, ...]}],
///    "constraints": [{"terms": {"T": 1.0, "alloy.Co": 100.0}, "rhs": 950, "equality": false, "tolerance": 1e-9}],
///    "forbidden_elements": ["Co"],
///    "critical_budget": {"max_fraction": 0.2, "risk": {"Co": 0.9}}}
/// Only name and type (and choices or elements, or low and high) are
/// required. A candidate: {"T": 512.5, "n": 3, "route": "cast",
/// "alloy": {"Fe": 0.7, "Co": 0.3}} (elements left out of a composition
/// are 0).

#include "core/space/design_space.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace sozai {

nlohmann::json space_to_json(const DesignSpace& space);
/// InputError naming `origin`, the parameter or constraint (by position and
/// name) and the field that is missing, of the wrong type, unknown or out of
/// range.
DesignSpace space_from_json(const nlohmann::json& j, const std::string& origin = "design space");

/// The named values of a raw candidate [raw_width].
nlohmann::json candidate_to_json(const DesignSpace& space, const double* candidate);
/// A raw candidate from named values. InputError naming `origin` and the
/// parameter for a missing or unknown name, a value of the wrong type, a
/// choice not offered, or (when check_feasible) a value outside the space
/// or a violated constraint.
std::vector<double> candidate_from_json(const DesignSpace& space, const nlohmann::json& j,
                                        const std::string& origin = "candidate", bool check_feasible = true);

}  // namespace sozai
