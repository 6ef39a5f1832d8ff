#include "convert.h"

#include <pybind11/stl.h>

#include "datasets/closed_loop.h"
#include "datasets/featurized.h"
#include "datasets/property_import.h"
#include "datasets/pool_csv.h"
#include "datasets/registry.h"

namespace sozai {

namespace {
py::dict to_dict(const ClosedLoopDataset& d) {
  py::dict out;
  out["name"] = d.name;
  out["input_names"] = d.input_names;
  out["objective_names"] = d.objective_names;
  out["maximize"] = d.maximize;
  out["X"] = to_numpy(d.X);
  out["Y"] = to_numpy(d.Y);
  out["counts"] = to_numpy(d.counts);
  out["raw_rows"] = d.raw_rows;
  return out;
}
}  // namespace

namespace {

void bind_featurized(py::module_& m) {
  py::class_<FeaturizedDataset>(m, "FeaturizedDataset",
                                "Rows of featurised materials read from HDF5: inputs, features, graphs, targets, "
                                "provenance.")
      .def_readonly("kind", &FeaturizedDataset::kind)
      .def_readonly("inputs", &FeaturizedDataset::inputs)
      .def_property_readonly("features", [](const FeaturizedDataset& d) { return to_numpy_any(d.features); })
      .def_readonly("feature_names", &FeaturizedDataset::feature_names)
      .def_property_readonly("graphs",
                             [](const FeaturizedDataset& d) -> py::object {
                               if (d.graphs.num_graphs() == 0) return py::none();
                               return py::cast(d.graphs);
                             })
      .def_property_readonly("targets", [](const FeaturizedDataset& d) { return to_numpy_any(d.targets); })
      .def_readonly("target_names", &FeaturizedDataset::target_names)
      .def_readonly("target_units", &FeaturizedDataset::target_units)
      .def_readonly("provenance", &FeaturizedDataset::provenance)
      .def("__len__", &FeaturizedDataset::size)
      .def("__repr__", [](const FeaturizedDataset& d) {
        return str("<sozai.datasets.FeaturizedDataset ", d.kind, ": ", d.size(), " rows>");
      });
  m.def(
      "write_featurized",
      [](const std::string& path, const std::string& kind, const std::vector<std::string>& inputs,
         const py::object& features, const std::vector<std::string>& feature_names, const py::object& graphs,
         const py::object& targets, const std::vector<std::string>& target_names,
         const std::vector<std::string>& target_units, const std::map<std::string, std::string>& provenance,
         int64_t chunk_rows) {
        FeaturizedDataset d;
        d.kind = kind;
        d.inputs = inputs;
        if (!features.is_none()) d.features = to_tensor(features.cast<DoubleArray>(), 2, "features").to(torch::kFloat32);
        d.feature_names = feature_names;
        if (!graphs.is_none()) {
          if (py::isinstance<GraphBatch>(graphs)) {
            d.graphs = graphs.cast<GraphBatch>();
          } else {
            d.graphs = batch_graphs(graphs.cast<std::vector<MaterialGraph>>());
          }
        }
        if (!targets.is_none()) {
          d.targets = to_tensor(targets.cast<DoubleArray>(), -1, "targets");
          if (d.targets.dim() == 1) d.targets = d.targets.unsqueeze(1);
        }
        d.target_names = target_names;
        d.target_units = target_units.empty() && !target_names.empty()
                             ? std::vector<std::string>(target_names.size(), "")
                             : target_units;
        d.provenance = provenance;
        py::gil_scoped_release release;
        write_featurized(d, path, chunk_rows);
      },
      py::arg("path"), py::arg("kind"), py::arg("inputs"), py::arg("features") = py::none(),
      py::arg("feature_names") = std::vector<std::string>{}, py::arg("graphs") = py::none(),
      py::arg("targets") = py::none(), py::arg("target_names") = std::vector<std::string>{},
      py::arg("target_units") = std::vector<std::string>{},
      py::arg("provenance") = std::map<std::string, std::string>{}, py::arg("chunk_rows") = 4096,
      "Writes a featurised dataset to HDF5 (graphs: a GraphBatch or a list of Graphs; targets [n] or [n, T] with "
      "NaN for missing). The file appears under its name only when complete.");
  m.def(
      "read_featurized",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return read_featurized(path);
      },
      py::arg("path"), "Reads a whole featurised dataset.");
  py::class_<FeaturizedReader>(m, "FeaturizedReader", "Streams a featurised dataset in row ranges.")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def("__len__", &FeaturizedReader::size)
      .def_property_readonly("kind", &FeaturizedReader::kind)
      .def_property_readonly("provenance", &FeaturizedReader::provenance)
      .def_property_readonly("feature_names", &FeaturizedReader::feature_names)
      .def_property_readonly("target_names", &FeaturizedReader::target_names)
      .def_property_readonly("target_units", &FeaturizedReader::target_units)
      .def_property_readonly("has_graphs", &FeaturizedReader::has_graphs)
      .def(
          "read",
          [](const FeaturizedReader& r, int64_t start, int64_t count) {
            py::gil_scoped_release release;
            return r.read(start, count);
          },
          py::arg("start"), py::arg("count"), "Rows [start, start + count) as a FeaturizedDataset.");
}

py::dict report_dict(const PropertyImportReport& r) {
  py::dict d;
  d["path"] = r.path;
  d["rows_read"] = r.rows_read;
  d["rows_kept"] = r.rows_kept;
  py::list bad;
  for (const auto& b : r.bad_rows) {
    py::dict row;
    row["line"] = b.line;
    row["reason"] = b.reason;
    row["message"] = b.message;
    bad.append(row);
  }
  d["bad_rows"] = bad;
  d["counts"] = r.counts();
  d["summary"] = r.summary();
  return d;
}

py::tuple finish_import(PropertyImport&& result, const py::object& out) {
  if (!out.is_none()) {
    const auto path = out.cast<std::string>();
    py::gil_scoped_release release;
    write_featurized(result.data, path);
  }
  return py::make_tuple(std::move(result.data), report_dict(result.report));
}

void bind_import(py::module_& m) {
  m.def(
      "import_property_csv",
      [](const std::string& path, const std::string& kind, const std::string& input,
         const std::vector<std::string>& targets, const std::vector<std::string>& units,
         const std::vector<std::string>& names, bool graphs, bool features, int64_t morgan_radius,
         int64_t morgan_bits, double cutoff, const py::object& max_neighbors, const std::vector<std::string>& numeric,
         const std::vector<std::string>& categorical, const py::object& limit, bool progress, const py::object& out,
         const std::map<std::string, std::string>& provenance) {
        PropertyImportOptions o;
        o.kind = kind;
        o.input_column = input;
        o.target_columns = targets;
        o.target_units = units;
        o.target_names = names;
        o.graphs = graphs;
        o.features = features;
        o.morgan_radius = morgan_radius;
        o.morgan_bits = morgan_bits;
        o.cutoff = cutoff;
        o.max_neighbors = max_neighbors.is_none() ? -1 : max_neighbors.cast<int64_t>();
        o.numeric_conditions = numeric;
        o.categorical_conditions = categorical;
        o.limit = limit.is_none() ? -1 : limit.cast<int64_t>();
        o.progress = progress;
        PropertyImport r;
        {
          py::gil_scoped_release release;
          r = import_property_csv(path, o, provenance);
        }
        return finish_import(std::move(r), out);
      },
      py::arg("path"), py::arg("kind"), py::arg("input"), py::arg("targets"),
      py::arg("units") = std::vector<std::string>{}, py::arg("names") = std::vector<std::string>{},
      py::arg("graphs") = true, py::arg("features") = true, py::arg("morgan_radius") = 2,
      py::arg("morgan_bits") = 2048, py::arg("cutoff") = 8.0, py::arg("max_neighbors") = 12,
      py::arg("numeric_conditions") = std::vector<std::string>{},
      py::arg("categorical_conditions") = std::vector<std::string>{}, py::arg("limit") = py::none(), py::arg("progress") = false, py::arg("out") = py::none(),
      py::arg("provenance") = std::map<std::string, std::string>{},
      "Featurises a property CSV (kind polymer | composition | crystal; `input` names the SMILES / formula / "
      "structure column, `targets` the numeric columns; process conditions: numeric columns appended as they are, "
      "categorical ones one-hot). Returns (FeaturizedDataset, report); the report lists "
      "every row left out with its line and reason. `out`: also write the dataset to HDF5.");
  m.def(
      "import_registered_dataset",
      [](const std::string& name, const py::object& limit, bool progress, const py::object& out) {
        auto o = property_import_preset(name);
        o.limit = limit.is_none() ? -1 : limit.cast<int64_t>();
        o.progress = progress;
        PropertyImport r;
        {
          py::gil_scoped_release release;
          r = import_registered_dataset(name, &o);
        }
        return finish_import(std::move(r), out);
      },
      py::arg("name"), py::arg("limit") = py::none(), py::arg("progress") = false, py::arg("out") = py::none(),
      "Featurises a registered property dataset (tg_polymers, eg_polymers, perov_5, matbench_*, mpea) with its "
      "preset columns.");
}

}  // namespace

void bind_datasets(py::module_& root) {
  auto m = root.def_submodule("datasets", "Dataset readers and the registry of real datasets");
  py::class_<RegisteredFile>(m, "RegisteredFile")
      .def_readonly("relative_path", &RegisteredFile::relative_path)
      .def_readonly("url", &RegisteredFile::url)
      .def_readonly("sha256", &RegisteredFile::sha256);
  py::class_<DatasetInfo>(m, "DatasetInfo")
      .def_readonly("name", &DatasetInfo::name)
      .def_readonly("title", &DatasetInfo::title)
      .def_readonly("kind", &DatasetInfo::kind)
      .def_readonly("source", &DatasetInfo::source)
      .def_readonly("licence", &DatasetInfo::licence)
      .def_readonly("files", &DatasetInfo::files)
      .def_readonly("closed_loop", &DatasetInfo::closed_loop)
      .def_readonly("single_objective", &DatasetInfo::single_objective)
      .def("__repr__", [](const DatasetInfo& d) { return "DatasetInfo('" + d.name + "')"; });
  m.def("dataset_registry", &dataset_registry, py::return_value_policy::reference);
  m.def("dataset_info", &dataset_info, py::arg("name"), py::return_value_policy::reference);
  m.def("dataset_path", &dataset_path, py::arg("info"), py::arg("relative_path"), py::arg("verify") = true);
  m.def("dataset_search_dirs", &dataset_search_dirs);
  m.def("load_closed_loop", [](const std::string& name) { return to_dict(load_closed_loop(name)); }, py::arg("name"));
  m.def("read_pvlab_csv", [](const std::string& path, bool maximize, const std::string& name) {
        return to_dict(read_pvlab_csv(path, maximize, name));
      }, py::arg("path"), py::arg("maximize"), py::arg("name") = "");
  m.def("read_olympus_dir", [](const std::string& dir, const std::string& name) {
        return to_dict(read_olympus_dir(dir, name));
      }, py::arg("dir"), py::arg("name") = "");
  m.def("read_pool_csv", [](const std::string& path, const std::string& target) {
        auto p = read_pool_csv(path, target);
        py::dict out;
        out["input_names"] = p.input_names;
        out["X"] = to_numpy(p.X);
        out["measured_rows"] = p.measured_rows;
        out["measured_values"] = p.measured_values;
        return out;
      }, py::arg("path"), py::arg("target") = "");
  bind_featurized(m);
  bind_import(m);
}

}  // namespace sozai
