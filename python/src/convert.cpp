#include "convert.h"

#include <cmath>

namespace sozai {

bool is_pandas(py::handle o) {
  auto module = py::type::handle_of(o).attr("__module__");
  if (!py::isinstance<py::str>(module)) return false;
  const auto name = module.cast<std::string>();
  return name == "pandas" || name.rfind("pandas.", 0) == 0;
}

py::object pandas_to_array(py::handle o) {
  return py::module_::import("sozai.frames").attr("to_array")(o);
}

nlohmann::json to_json(py::handle v, const std::string& where, int depth) {
  SOZAI_CHECK(depth < 64, where, ": nested more than 64 levels deep");
  if (v.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py::isinstance<py::int_>(v)) return v.cast<int64_t>();
  if (py::isinstance<py::float_>(v)) return v.cast<double>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::dict>(v)) {
    auto out = nlohmann::json::object();
    for (const auto& item : v.cast<py::dict>()) {
      SOZAI_CHECK(py::isinstance<py::str>(item.first), where, ": keys must be strings, got ",
                  py::str(py::type::of(item.first)).cast<std::string>());
      const auto key = item.first.cast<std::string>();
      out[key] = to_json(item.second, where + "." + key, depth + 1);
    }
    return out;
  }
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    auto out = nlohmann::json::array();
    for (const auto& e : v) out.push_back(to_json(e, where, depth + 1));
    return out;
  }
  // numpy arrays and scalars (and anything else with tolist / item).
  if (py::hasattr(v, "tolist")) return to_json(v.attr("tolist")(), where, depth + 1);
  if (py::hasattr(v, "item")) return to_json(v.attr("item")(), where, depth + 1);
  throw InputError(str(where, ": cannot read a value of type ", py::str(py::type::of(v)).cast<std::string>()));
}

py::object to_python(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

nlohmann::json settings_json(const py::kwargs& kwargs, const py::object& maximize, const std::string& where) {
  auto j = to_json(kwargs, where);
  if (!maximize.is_none()) {
    SOZAI_CHECK(!j.contains("outcomes") || j.at("outcomes").is_null(), where,
                ": give maximize or outcomes, not both (maximize=", py::str(maximize).cast<std::string>(),
                " is the shorthand for outcomes=[{\"direction\": \"", maximize.cast<bool>() ? "maximize" : "minimize",
                "\"}])");
    j["outcomes"] = nlohmann::json::array({{{"direction", maximize.cast<bool>() ? "maximize" : "minimize"}}});
  }
  return j;
}

}  // namespace sozai
