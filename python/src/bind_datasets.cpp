#include "convert.h"

#include <pybind11/stl.h>

#include <sozai/datasets/closed_loop.h>
#include <sozai/datasets/pool_csv.h>
#include <sozai/datasets/registry.h>

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
}

}  // namespace sozai
