// sozai.models.GnnEnsemble: deep ensembles of graph networks, scikit-learn
// style (fit / predict / save, sozai.models.load).
#include "convert.h"

#include <pybind11/stl.h>

#include "models/config_json.h"
#include "models/gnn/ensemble.h"

namespace sozai {
namespace {

torch::Tensor optional_conditions(const py::object& c) {
  if (c.is_none()) return {};
  return to_tensor(c.cast<DoubleArray>(), 2, "conditions");
}

py::object report_dict(const gnn::TrainReport& r) { return to_python(r); }

/// Inputs as given from Python: a GraphBatch (featurised once, reused), or
/// a list of SMILES / CIF / POSCAR texts / formulas featurised by kind.
GraphBatch graphs_of(const gnn::GnnEnsemble& e, const py::object& inputs) {
  if (py::isinstance<GraphBatch>(inputs)) return inputs.cast<GraphBatch>();
  if (py::isinstance<py::str>(inputs))
    throw InputError("GnnEnsemble: inputs must be a list of strings (or a GraphBatch), not one string");
  const auto texts = inputs.cast<std::vector<std::string>>();
  py::gil_scoped_release release;
  return e.featurize(texts);
}

}  // namespace

void bind_gnn(py::module_& root) {
  auto m = root.attr("models").cast<py::module_>();
  py::class_<gnn::GnnEnsemble>(m, "GnnEnsemble",
                               "Deep ensemble of graph networks with mean-variance heads.\n\n"
                               ">>> m = sozai.models.GnnEnsemble(kind='polymer', n_members=5, seed=0)  # doctest: +SKIP\n"
                               ">>> m.fit(smiles, y); mean, variance = m.predict(smiles)  # doctest: +SKIP")
      .def(py::init([](const std::string& kind, int64_t n_members, uint64_t seed, int64_t hidden, int64_t layers,
                       int64_t head_hidden, double dropout, int64_t max_epochs, int64_t batch_size, double lr,
                       double weight_decay, const std::string& schedule, double val_fraction, int64_t patience,
                       double clip_norm, double cutoff, const py::object& max_neighbors, bool recalibrate,
                       bool progress, int64_t threads, const std::string& checkpoint, int64_t mc_dropout_samples) {
             gnn::GnnEnsembleConfig c;
             c.kind = kind;
             c.n_members = n_members;
             c.seed = seed;
             c.model.hidden = hidden;
             c.model.layers = layers;
             c.model.head_hidden = head_hidden;
             c.model.dropout = dropout;
             c.train.max_epochs = max_epochs;
             c.train.batch_size = batch_size;
             c.train.lr = lr;
             c.train.weight_decay = weight_decay;
             c.train.schedule = schedule;
             c.train.val_fraction = val_fraction;
             c.train.patience = patience;
             c.train.clip_norm = clip_norm;
             c.train.progress = progress;
             c.cutoff = cutoff;
             c.max_neighbors = max_neighbors.is_none() ? -1 : max_neighbors.cast<int64_t>();
             c.recalibrate = recalibrate;
             c.train.threads = threads;
             c.train.checkpoint = checkpoint;
             c.mc_dropout_samples = mc_dropout_samples;
             return gnn::GnnEnsemble(c);
           }),
           py::arg("kind"), py::arg("n_members") = 5, py::arg("seed") = 0, py::arg("hidden") = 0,
           py::arg("layers") = 3, py::arg("head_hidden") = 128, py::arg("dropout") = 0.0,
           py::arg("max_epochs") = 0, py::arg("batch_size") = 64, py::arg("lr") = 1e-3,
           py::arg("weight_decay") = 1e-5, py::arg("schedule") = "cosine", py::arg("val_fraction") = 0.1,
           py::arg("patience") = 0, py::arg("clip_norm") = 10.0, py::arg("cutoff") = 8.0,
           py::arg("max_neighbors") = 12, py::arg("recalibrate") = true, py::arg("progress") = true,
           py::arg("threads") = 0, py::arg("checkpoint") = "", py::arg("mc_dropout_samples") = 0)
      .def(
          "fit",
          [](gnn::GnnEnsemble& e, const py::object& inputs, const DoubleArray& y, const py::object& conditions) {
            auto yt = to_tensor(y, -1, "y");
            auto ct = optional_conditions(conditions);
            const GraphBatch g = graphs_of(e, inputs);
            gnn::TrainReport r;
            {
              py::gil_scoped_release release;
              r = e.fit(g, yt, ct);
            }
            return report_dict(r);
          },
          py::arg("inputs"), py::arg("y"), py::arg("conditions") = py::none(),
          "Featurises the inputs (SMILES or 'SMILES f | SMILES f' blends, CIF/POSCAR texts or formulas by kind; or "
          "takes a GraphBatch from .featurize) and trains every member; returns a report (epochs, validation MAE, "
          "variance scales, seconds).")
      .def(
          "predict",
          [](const gnn::GnnEnsemble& e, const py::object& inputs, const py::object& conditions,
             const py::object& member) {
            auto ct = optional_conditions(conditions);
            const GraphBatch g = graphs_of(e, inputs);
            Posterior p;
            {
              py::gil_scoped_release release;
              p = member.is_none() ? e.predict(g, ct) : e.predict_member(member.cast<int64_t>(), g, ct);
            }
            return py::make_tuple(to_numpy(p.mean.squeeze(1)), to_numpy(p.variance.squeeze(1)));
          },
          py::arg("inputs"), py::arg("conditions") = py::none(), py::arg("member") = py::none(),
          "(mean, variance) arrays [n] in the units of y: the ensemble, or one member alone (member=i, recalibrated "
          "on its own) for comparison with a single model.")
      .def(
          "embed",
          [](const gnn::GnnEnsemble& e, const py::object& inputs, const py::object& conditions) {
            auto ct = optional_conditions(conditions);
            const GraphBatch g = graphs_of(e, inputs);
            torch::Tensor z;
            {
              py::gil_scoped_release release;
              z = e.embed(g, ct);
            }
            return to_numpy(z);
          },
          py::arg("inputs"), py::arg("conditions") = py::none(),
          "The learned representation [n, hidden] (pooled embedding averaged over members).")
      .def(
          "featurize",
          [](const gnn::GnnEnsemble& e, const std::vector<std::string>& inputs) {
            py::gil_scoped_release release;
            return e.featurize(inputs);
          },
          py::arg("inputs"),
          "The GraphBatch this ensemble's kind makes of the inputs (featurise once, then fit/predict it many times).")
      .def("save", &gnn::GnnEnsemble::save, py::arg("path"))
      .def_property_readonly("fitted", &gnn::GnnEnsemble::fitted)
      .def_property_readonly("kind", [](const gnn::GnnEnsemble& e) { return e.config().kind; })
      .def_property_readonly("n_members", [](const gnn::GnnEnsemble& e) { return e.config().n_members; })
      .def_property_readonly("report", [](const gnn::GnnEnsemble& e) { return report_dict(e.report()); });
  m.def(
      "load",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return gnn::GnnEnsemble::load(path);
      },
      py::arg("path"), "Loads a model saved with .save() (a GnnEnsemble).");
}

}  // namespace sozai
