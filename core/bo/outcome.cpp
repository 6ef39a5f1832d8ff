#include "core/bo/outcome.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strings.h"

#include <cmath>
#include <set>

namespace sozai {

Outcome Outcome::maximize(std::string name) { return {std::move(name), Direction::Maximize, 0.0}; }
Outcome Outcome::minimize(std::string name) { return {std::move(name), Direction::Minimize, 0.0}; }
Outcome Outcome::at_most(std::string name, double limit) { return {std::move(name), Direction::AtMost, limit}; }
Outcome Outcome::at_least(std::string name, double limit) { return {std::move(name), Direction::AtLeast, limit}; }

const char* to_string(Outcome::Direction d) {
  switch (d) {
    case Outcome::Direction::Maximize: return "maximize";
    case Outcome::Direction::Minimize: return "minimize";
    case Outcome::Direction::AtMost: return "at_most";
    case Outcome::Direction::AtLeast: return "at_least";
  }
  return "?";
}

nlohmann::json outcome_to_json(const Outcome& o) {
  nlohmann::json j{{"direction", to_string(o.direction)}};
  if (!o.name.empty()) j["name"] = o.name;
  if (!o.is_objective()) j["limit"] = o.limit;
  return j;
}

std::ostream& operator<<(std::ostream& os, const Outcome& o) { return os << outcome_to_json(o).dump(); }

nlohmann::json outcomes_to_json(const std::vector<Outcome>& outcomes) {
  auto arr = nlohmann::json::array();
  for (const auto& o : outcomes) arr.push_back(outcome_to_json(o));
  return arr;
}

Outcome outcome_from_json(const nlohmann::json& j, const std::string& where, bool require_name) {
  if (!j.is_object())
    throw InputError(str(where, ": must be an object {\"name\", \"direction\", \"limit\"}, got ", j.type_name()));
  json_io::only_fields(j, {"name", "direction", "limit"}, where);
  Outcome o;
  o.name = json_io::optional<std::string>(j, "name", "", where);
  if (require_name && o.name.empty()) throw InputError(str(where, ": 'name' must be a non-empty string"));
  const auto dir = json_io::required<std::string>(j, "direction", where);
  bool known = false;
  for (auto d : {Outcome::Direction::Maximize, Outcome::Direction::Minimize, Outcome::Direction::AtMost,
                 Outcome::Direction::AtLeast})
    if (dir == to_string(d)) {
      o.direction = d;
      known = true;
    }
  if (!known)
    throw InputError(str(where, ": direction must be maximize, minimize, at_most or at_least, got \"", dir, "\""));
  if (o.is_objective()) {
    if (j.contains("limit")) throw InputError(str(where, ": 'limit' belongs to at_most / at_least outcomes"));
  } else {
    if (!j.contains("limit") || !j.at("limit").is_number() || !std::isfinite(j.at("limit").get<double>()))
      throw InputError(str(where, ": direction '", dir, "' needs a finite number 'limit'"));
    o.limit = j.at("limit").get<double>();
  }
  return o;
}

std::vector<Outcome> outcomes_from_json(const nlohmann::json& j, const std::string& where, bool require_name) {
  if (!j.is_array() || j.empty())
    throw InputError(str(where, ": must be a non-empty array of {\"name\", \"direction\", \"limit\"}"));
  std::vector<Outcome> out;
  std::set<std::string> names;
  for (size_t i = 0; i < j.size(); ++i) {
    out.push_back(outcome_from_json(j[i], str(where, "[", i, "]"), require_name));
    if (!out.back().name.empty() && !names.insert(out.back().name).second)
      throw InputError(str(where, "[", i, "]: name '", out.back().name, "' is used twice"));
  }
  if (objective_positions(out).empty())
    throw InputError(str(where, ": at least one outcome must be an objective (maximize or minimize), got ",
                         out.size(), " constraint(s)"));
  return out;
}

std::vector<int64_t> objective_positions(const std::vector<Outcome>& outcomes) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < outcomes.size(); ++i)
    if (outcomes[i].is_objective()) out.push_back(static_cast<int64_t>(i));
  return out;
}

std::vector<int64_t> constraint_positions(const std::vector<Outcome>& outcomes) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < outcomes.size(); ++i)
    if (!outcomes[i].is_objective()) out.push_back(static_cast<int64_t>(i));
  return out;
}

Outcome outcome_from_legacy_text(const std::string& text, const std::string& where) {
  std::string l;
  for (char c : to_lower(text))
    if (c != ' ' && c != '\t') l += c;
  if (l == "max" || l == "maximize") return Outcome::maximize();
  if (l == "min" || l == "minimize") return Outcome::minimize();
  if (l.size() > 2 && (l.compare(0, 2, "<=") == 0 || l.compare(0, 2, ">=") == 0)) {
    try {
      size_t used = 0;
      const double limit = std::stod(l.substr(2), &used);
      if (used == l.size() - 2 && std::isfinite(limit))
        return l[0] == '<' ? Outcome::at_most("", limit) : Outcome::at_least("", limit);
    } catch (const std::exception&) {
    }
  }
  throw InputError(str(where, ": '", text, "' is not an outcome; expected max, min, '<= bound' or '>= bound'"));
}

}  // namespace sozai
