#include "common/error.h"
#include "datasets/composition.h"
#include "datasets/crystal_graph.h"
#include "datasets/csv.h"
#include "datasets/polymer.h"
#include "datasets/property_import.h"
#include "datasets/registry.h"
#include "common/sha256.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <set>
#include <sstream>

namespace sozai {

std::map<std::string, int64_t> PropertyImportReport::counts() const {
  std::map<std::string, int64_t> c;
  for (const auto& b : bad_rows) ++c[b.reason];
  return c;
}

std::string PropertyImportReport::summary() const {
  std::ostringstream s;
  s << path << ": kept " << rows_kept << " of " << rows_read << " rows";
  const auto c = counts();
  if (!c.empty()) {
    s << "; left out:";
    bool first = true;
    for (const auto& [reason, n] : c) {
      s << (first ? " " : ", ") << reason << " " << n;
      first = false;
    }
  }
  return s.str();
}

namespace {

size_t column_index(const CsvTable& t, const std::string& name) {
  for (size_t j = 0; j < t.header.size(); ++j)
    if (t.header[j] == name) return j;
  std::string known;
  for (const auto& h : t.header) known += (known.empty() ? "'" : ", '") + h + "'";
  throw InputError(str(t.path, ": no column '", name, "'; the header has ", known));
}

/// Sorts an input error into the reasons the report counts.
std::string reason_of(const std::string& kind, const std::string& message) {
  if (kind == "polymer") {
    const bool unit = message.find("marker") != std::string::npos || message.find("repeat unit") != std::string::npos;
    return unit ? "invalid repeat unit" : "invalid SMILES";
  }
  if (kind == "composition") {
    return message.find("unknown element") != std::string::npos ? "unknown element" : "malformed formula";
  }
  if (message.find("unknown element") != std::string::npos) return "unknown element";
  return "malformed structure";
}

/// A categorical cell as a category: trimmed, empty -> "unknown".
std::string category_of(const std::string& cell) {
  const auto a = cell.find_first_not_of(" \t");
  if (a == std::string::npos) return "unknown";
  const auto b = cell.find_last_not_of(" \t");
  return cell.substr(a, b - a + 1);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

/// Featurises one input; throws InputError when it cannot.
struct RowFeatures {
  MaterialGraph graph;
  torch::Tensor features;  // [F] or undefined
};

RowFeatures featurise(const std::string& input, const PropertyImportOptions& o) {
  RowFeatures r;
  if (o.kind == "polymer") {
    if (o.graphs) {
      r.graph = polymer_graph(input);
      SOZAI_CHECK(r.graph.kind == "polymer", "'", input,
                  "' has no end markers (* or [*]): a molecule, not a polymer repeat unit");
    }
    if (o.features) r.features = morgan_counts(input, o.morgan_radius, o.morgan_bits).to(torch::kFloat32);
    if (!o.graphs && !o.features) morgan_fingerprint(input, 0, 64);  // still validates the SMILES
  } else if (o.kind == "composition") {
    const auto c = parse_formula(input);
    if (o.graphs) r.graph = composition_graph(c);
    if (o.features) {
      auto v = composition_feature_values(c);
      r.features = torch::tensor(v, torch::kFloat64).to(torch::kFloat32);
    }
  } else {
    CrystalGraphConfig cfg;
    cfg.cutoff = o.cutoff;
    cfg.max_neighbors = o.max_neighbors;
    const auto s = parse_structure(input);
    if (o.graphs) r.graph = crystal_graph(s, cfg);
  }
  return r;
}

}  // namespace

PropertyImport import_property_csv(const std::string& path, const PropertyImportOptions& o,
                                   const std::map<std::string, std::string>& provenance) {
  SOZAI_CHECK(o.kind == "polymer" || o.kind == "composition" || o.kind == "crystal",
              "import_property_csv: kind must be polymer, composition or crystal, got '", o.kind, "'");
  SOZAI_CHECK(!o.target_columns.empty(), "import_property_csv: name at least one target column");
  SOZAI_CHECK(o.target_units.empty() || o.target_units.size() == o.target_columns.size(),
              "import_property_csv: ", o.target_units.size(), " units for ", o.target_columns.size(), " targets");
  SOZAI_CHECK(o.target_names.empty() || o.target_names.size() == o.target_columns.size(),
              "import_property_csv: ", o.target_names.size(), " target names for ", o.target_columns.size(),
              " targets");
  const auto table = read_csv(path, /*has_header=*/true, /*skip_bad_rows=*/true);
  const size_t input_col = column_index(table, o.input_column);
  std::vector<size_t> target_cols;
  for (const auto& t : o.target_columns) target_cols.push_back(column_index(table, t));

  std::vector<size_t> numeric_cols, category_cols;
  for (const auto& c : o.numeric_conditions) numeric_cols.push_back(column_index(table, c));
  for (const auto& c : o.categorical_conditions) category_cols.push_back(column_index(table, c));
  // Categories of each categorical condition over the whole file, sorted,
  // so the one-hot columns do not depend on row order.
  std::vector<std::vector<std::string>> categories(category_cols.size());
  for (size_t k = 0; k < category_cols.size(); ++k) {
    std::set<std::string> seen;
    for (const auto& row : table.rows) seen.insert(category_of(row[category_cols[k]]));
    categories[k].assign(seen.begin(), seen.end());
  }

  PropertyImport out;
  auto& report = out.report;
  report.path = path;
  for (const auto& [line, message] : table.skipped) report.bad_rows.push_back({line, "malformed row", message});
  std::vector<MaterialGraph> graphs;
  std::vector<torch::Tensor> features;
  std::vector<double> targets;
  const size_t n = o.limit >= 0 ? std::min(table.rows.size(), static_cast<size_t>(o.limit)) : table.rows.size();
  report.rows_read = static_cast<int64_t>(n + table.skipped.size());
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  for (size_t i = 0; i < n; ++i) {
    const int line = table.line_of_row[i];
    const auto& row = table.rows[i];
    // Targets first: they are cheap, and a row without them is not featurised.
    std::vector<double> y;
    std::string target_problem, target_reason;
    for (size_t k = 0; k < target_cols.size(); ++k) {
      const auto& cell = row[target_cols[k]];
      const std::string trimmed = cell.substr(0, cell.find_last_not_of(" \t") + 1);
      if (trimmed.empty() || trimmed == "NaN" || trimmed == "nan" || trimmed == "NA" || trimmed == "N/A") {
        target_reason = "missing target";
        target_problem = str(path, ": row ", line, ", column '", o.target_columns[k], "': missing value");
        break;
      }
      try {
        y.push_back(parse_cell_double(table, i, target_cols[k], o.target_columns[k]));
      } catch (const InputError& e) {
        target_reason = "non-numeric target";
        target_problem = e.what();
        break;
      }
    }
    if (!target_problem.empty()) {
      report.bad_rows.push_back({line, target_reason, target_problem});
      continue;
    }
    // Process conditions: numeric ones must be present.
    std::vector<float> conditions;
    for (size_t k = 0; k < numeric_cols.size() && target_problem.empty(); ++k) {
      const auto& cell = row[numeric_cols[k]];
      if (cell.find_first_not_of(" \t") == std::string::npos) {
        target_reason = "missing condition";
        target_problem = str(path, ": row ", line, ", column '", o.numeric_conditions[k], "': missing value");
        break;
      }
      try {
        conditions.push_back(static_cast<float>(parse_cell_double(table, i, numeric_cols[k], o.numeric_conditions[k])));
      } catch (const InputError& e) {
        target_reason = "non-numeric condition";
        target_problem = e.what();
      }
    }
    if (!target_problem.empty()) {
      report.bad_rows.push_back({line, target_reason, target_problem});
      continue;
    }
    for (size_t k = 0; k < category_cols.size(); ++k) {
      const auto value = category_of(row[category_cols[k]]);
      for (const auto& c : categories[k]) conditions.push_back(c == value ? 1.0f : 0.0f);
    }
    const auto& input = row[input_col];
    try {
      SOZAI_CHECK(input.find_first_not_of(" \t\r\n") != std::string::npos, "empty ", o.input_column);
      auto f = featurise(input, o);
      if (o.graphs) graphs.push_back(std::move(f.graph));
      if (!conditions.empty()) {
        auto c = torch::tensor(conditions, torch::kFloat32);
        f.features = f.features.defined() ? torch::cat({f.features, c}) : c;
      }
      if (f.features.defined()) features.push_back(f.features);
    } catch (const InputError& e) {
      report.bad_rows.push_back({line, reason_of(o.kind, e.what()),
                                 str(path, ": row ", line, ", column '", o.input_column, "': ", e.what())});
      continue;
    }
    targets.insert(targets.end(), y.begin(), y.end());
    out.data.inputs.push_back(input);
    const auto now = std::chrono::steady_clock::now();
    if (o.progress && (now - last_report > std::chrono::milliseconds(500) || i + 1 == n)) {
      last_report = now;
      const double secs = std::chrono::duration<double>(now - started).count();
      std::cerr << "\r[sozai import] " << (i + 1) << "/" << n << " rows, " << report.bad_rows.size()
                << " left out, " << static_cast<int64_t>((i + 1) / std::max(secs, 1e-9)) << " rows/s" << std::flush;
    }
  }
  if (o.progress) std::cerr << "\n";
  report.rows_kept = out.data.size();
  auto& d = out.data;
  d.kind = o.kind;
  const auto kept = static_cast<int64_t>(d.inputs.size());
  const auto T = static_cast<int64_t>(target_cols.size());
  d.targets = torch::tensor(targets, torch::kFloat64).reshape({kept, T});
  d.target_names = o.target_names.empty() ? o.target_columns : o.target_names;
  d.target_units = o.target_units.empty() ? std::vector<std::string>(target_cols.size(), "") : o.target_units;
  if (!features.empty()) {
    d.features = torch::stack(features);
    if (o.features && o.kind == "composition") {
      d.feature_names = composition_feature_names();
    } else if (o.features && o.kind == "polymer") {
      for (int64_t b = 0; b < o.morgan_bits; ++b) d.feature_names.push_back(str("morgan", o.morgan_radius, "_", b));
    }
    for (const auto& c : o.numeric_conditions) d.feature_names.push_back(c);
    for (size_t k = 0; k < categories.size(); ++k)
      for (const auto& c : categories[k]) d.feature_names.push_back(o.categorical_conditions[k] + "=" + c);
  }
  if (!graphs.empty()) d.graphs = batch_graphs(graphs);
  d.provenance = provenance;
  if (!d.provenance.count("source")) d.provenance["source"] = path;
  d.provenance["input_sha256"] = sha256_file(path);
  d.provenance["featurizer"] =
      o.kind == "polymer"     ? str("polymer_graph + morgan_counts(radius=", o.morgan_radius, ", bits=", o.morgan_bits, ")")
      : o.kind == "composition" ? std::string("composition_graph + magpie statistics (110)")
                                : str("crystal_graph(cutoff=", o.cutoff, ", max_neighbors=", o.max_neighbors, ")");
  d.provenance["featurizer_version"] = str("sozai ", SOZAI_VERSION);
  d.provenance["created"] = utc_now();
  d.provenance["input_column"] = o.input_column;
  d.provenance["rows_left_out"] = std::to_string(report.bad_rows.size());
  return out;
}

PropertyImportOptions property_import_preset(const std::string& dataset) {
  PropertyImportOptions o;
  auto set = [&](const char* kind, const char* input, std::vector<std::string> targets, std::vector<std::string> units) {
    o.kind = kind;
    o.input_column = input;
    o.target_columns = std::move(targets);
    o.target_units = std::move(units);
  };
  if (dataset == "tg_polymers") set("polymer", "Smiles", {"Tg"}, {"degC"});
  else if (dataset == "eg_polymers") set("polymer", "Smiles", {"Eg"}, {"eV"});
  else if (dataset == "perov_5") set("crystal", "cif", {"heat_ref"}, {"eV/atom"});
  else if (dataset == "matbench_dielectric") set("composition", "formula", {"target"}, {""});
  else if (dataset == "matbench_expt_gap") set("composition", "formula", {"target"}, {"eV"});
  else if (dataset == "matbench_castelli") set("composition", "formula", {"target"}, {"eV/atom"});
  else if (dataset == "matbench_steels_yield") set("composition", "formula", {"target"}, {"MPa"});
  else if (dataset == "mp_e_form") set("composition", "formula", {"target"}, {"eV/atom"});
  else if (dataset == "mp_gap") set("composition", "formula", {"target"}, {"eV"});
  else if (dataset == "mpea") {
    set("composition", "FORMULA", {"PROPERTY: YS (MPa)"}, {"MPa"});
    // Strength depends on how the alloy was made and tested.
    o.numeric_conditions = {"PROPERTY: Test temperature ($^\\circ$C)"};
    o.categorical_conditions = {"PROPERTY: Processing method", "PROPERTY: Type of test"};
  }
  else
    throw InputError(str("no import preset for dataset '", dataset,
                         "'; presets: tg_polymers, eg_polymers, perov_5, matbench_dielectric, matbench_expt_gap, "
                         "matbench_castelli, matbench_steels_yield, mpea, mp_e_form, mp_gap"));
  if (dataset == "matbench_dielectric") o.target_names = {"refractive_index"};
  if (dataset == "matbench_expt_gap") o.target_names = {"band_gap"};
  if (dataset == "matbench_castelli") o.target_names = {"formation_energy"};
  if (dataset == "matbench_steels_yield") o.target_names = {"yield_strength"};
  if (dataset == "mpea") o.target_names = {"yield_strength"};
  if (dataset == "mp_e_form") o.target_names = {"formation_energy"};
  if (dataset == "mp_gap") o.target_names = {"band_gap"};
  return o;
}

PropertyImport import_registered_dataset(const std::string& dataset, const PropertyImportOptions* override_options) {
  const auto options = override_options ? *override_options : property_import_preset(dataset);
  const auto& info = dataset_info(dataset);
  SOZAI_CHECK(!info.files.empty(), "dataset '", dataset, "' has no files");
  const auto path = dataset_path(info, info.files.front().relative_path);
  return import_property_csv(path, options,
                             {{"source", info.source}, {"licence", info.licence}, {"dataset", info.name}});
}

}  // namespace sozai
