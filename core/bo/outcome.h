#pragma once
/// What a measured outcome is for: an objective to maximise or minimise, or
/// an outcome constraint that keeps it at most or at least a limit. One
/// JSON form everywhere (campaign settings, Python, the command line, the
/// lab API, saved state):
///   {"name": "yield", "direction": "maximize"}
///   {"name": "cost", "direction": "at_most", "limit": 3.5}

#include <nlohmann/json.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace sozai {

struct Outcome {
  enum class Direction { Maximize, Minimize, AtMost, AtLeast };

  std::string name;  ///< may be empty for an unnamed single objective
  Direction direction = Direction::Maximize;
  double limit = 0.0;  ///< AtMost / AtLeast: the bound, in the outcome's units

  static Outcome maximize(std::string name = "");
  static Outcome minimize(std::string name = "");
  static Outcome at_most(std::string name, double limit);
  static Outcome at_least(std::string name, double limit);

  bool is_objective() const { return direction == Direction::Maximize || direction == Direction::Minimize; }
  /// Objectives: whether larger is better.
  bool maximizes() const { return direction == Direction::Maximize; }
  /// Constraints: how far a value is inside the limit (>= 0: satisfied).
  double slack(double value) const { return direction == Direction::AtMost ? limit - value : value - limit; }
  bool operator==(const Outcome& o) const {
    return name == o.name && direction == o.direction && (is_objective() || limit == o.limit);
  }
  bool operator!=(const Outcome& o) const { return !(*this == o); }
};

/// "maximize", "minimize", "at_most", "at_least".
const char* to_string(Outcome::Direction d);
/// The JSON form, for messages and test reports.
std::ostream& operator<<(std::ostream& os, const Outcome& o);

nlohmann::json outcome_to_json(const Outcome& o);
nlohmann::json outcomes_to_json(const std::vector<Outcome>& outcomes);
/// InputError naming `where` for anything but the JSON form above: an
/// unknown field or direction, a limit on an objective, a missing or
/// non-finite limit on a constraint, a name that is not a string.
/// require_name: the lab API, whose outcomes are reported by name.
Outcome outcome_from_json(const nlohmann::json& j, const std::string& where, bool require_name = false);
/// An array of outcomes; also refuses a repeated name and a list without
/// any objective.
std::vector<Outcome> outcomes_from_json(const nlohmann::json& j, const std::string& where, bool require_name = false);

/// Positions of the objectives among the outcomes.
std::vector<int64_t> objective_positions(const std::vector<Outcome>& outcomes);
/// Positions of the constraints.
std::vector<int64_t> constraint_positions(const std::vector<Outcome>& outcomes);

/// The text forms "max", "min", "<= b", ">= b" that campaign state files
/// written before format version 2 stored; read only to load those files.
/// InputError naming `where` otherwise.
Outcome outcome_from_legacy_text(const std::string& text, const std::string& where);

}  // namespace sozai
