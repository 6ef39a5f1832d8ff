#pragma once
/// Reading typed fields out of JSON objects with errors that say where:
/// the one field checker every layer uses (campaign settings, design
/// spaces, saved state, the lab API). Errors are InputError for what a user
/// sent and StorageError for what was read back from a file (the template
/// parameter E), and always name the place, the field and what was expected:
///   "spec.json: parameters[0] ('T'): missing field 'high'"
///   "settings: field 'n_init' has the wrong type: 'n_init' must be a whole number, got string"

#include "common/error.h"
#include "common/strings.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace sozai {
namespace json_io {

using nlohmann::json;

/// What a value of type T looks like in JSON, for error messages.
template <typename T, typename = void>
struct Expected {
  static std::string text() { return "a value of another type"; }
};
template <>
struct Expected<bool> {
  static std::string text() { return "true or false"; }
};
template <typename T>
struct Expected<T, std::enable_if_t<std::is_integral<T>::value && !std::is_same<T, bool>::value>> {
  static std::string text() { return std::is_unsigned<T>::value ? "a non-negative whole number" : "a whole number"; }
};
template <typename T>
struct Expected<T, std::enable_if_t<std::is_floating_point<T>::value>> {
  static std::string text() { return "a number"; }
};
template <>
struct Expected<std::string> {
  static std::string text() { return "a string"; }
};
template <>
struct Expected<json> {
  static std::string text() { return "a JSON value"; }
};
template <typename T>
struct Expected<std::vector<T>> {
  static std::string text() {
    auto inner = Expected<T>::text();
    if (inner.rfind("a ", 0) == 0) inner = inner.substr(2) + "s";
    return "an array of " + inner;
  }
};

/// Whether v holds a T without losing anything (nlohmann would turn 2.5
/// into the integer 2 and -1 into a huge unsigned value; we refuse both).
template <typename T>
bool holds(const json& v) {
  if constexpr (std::is_same<T, json>::value) {
    return true;
  } else if constexpr (std::is_same<T, bool>::value) {
    return v.is_boolean();
  } else if constexpr (std::is_integral<T>::value) {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (v.is_number_integer()) return std::is_signed<T>::value || v.get<int64_t>() >= 0;
    if (!v.is_number_float()) return false;
    const double d = v.get<double>();
    return std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
           d <= static_cast<double>(std::numeric_limits<T>::max());
  } else if constexpr (std::is_floating_point<T>::value) {
    return v.is_number();
  } else if constexpr (std::is_same<T, std::string>::value) {
    return v.is_string();
  } else {
    if (!v.is_array()) return false;
    for (const auto& e : v)
      if (!holds<typename T::value_type>(e)) return false;
    return true;
  }
}

/// v as T; E naming `where` and `what` when it does not hold one.
template <typename T, typename E = InputError>
T as(const json& v, const std::string& where, const std::string& what) {
  if (!holds<T>(v))
    throw E(str(where, ": ", what, " must be ", Expected<T>::text(), ", got ", v.is_null() ? "null" : v.type_name()));
  if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
    if (v.is_number_float()) return static_cast<T>(v.get<double>());
  }
  return v.get<T>();
}

/// Field `key` of object j as T; E naming `where` when it is missing or
/// has the wrong type.
template <typename T, typename E = InputError>
T required(const json& j, const std::string& key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw E(str(where, ": missing field '", key, "'"));
  const auto& v = j.at(key);
  if (!holds<T>(v))
    throw E(str(where, ": field '", key, "' has the wrong type: '", key, "' must be ", Expected<T>::text(), ", got ",
                v.is_null() ? "null" : v.type_name()));
  return as<T, E>(v, where, key);
}

/// Field `key` as T, or `fallback` when it is absent or null.
template <typename T, typename E = InputError>
T optional(const json& j, const std::string& key, const T& fallback, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return fallback;
  return required<T, E>(j, key, where);
}

/// E unless j is an object.
template <typename E = InputError>
void require_object(const json& j, const std::string& where) {
  if (!j.is_object()) throw E(str(where, ": must be a JSON object, got ", j.type_name()));
}

/// E naming the first key of object j that is not in `allowed`.
template <typename E = InputError>
void only_fields(const json& j, const std::set<std::string>& allowed, const std::string& where) {
  require_object<E>(j, where);
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!allowed.count(it.key())) {
      throw E(str(where, ": unknown field '", it.key(), "' (expected ", join(allowed), ")"));
    }
}

/// Checks that every key of object j is one of `base`'s, with a value of
/// the type base's has (whole numbers for integers, numbers for floats,
/// nested objects recursively); E naming `where` and the key otherwise.
template <typename E = InputError>
void check_like(const json& j, const json& base, const std::string& where) {
  require_object<E>(j, where);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& key = it.key();
    const auto& v = it.value();
    if (!base.contains(key)) {
      std::string list;
      for (auto b = base.begin(); b != base.end(); ++b) list += (list.empty() ? "" : ", ") + b.key();
      throw E(str(where, ": unknown field '", key, "' (expected ", list, ")"));
    }
    if (v.is_null()) continue;  // absent: the base's value
    const auto& d = base.at(key);
    auto refuse = [&](const std::string& expected) {
      throw E(str(where, ": field '", key, "' has the wrong type: '", key, "' must be ", expected, ", got ",
                  v.type_name()));
    };
    if (d.is_object()) {
      check_like<E>(v, d, str(where, ": ", key));
    } else if (d.is_boolean()) {
      if (!holds<bool>(v)) refuse(Expected<bool>::text());
    } else if (d.is_number_unsigned()) {
      if (!holds<uint64_t>(v)) refuse(Expected<uint64_t>::text());
    } else if (d.is_number_integer()) {
      if (!holds<int64_t>(v)) refuse(Expected<int64_t>::text());
    } else if (d.is_number_float()) {
      if (!holds<double>(v)) refuse(Expected<double>::text());
    } else if (d.is_string()) {
      if (!holds<std::string>(v)) refuse(Expected<std::string>::text());
    } else if (d.is_array()) {
      if (!v.is_array()) refuse("an array");
      if (!d.empty())
        for (const auto& e : v)
          if (e.type() != d.front().type() && !(e.is_number() && d.front().is_number()))
            refuse(str("an array of ", d.front().type_name(), "s"));
    }
  }
}

/// A struct read from object j over the values of `base`: the fields are
/// those the struct's to_json writes (NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_
/// WITH_DEFAULT lists them once), checked by check_like, so every struct
/// read this way refuses unknown fields and wrong types with the same
/// messages. Absent (or null) fields keep base's values.
template <typename T, typename E = InputError>
T read_fields(const json& j, const std::string& where, const T& base = T{}) {
  json merged = base;
  check_like<E>(j, merged, where);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_null()) continue;
    if (it.value().is_object()) merged[it.key()].merge_patch(it.value());
    else merged[it.key()] = it.value();
  }
  // Whole numbers given as 4.0 become integers where the field is one.
  return merged.get<T>();
}

/// Parses text; E naming `where` when it is not JSON.
template <typename E = InputError>
json parse(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw E(str(where, ": not valid JSON: ", e.what()));
  }
}

/// Deepest nesting of arrays and objects in JSON text, found without
/// parsing (strings skipped), so text nested too deep for a recursive
/// reader or writer is refused before either sees it.
inline size_t nesting_depth(const std::string& text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

/// Parses JSON sent by someone who may be hostile: InputError naming
/// `where` for text that is not JSON or not UTF-8, nested deeper than
/// max_depth, or with an object that repeats a key (which parsers resolve
/// differently: first wins, last wins).
inline json parse_untrusted(const std::string& text, const std::string& where, size_t max_depth = 64) {
  if (nesting_depth(text) > max_depth)
    throw InputError(str(where, ": JSON nested deeper than ", max_depth, " levels"));
  std::vector<std::set<std::string>> keys;
  std::string repeated;
  auto check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    else if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    else if (event == json::parse_event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
             repeated.empty())
      repeated = parsed.get<std::string>();
    return true;
  };
  json out;
  try {
    out = json::parse(text, check);
  } catch (const json::exception& e) {
    throw InputError(str(where, ": not valid JSON: ", e.what()));
  }
  if (!repeated.empty()) throw InputError(str(where, ": the key '", printable(repeated, 100), "' appears twice in one object"));
  return out;
}

/// JSON text that never throws: bytes that are not UTF-8 become U+FFFD.
inline std::string dump_safe(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace json_io
}  // namespace sozai
