/// Readers for closed-loop experiment pools (see closed_loop.h).
///
/// Both formats end in the same place: a float64 design matrix X with one
/// row per distinct experiment, the mean outcome Y over its repeats, and the
/// repeat counts, which is how Liang et al. (2021) treat the PV-Lab sets.

#include "common/error.h"
#include "datasets/closed_loop.h"
#include "datasets/csv.h"
#include "datasets/registry.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unordered_map>

namespace sozai {
namespace {

using nlohmann::json;

std::string file_stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

/// Name of the last path component of a folder, ignoring a trailing '/'.
std::string dir_name(const std::string& dir) {
  std::filesystem::path p(dir);
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

/// Builds the [n, cols] float64 tensor from a row-major buffer.
torch::Tensor to_tensor(const std::vector<double>& values, int64_t n, int64_t cols) {
  auto t = torch::empty({n, cols}, torch::kFloat64);
  if (n * cols > 0) std::memcpy(t.data_ptr<double>(), values.data(), sizeof(double) * n * cols);
  return t;
}

// ------------------------------------------------------------------ Olympus

/// How one config parameter turns a data.csv cell into columns of X.
struct ParameterCoding {
  enum class Kind { kNumber, kOneHot, kDescriptors };
  std::string name;
  Kind kind = Kind::kNumber;
  std::vector<std::string> options;             ///< categorical only
  std::vector<std::vector<double>> descriptors;  ///< kDescriptors: one vector per option
};

/// How one measurement turns a data.csv cell into a column of Y.
struct MeasurementCoding {
  std::string name;
  bool ordinal = false;
  std::vector<std::string> options;  ///< ordinal only, lowest first
};

/// Reads and parses config.json; a missing file is a storage error, bad
/// JSON an input error naming the file.
json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw StorageError(str(path, ": cannot open for reading (", std::strerror(errno), ")"));
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw InputError(str(path, ": expected valid JSON, got a parse error: ", e.what()));
  }
}

/// Checked access to a string member of a JSON object.
std::string json_string(const json& obj, const char* key, const std::string& where) {
  SOZAI_CHECK(obj.is_object() && obj.contains(key) && obj[key].is_string(), where,
              ": expected a string field '", key, "', got ",
              obj.is_object() && obj.contains(key) ? obj[key].dump() : std::string("none"));
  return obj[key].get<std::string>();
}

/// Checked access to a list of option names ("options").
std::vector<std::string> json_options(const json& obj, const std::string& where) {
  SOZAI_CHECK(obj.contains("options") && obj["options"].is_array() && !obj["options"].empty(), where,
              ": expected a non-empty list 'options', got ",
              obj.contains("options") ? obj["options"].dump() : std::string("none"));
  std::vector<std::string> options;
  for (const auto& o : obj["options"]) {
    SOZAI_CHECK(o.is_string(), where, ": expected option names as strings, got ", o.dump());
    options.push_back(o.get<std::string>());
  }
  return options;
}

/// The descriptor vectors of a categorical parameter when every option has
/// a numeric vector of one common, non-zero length; empty otherwise (e.g.
/// vapdiff_crystal lists descriptor *names* only, lnp3's solid_lipid none).
std::vector<std::vector<double>> numeric_descriptors(const json& p, size_t n_options) {
  if (!p.contains("descriptors") || !p["descriptors"].is_array()) return {};
  const json& desc = p["descriptors"];
  if (desc.size() != n_options) return {};
  std::vector<std::vector<double>> out;
  for (const auto& d : desc) {
    if (!d.is_array() || d.empty()) return {};
    std::vector<double> v;
    for (const auto& x : d) {
      if (!x.is_number()) return {};
      v.push_back(x.get<double>());
    }
    if (!out.empty() && v.size() != out.front().size()) return {};
    out.push_back(std::move(v));
  }
  return out;
}

/// The name and type every parameters[] / measurements[] entry carries, and
/// where the entry is ("config.json: parameters[2] ('temp')") for errors.
struct EntryHead {
  std::string name, type, where;
};

EntryHead entry_head(const json& e, const std::string& config_path, const char* list, size_t index) {
  const std::string at = str(config_path, ": ", list, "[", index, "]");
  EntryHead h;
  h.name = json_string(e, "name", at);
  h.where = at + " ('" + h.name + "')";
  h.type = json_string(e, "type", h.where);
  return h;
}

ParameterCoding parse_parameter(const json& p, const std::string& config_path, size_t index) {
  const EntryHead h = entry_head(p, config_path, "parameters", index);
  const std::string& type = h.type;
  ParameterCoding c;
  c.name = h.name;
  if (type == "continuous" || type == "discrete") {
    c.kind = ParameterCoding::Kind::kNumber;
  } else if (type == "categorical") {
    c.options = json_options(p, h.where);
    c.descriptors = numeric_descriptors(p, c.options.size());
    c.kind = c.descriptors.empty() ? ParameterCoding::Kind::kOneHot : ParameterCoding::Kind::kDescriptors;
  } else {
    throw InputError(str(h.where, ": expected type continuous, discrete or categorical, got '", type, "'"));
  }
  return c;
}

MeasurementCoding parse_measurement(const json& m, const std::string& config_path, size_t index) {
  const EntryHead h = entry_head(m, config_path, "measurements", index);
  MeasurementCoding c;
  c.name = h.name;
  if (h.type == "ordinal") {
    c.ordinal = true;
    c.options = json_options(m, h.where);
  } else {
    SOZAI_CHECK(h.type == "continuous", h.where, ": expected type continuous or ordinal, got '", h.type, "'");
  }
  return c;
}

/// "maximize"/"minimize" (either spelling) → true/false.
bool parse_goal(const json& g, const std::string& config_path) {
  SOZAI_CHECK(g.is_string(), config_path, ": default_goal: expected \"maximize\" or \"minimize\", got ",
              g.dump());
  const std::string s = g.get<std::string>();
  if (s == "maximize" || s == "maximise") return true;
  if (s == "minimize" || s == "minimise") return false;
  throw InputError(str(config_path, ": default_goal: expected \"maximize\" or \"minimize\", got \"", s, "\""));
}

/// Index of `cell` in `options`, or InputError naming file, row and column.
size_t option_index(const CsvTable& table, size_t row, size_t col, const std::string& column,
                    const std::vector<std::string>& options) {
  const std::string& cell = table.rows[row][col];
  for (size_t k = 0; k < options.size(); ++k)
    if (options[k] == cell) return k;
  std::string list;
  for (const auto& o : options) list += (list.empty() ? "'" : ", '") + o + "'";
  throw InputError(str(table.path, ": row ", table.line_of_row[row], ", column '", column,
                       "': expected one of ", list, ", got '", cell, "'"));
}

/// Reads an Olympus pair given both file paths (they may come from
/// different search folders when resolved through the registry).
ClosedLoopDataset read_olympus_files(const std::string& config_path, const std::string& data_path,
                                     const std::string& name) {
  const json config = read_json(config_path);
  SOZAI_CHECK(config.is_object(), config_path, ": expected a JSON object, got ", config.type_name());
  SOZAI_CHECK(config.contains("parameters") && config["parameters"].is_array() &&
                  !config["parameters"].empty(),
              config_path, ": expected a non-empty list 'parameters'");
  SOZAI_CHECK(config.contains("measurements") && config["measurements"].is_array() &&
                  !config["measurements"].empty(),
              config_path, ": expected a non-empty list 'measurements'");

  std::vector<ParameterCoding> params;
  for (size_t i = 0; i < config["parameters"].size(); ++i)
    params.push_back(parse_parameter(config["parameters"][i], config_path, i));
  std::vector<MeasurementCoding> measures;
  for (size_t i = 0; i < config["measurements"].size(); ++i)
    measures.push_back(parse_measurement(config["measurements"][i], config_path, i));

  ClosedLoopDataset out;
  out.name = name;
  for (const auto& m : measures) out.objective_names.push_back(m.name);

  // default_goal: one string for a single objective, or one per objective.
  SOZAI_CHECK(config.contains("default_goal"), config_path, ": expected a field 'default_goal'");
  const json& goal = config["default_goal"];
  if (goal.is_array()) {
    SOZAI_CHECK(goal.size() == measures.size(), config_path, ": default_goal: expected ", measures.size(),
                " entries (one per measurement), got ", goal.size());
    for (const auto& g : goal) out.maximize.push_back(parse_goal(g, config_path));
  } else {
    SOZAI_CHECK(measures.size() == 1, config_path, ": default_goal: expected a list of ", measures.size(),
                " goals (one per measurement), got ", goal.dump());
    out.maximize.push_back(parse_goal(goal, config_path));
  }

  for (const auto& p : params) {
    switch (p.kind) {
      case ParameterCoding::Kind::kNumber:
        out.input_names.push_back(p.name);
        break;
      case ParameterCoding::Kind::kOneHot:
        for (const auto& o : p.options) out.input_names.push_back(p.name + "=" + o);
        break;
      case ParameterCoding::Kind::kDescriptors:
        for (size_t k = 0; k < p.descriptors.front().size(); ++k)
          out.input_names.push_back(str(p.name, "[", k, "]"));
        break;
    }
  }

  const CsvTable table = read_csv(data_path, /*has_header=*/false);
  SOZAI_CHECK(!table.rows.empty(), data_path, ": expected data rows, got none");
  const size_t width = params.size() + measures.size();
  SOZAI_CHECK(table.rows.front().size() == width, data_path, ": expected ", width, " columns (",
              params.size(), " parameters + ", measures.size(), " measurements in ", config_path,
              "), got ", table.rows.front().size());

  const int64_t n = static_cast<int64_t>(table.rows.size());
  const int64_t d = static_cast<int64_t>(out.input_names.size());
  const int64_t m = static_cast<int64_t>(measures.size());
  std::vector<double> x, y;
  x.reserve(n * d);
  y.reserve(n * m);
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (size_t j = 0; j < params.size(); ++j) {
      const auto& p = params[j];
      switch (p.kind) {
        case ParameterCoding::Kind::kNumber:
          x.push_back(parse_cell_double(table, r, j, p.name));
          break;
        case ParameterCoding::Kind::kOneHot: {
          const size_t k = option_index(table, r, j, p.name, p.options);
          for (size_t o = 0; o < p.options.size(); ++o) x.push_back(o == k ? 1.0 : 0.0);
          break;
        }
        case ParameterCoding::Kind::kDescriptors: {
          const size_t k = option_index(table, r, j, p.name, p.options);
          x.insert(x.end(), p.descriptors[k].begin(), p.descriptors[k].end());
          break;
        }
      }
    }
    for (size_t j = 0; j < measures.size(); ++j) {
      const auto& mc = measures[j];
      const size_t col = params.size() + j;
      y.push_back(mc.ordinal ? static_cast<double>(option_index(table, r, col, mc.name, mc.options))
                             : parse_cell_double(table, r, col, mc.name));
    }
  }
  out.X = to_tensor(x, n, d);
  out.Y = to_tensor(y, n, m);
  out.counts = torch::ones({n}, torch::kInt64);
  out.raw_rows = n;
  return average_repeats(out);
}

// --------------------------------------------------------- repeat grouping

/// Hash of one X row by value; 0.0 and -0.0 hash alike (std::hash<double>
/// maps both to 0), matching the == used for grouping.
struct RowHash {
  const double* x;
  int64_t d;
  size_t operator()(int64_t i) const {
    size_t h = 0;
    for (int64_t j = 0; j < d; ++j)
      h ^= std::hash<double>{}(x[i * d + j]) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
  }
};

struct RowEqual {
  const double* x;
  int64_t d;
  bool operator()(int64_t a, int64_t b) const {
    for (int64_t j = 0; j < d; ++j)
      if (!(x[a * d + j] == x[b * d + j])) return false;
    return true;
  }
};

/// Objective directions of the PV-Lab sets: their CSVs carry no direction,
/// so it is recorded here from Liang et al. (2021) / shared/data/README.md.
bool pvlab_maximize(const std::string& name) {
  if (name == "p3ht") return true;            // conductivity
  if (name == "agnp") return false;           // spectral loss
  if (name == "crossed_barrel") return true;  // toughness
  if (name == "autoam") return true;          // print score
  throw InputError(str("dataset '", name, "': no objective direction known for this PV-Lab set"));
}

}  // namespace

ClosedLoopDataset read_pvlab_csv(const std::string& path, bool maximize, const std::string& name) {
  const CsvTable table = read_csv(path, /*has_header=*/true);
  const size_t cols = table.header.size();
  SOZAI_CHECK(cols >= 2, path, ": expected at least 2 columns (inputs, then the objective), got ", cols);
  SOZAI_CHECK(!table.rows.empty(), path, ": expected data rows, got none");

  ClosedLoopDataset out;
  out.name = name.empty() ? file_stem(path) : name;
  out.input_names.assign(table.header.begin(), table.header.end() - 1);
  out.objective_names = {table.header.back()};
  out.maximize = {maximize};

  const int64_t n = static_cast<int64_t>(table.rows.size());
  const int64_t d = static_cast<int64_t>(cols - 1);
  std::vector<double> x, y;
  x.reserve(n * d);
  y.reserve(n);
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (size_t j = 0; j + 1 < cols; ++j) x.push_back(parse_cell_double(table, r, j, table.header[j]));
    y.push_back(parse_cell_double(table, r, cols - 1, table.header.back()));
  }
  out.X = to_tensor(x, n, d);
  out.Y = to_tensor(y, n, 1);
  out.counts = torch::ones({n}, torch::kInt64);
  out.raw_rows = n;
  return average_repeats(out);
}

ClosedLoopDataset read_olympus_dir(const std::string& dir, const std::string& name) {
  return read_olympus_files(dir + "/config.json", dir + "/data.csv", name.empty() ? dir_name(dir) : name);
}

ClosedLoopDataset load_closed_loop(const std::string& name) {
  const DatasetInfo& info = dataset_info(name);
  SOZAI_CHECK(info.closed_loop, "dataset '", name, "' is a ", info.kind,
              " dataset, expected a closed-loop one (kind pvlab or olympus)");
  if (info.kind == "pvlab") {
    SOZAI_ASSERT(info.files.size() == 1);
    return read_pvlab_csv(dataset_path(info, info.files[0].relative_path), pvlab_maximize(name), name);
  }
  SOZAI_ASSERT(info.kind == "olympus");
  std::string config, data;
  for (const auto& f : info.files) {
    const std::string base = std::filesystem::path(f.relative_path).filename().string();
    if (base == "config.json") config = dataset_path(info, f.relative_path);
    if (base == "data.csv") data = dataset_path(info, f.relative_path);
  }
  SOZAI_ASSERT(!config.empty() && !data.empty());
  return read_olympus_files(config, data, name);
}

ClosedLoopDataset average_repeats(const ClosedLoopDataset& raw) {
  SOZAI_CHECK(raw.X.defined() && raw.X.dim() == 2, "average_repeats: expected X of shape [n, d], got ",
              raw.X.defined() ? raw.X.sizes() : c10::IntArrayRef{});
  SOZAI_CHECK(raw.Y.defined() && raw.Y.dim() == 2 && raw.Y.size(0) == raw.X.size(0),
              "average_repeats: expected Y of shape [", raw.X.size(0), ", m], got ",
              raw.Y.defined() ? raw.Y.sizes() : c10::IntArrayRef{});
  const int64_t n = raw.X.size(0), d = raw.X.size(1), m = raw.Y.size(1);
  SOZAI_CHECK(raw.input_names.empty() || static_cast<int64_t>(raw.input_names.size()) == d,
              "average_repeats: expected ", d, " input names, got ", raw.input_names.size());
  SOZAI_CHECK(raw.objective_names.empty() || static_cast<int64_t>(raw.objective_names.size()) == m,
              "average_repeats: expected ", m, " objective names, got ", raw.objective_names.size());

  const auto X = raw.X.to(torch::kFloat64).contiguous();
  const auto Y = raw.Y.to(torch::kFloat64).contiguous();
  // Already-averaged rows carry their repeat counts: weighting by them makes
  // averaging again a no-op rather than a change of the means.
  torch::Tensor w;
  if (raw.counts.defined()) {
    SOZAI_CHECK(raw.counts.dim() == 1 && raw.counts.size(0) == n, "average_repeats: expected counts of shape [",
                n, "], got ", raw.counts.sizes());
    w = raw.counts.to(torch::kInt64).contiguous();
    SOZAI_CHECK(n == 0 || w.min().item<int64_t>() >= 1,
                "average_repeats: expected counts >= 1, got a minimum of ", w.min().item<int64_t>());
  } else {
    w = torch::ones({n}, torch::kInt64);
  }
  const double* x = X.data_ptr<double>();
  const double* y = Y.data_ptr<double>();
  const int64_t* c = w.data_ptr<int64_t>();

  std::unordered_map<int64_t, int64_t, RowHash, RowEqual> group_of(
      static_cast<size_t>(n) + 1, RowHash{x, d}, RowEqual{x, d});
  std::vector<int64_t> first_row;    // representative raw row of each group
  std::vector<double> sums;          // [groups, m] weighted sums of Y
  std::vector<int64_t> counts;
  for (int64_t i = 0; i < n; ++i) {
    const auto [it, inserted] = group_of.emplace(i, static_cast<int64_t>(first_row.size()));
    const int64_t g = it->second;
    if (inserted) {
      first_row.push_back(i);
      sums.insert(sums.end(), m, 0.0);
      counts.push_back(0);
    }
    for (int64_t k = 0; k < m; ++k) sums[g * m + k] += static_cast<double>(c[i]) * y[i * m + k];
    counts[g] += c[i];
  }

  const int64_t groups = static_cast<int64_t>(first_row.size());
  std::vector<double> ux;
  ux.reserve(groups * d);
  for (int64_t g = 0; g < groups; ++g) {
    ux.insert(ux.end(), x + first_row[g] * d, x + (first_row[g] + 1) * d);
    for (int64_t k = 0; k < m; ++k) sums[g * m + k] /= static_cast<double>(counts[g]);
  }

  ClosedLoopDataset out;
  out.name = raw.name;
  out.input_names = raw.input_names;
  out.objective_names = raw.objective_names;
  out.maximize = raw.maximize;
  out.X = to_tensor(ux, groups, d);
  out.Y = to_tensor(sums, groups, m);
  out.counts = torch::empty({groups}, torch::kInt64);
  if (groups > 0) std::memcpy(out.counts.data_ptr<int64_t>(), counts.data(), sizeof(int64_t) * groups);
  int64_t total = 0;
  for (int64_t k : counts) total += k;
  out.raw_rows = raw.raw_rows > 0 ? raw.raw_rows : total;
  return out;
}

}  // namespace sozai
