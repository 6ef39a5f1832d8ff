#include "core/space/design_space_json.h"
#include "common/error.h"
#include "common/json.h"

#include <cmath>
#include <set>

namespace sozai {

namespace {

using nlohmann::json;

bool is_choice(ParameterType t) {
  return t == ParameterType::Categorical || t == ParameterType::Molecule || t == ParameterType::Structure;
}

const char* json_kind(const json& v) { return v.type_name(); }

/// The field `key` of object `j` (at `where`) as T, or InputError.
template <typename T>
T get(const json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key)) throw InputError(str(where, ": missing field '", key, "'"));
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw InputError(str(where, ": field '", key, "' has the wrong type (", json_kind(j.at(key)), ")"));
  }
}

template <typename T>
T get_or(const json& j, const std::string& key, const T& fallback, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  return get<T>(j, key, where);
}

double get_number(const json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key)) throw InputError(str(where, ": missing field '", key, "'"));
  const auto& v = j.at(key);
  if (!v.is_number()) throw InputError(str(where, ": field '", key, "' must be a number, got ", json_kind(v)));
  return v.get<double>();
}

using json_io::only_fields;

torch::Tensor descriptors_field(const json& p, const std::string& where) {
  if (!p.contains("descriptors") || p.at("descriptors").is_null()) return {};
  auto rows = get<std::vector<std::vector<double>>>(p, "descriptors", where);
  if (rows.empty()) return {};
  const size_t k = rows.front().size();
  std::vector<double> flat;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != k)
      throw InputError(str(where, ": descriptors row ", r, " has ", rows[r].size(), " values, row 0 has ", k));
    flat.insert(flat.end(), rows[r].begin(), rows[r].end());
  }
  return torch::tensor(flat, torch::kFloat64).reshape({static_cast<int64_t>(rows.size()), static_cast<int64_t>(k)});
}

json descriptors_json(const torch::Tensor& d) {
  if (!d.defined()) return nullptr;
  auto c = d.to(torch::kFloat64).contiguous();
  json rows = json::array();
  const double* p = c.data_ptr<double>();
  for (int64_t r = 0; r < c.size(0); ++r) rows.push_back(std::vector<double>(p + r * c.size(1), p + (r + 1) * c.size(1)));
  return rows;
}

ParameterType type_from_string(const std::string& t, const std::string& where) {
  for (auto type : {ParameterType::Continuous, ParameterType::Integer, ParameterType::Categorical,
                    ParameterType::Composition, ParameterType::Molecule, ParameterType::Structure})
    if (to_string(type) == t) return type;
  throw InputError(str(where, ": unknown type '", t,
                       "' (expected continuous, integer, categorical, composition, molecule or structure)"));
}

void add_parameter(DesignSpace& s, const json& p, const std::string& where) {
  if (!p.is_object()) throw InputError(str(where, ": must be an object, got ", json_kind(p)));
  const auto type = type_from_string(get<std::string>(p, "type", where), where);
  const auto name = get<std::string>(p, "name", where);
  const std::string at = str(where, " ('", name, "')");
  switch (type) {
    case ParameterType::Continuous:
      only_fields(p, {"name", "type", "low", "high", "log", "levels"}, at);
      s.add_continuous(name, get_number(p, "low", at), get_number(p, "high", at), get_or<bool>(p, "log", false, at),
                       get_or<int64_t>(p, "levels", 0, at));
      break;
    case ParameterType::Integer: {
      only_fields(p, {"name", "type", "low", "high", "log"}, at);
      const double lo = get_number(p, "low", at), hi = get_number(p, "high", at);
      if (lo != std::floor(lo) || hi != std::floor(hi))
        throw InputError(str(at, ": integer bounds must be whole numbers, got [", lo, ", ", hi, "]"));
      s.add_integer(name, static_cast<int64_t>(lo), static_cast<int64_t>(hi), get_or<bool>(p, "log", false, at));
      break;
    }
    case ParameterType::Composition:
      only_fields(p, {"name", "type", "elements", "low", "high", "step"}, at);
      s.add_composition(name, get<std::vector<std::string>>(p, "elements", at),
                        get_or<std::vector<double>>(p, "low", {}, at), get_or<std::vector<double>>(p, "high", {}, at),
                        get_or<double>(p, "step", 0.0, at));
      break;
    default: {
      only_fields(p, {"name", "type", "choices", "descriptors"}, at);
      auto choices = get<std::vector<std::string>>(p, "choices", at);
      auto d = descriptors_field(p, at);
      if (type == ParameterType::Categorical) s.add_categorical(name, choices, d);
      else if (type == ParameterType::Molecule) s.add_molecules(name, choices, d);
      else s.add_structures(name, choices, d);
    }
  }
}

/// Prefixes errors of the design-space builders with where they arose.
template <typename F>
void located(const std::string& where, F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    const std::string what = e.what();
    if (what.rfind(where, 0) == 0) throw;
    throw InputError(str(where, ": ", what));
  }
}

}  // namespace

json space_to_json(const DesignSpace& s) {
  json params = json::array();
  for (const auto& p : s.parameters()) {
    json j{{"name", p.name}, {"type", to_string(p.type)}};
    switch (p.type) {
      case ParameterType::Continuous:
        j["low"] = p.low;
        j["high"] = p.high;
        j["log"] = p.log_scale;
        j["levels"] = p.levels;
        break;
      case ParameterType::Integer:
        j["low"] = static_cast<int64_t>(p.low);
        j["high"] = static_cast<int64_t>(p.high);
        j["log"] = p.log_scale;
        break;
      case ParameterType::Composition:
        j["elements"] = p.elements;
        j["low"] = p.element_low;
        j["high"] = p.element_high;
        j["step"] = p.step;
        break;
      default:
        j["choices"] = p.choices;
        if (p.descriptors.defined()) j["descriptors"] = descriptors_json(p.descriptors);
    }
    params.push_back(j);
  }
  json constraints = json::array();
  for (const auto& c : s.constraints()) {
    json terms = json::object();
    for (const auto& t : c.terms) terms[t.first] = t.second;
    constraints.push_back({{"terms", terms}, {"rhs", c.rhs}, {"equality", c.equality}, {"tolerance", c.tolerance}});
  }
  json out{{"parameters", params}, {"constraints", constraints}, {"forbidden_elements", s.forbidden_elements()}};
  if (s.critical_budget() >= 0) {
    json risk = json::object();
    for (const auto& p : s.parameters())
      for (const auto& e : p.elements) risk[e] = s.critical_risk(e);
    out["critical_budget"] = {{"max_fraction", s.critical_budget()}, {"risk", risk}};
  }
  return out;
}

DesignSpace space_from_json(const json& j, const std::string& origin) {
  if (!j.is_object()) throw InputError(str(origin, ": a design space must be a JSON object, got ", json_kind(j)));
  only_fields(j, {"parameters", "constraints", "forbidden_elements", "critical_budget"}, origin);
  if (!j.contains("parameters") || !j.at("parameters").is_array() || j.at("parameters").empty())
    throw InputError(str(origin, ": 'parameters' must be a non-empty array"));
  DesignSpace s;
  const auto& params = j.at("parameters");
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string where = str(origin, ": parameters[", i, "]");
    located(where, [&] { add_parameter(s, params[i], where); });
  }
  if (j.contains("forbidden_elements") && !j.at("forbidden_elements").is_null()) {
    located(origin, [&] { s.forbid_elements(get<std::vector<std::string>>(j, "forbidden_elements", origin)); });
  }
  if (j.contains("constraints") && !j.at("constraints").is_null()) {
    const auto& cs = j.at("constraints");
    if (!cs.is_array()) throw InputError(str(origin, ": 'constraints' must be an array, got ", json_kind(cs)));
    for (size_t i = 0; i < cs.size(); ++i) {
      const std::string where = str(origin, ": constraints[", i, "]");
      const auto& c = cs[i];
      if (!c.is_object()) throw InputError(str(where, ": must be an object, got ", json_kind(c)));
      only_fields(c, {"terms", "rhs", "equality", "tolerance"}, where);
      LinearConstraint lc;
      const auto terms = get<std::map<std::string, double>>(c, "terms", where);
      lc.terms.assign(terms.begin(), terms.end());
      lc.rhs = get_number(c, "rhs", where);
      lc.equality = get_or<bool>(c, "equality", false, where);
      lc.tolerance = get_or<double>(c, "tolerance", 1e-9, where);
      located(where, [&] { s.add_linear_constraint(lc); });
    }
  }
  if (j.contains("critical_budget") && !j.at("critical_budget").is_null()) {
    const std::string where = str(origin, ": critical_budget");
    const auto& c = j.at("critical_budget");
    if (!c.is_object()) throw InputError(str(where, ": must be an object, got ", json_kind(c)));
    only_fields(c, {"max_fraction", "risk"}, where);
    located(where, [&] {
      s.set_critical_budget(get_number(c, "max_fraction", where),
                            get_or<std::map<std::string, double>>(c, "risk", {}, where));
    });
  }
  return s;
}

json candidate_to_json(const DesignSpace& s, const double* c) {
  json out = json::object();
  for (size_t i = 0; i < s.parameters().size(); ++i) {
    const auto& p = s.parameters()[i];
    const double* v = c + s.raw_offset(i);
    if (p.type == ParameterType::Composition) {
      json comp = json::object();
      for (size_t e = 0; e < p.elements.size(); ++e) comp[p.elements[e]] = v[e];
      out[p.name] = comp;
    } else if (is_choice(p.type)) {
      const auto idx = static_cast<size_t>(v[0]);
      SOZAI_CHECK(v[0] >= 0 && idx < p.choices.size(), "candidate_to_json: parameter '", p.name, "' has choice index ",
                  v[0], " outside [0, ", p.choices.size(), ")");
      out[p.name] = p.choices[idx];
    } else if (p.type == ParameterType::Integer) {
      out[p.name] = static_cast<int64_t>(std::llround(v[0]));
    } else {
      out[p.name] = v[0];
    }
  }
  return out;
}

std::vector<double> candidate_from_json(const DesignSpace& s, const json& j, const std::string& origin,
                                        bool check_feasible) {
  if (!j.is_object()) throw InputError(str(origin, ": parameters must be a JSON object, got ", json_kind(j)));
  std::vector<double> out(s.raw_width(), 0.0);
  std::set<std::string> names;
  for (size_t i = 0; i < s.parameters().size(); ++i) {
    const auto& p = s.parameters()[i];
    names.insert(p.name);
    const std::string where = str(origin, ": parameter '", p.name, "'");
    if (!j.contains(p.name)) throw InputError(str(where, " is missing"));
    const auto& v = j.at(p.name);
    double* o = out.data() + s.raw_offset(i);
    if (p.type == ParameterType::Composition) {
      if (!v.is_object()) throw InputError(str(where, " must be an object {element: fraction}, got ", json_kind(v)));
      for (auto it = v.begin(); it != v.end(); ++it) {
        auto e = std::find(p.elements.begin(), p.elements.end(), it.key());
        if (e == p.elements.end()) throw InputError(str(where, " has no element '", it.key(), "'"));
        if (!it.value().is_number()) throw InputError(str(where, ": fraction of ", it.key(), " must be a number"));
        o[e - p.elements.begin()] = it.value().get<double>();
      }
    } else if (is_choice(p.type)) {
      if (!v.is_string()) throw InputError(str(where, " must be one of its choices (a string), got ", json_kind(v)));
      auto c = std::find(p.choices.begin(), p.choices.end(), v.get<std::string>());
      if (c == p.choices.end()) throw InputError(str(where, ": '", v.get<std::string>(), "' is not one of its choices"));
      o[0] = static_cast<double>(c - p.choices.begin());
    } else {
      if (!v.is_number()) throw InputError(str(where, " must be a number, got ", json_kind(v)));
      o[0] = v.get<double>();
      if (!std::isfinite(o[0])) throw InputError(str(where, " is not finite"));
      if (p.type == ParameterType::Integer && o[0] != std::floor(o[0]))
        throw InputError(str(where, " must be a whole number, got ", o[0]));
    }
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!names.count(it.key())) throw InputError(str(origin, ": unknown parameter '", it.key(), "'"));
  if (check_feasible) {
    const auto why = s.violation(out.data());
    if (!why.empty()) throw InputError(str(origin, ": outside the design space: ", why));
  }
  return out;
}

}  // namespace sozai
