// sozai.screen: batch screening of libraries that do not fit in memory
// (core/screen/screen.h), the same options as `sozai screen`.
#include "convert.h"

#include <pybind11/stl.h>

#include "core/screen/screen.h"

namespace sozai {

namespace {

py::dict result_dict(const screen::ScreenResult& r) {
  py::dict d;
  const auto k = static_cast<py::ssize_t>(r.size());
  const auto m = static_cast<py::ssize_t>(r.outcomes.size());
  py::array_t<int64_t> index(k);
  py::array_t<double> score(k), mean({k, m}), variance({k, m});
  for (py::ssize_t i = 0; i < k; ++i) {
    index.mutable_at(i) = r.index[i];
    score.mutable_at(i) = r.score[i];
    for (py::ssize_t j = 0; j < m; ++j) {
      mean.mutable_at(i, j) = r.mean[i][j];
      variance.mutable_at(i, j) = r.variance[i][j];
    }
  }
  d["index"] = index;
  d["score"] = score;
  d["mean"] = mean;
  d["variance"] = variance;
  d["outcomes"] = r.outcomes;
  d["columns"] = r.columns;
  d["values"] = r.values;
  d["provenance"] = to_python(r.provenance);
  d["screened"] = r.screened;
  d["exact"] = r.exact;
  d["positions"] = r.positions;
  d["complete"] = r.complete;
  return d;
}

}  // namespace

void bind_screen(py::module_& m) {
  m.def(
      "screen_run",
      [](const std::string& space, const std::string& library, const std::string& input, const std::string& campaign,
         const std::vector<std::string>& models, const std::vector<std::string>& objectives, bool minimize,
         const std::string& score, double beta, py::object best, const std::vector<std::string>& limits,
         double min_probability, uint64_t seed, int64_t top, int64_t chunk, const std::string& out,
         const std::string& checkpoint, double checkpoint_seconds, int64_t shard_index, int64_t shard_count,
         const std::string& device, bool progress, bool use_mpi, int64_t max_blocks, bool prune) {
        screen::ScreenOptions o;
        o.space = space;
        o.library = library;
        o.input_column = input;
        o.campaign = campaign;
        o.models = models;
        o.objectives = objectives;
        o.minimize = minimize;
        o.score = score;
        o.beta = beta;
        if (!best.is_none()) {
          o.has_best = true;
          o.best = best.cast<double>();
        }
        for (const auto& l : limits) o.limits.push_back(screen::parse_limit(l));
        o.min_probability = min_probability;
        o.seed = seed;
        o.top = top;
        o.chunk = chunk;
        o.out = out;
        o.checkpoint = checkpoint;
        o.checkpoint_seconds = checkpoint_seconds;
        o.shard_index = shard_index;
        o.shard_count = shard_count;
        o.device = device;
        o.progress = progress;
        o.use_mpi = use_mpi;
        o.max_blocks = max_blocks;
        o.prune = prune;
        screen::ScreenResult r;
        {
          py::gil_scoped_release release;
          r = screen::screen(o);
        }
        return result_dict(r);
      },
      py::arg("space"), py::arg("library"), py::arg("input"), py::arg("campaign"), py::arg("models"),
      py::arg("objectives"), py::arg("minimize"), py::arg("score"), py::arg("beta"), py::arg("best"),
      py::arg("limits"), py::arg("min_probability"), py::arg("seed"), py::arg("top"), py::arg("chunk"),
      py::arg("out"), py::arg("checkpoint"), py::arg("checkpoint_seconds"), py::arg("shard_index"),
      py::arg("shard_count"), py::arg("device"), py::arg("progress"), py::arg("use_mpi"), py::arg("max_blocks"),
      py::arg("prune") = true, "Internal: sozai.screen's C++ side (use sozai.screen).");
  m.def(
      "screen_merge",
      [](const std::vector<std::string>& parts, const std::string& out) {
        return result_dict(screen::merge(parts, out));
      },
      py::arg("parts"), py::arg("out") = "", "Internal: sozai.screen_merge's C++ side.");
  m.def(
      "screen_read", [](const std::string& path) { return result_dict(screen::read_result(path)); }, py::arg("path"),
      "Internal: sozai.read_screen's C++ side.");
  m.def("simplex_grid_size", &screen::simplex_grid_size, py::arg("elements"), py::arg("step"),
        "Points of a composition simplex grid: C(1/step + elements - 1, elements - 1).");
}

}  // namespace sozai
