// sozai.models.GnnEnsemble: deep ensembles of graph networks, scikit-learn
// style (fit / predict / save, sozai.models.load).
#include "convert.h"

#include <pybind11/stl.h>

#include "models/config_json.h"
#include "datasets/registry.h"
#include "models/gnn/ensemble.h"
#include "models/gnn/pretrain.h"

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
                       bool progress, int64_t threads, const std::string& checkpoint, int64_t mc_dropout_samples,
                       const std::string& stopping, const std::string& pretrained, const std::string& head,
                       int64_t freeze_epochs, double trunk_lr_scale) {
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
             c.train.stopping = stopping;
             c.finetune.head = head;
             c.finetune.freeze_epochs = freeze_epochs;
             c.finetune.trunk_lr_scale = trunk_lr_scale;
             if (pretrained.empty()) return gnn::GnnEnsemble(c);
             py::gil_scoped_release release;
             return gnn::GnnEnsemble::from_pretrained(pretrained, c);
           }),
           py::arg("kind"), py::arg("n_members") = 5, py::arg("seed") = 0, py::arg("hidden") = 0,
           py::arg("layers") = 3, py::arg("head_hidden") = 128, py::arg("dropout") = 0.0,
           py::arg("max_epochs") = 0, py::arg("batch_size") = 64, py::arg("lr") = 1e-3,
           py::arg("weight_decay") = 1e-5, py::arg("schedule") = "cosine", py::arg("val_fraction") = 0.1,
           py::arg("patience") = 0, py::arg("clip_norm") = 10.0, py::arg("cutoff") = 8.0,
           py::arg("max_neighbors") = 12, py::arg("recalibrate") = true, py::arg("progress") = true,
           py::arg("threads") = 0, py::arg("checkpoint") = "", py::arg("mc_dropout_samples") = 0,
           py::arg("stopping") = "auto", py::arg("pretrained") = "", py::arg("head") = "new",
           py::arg("freeze_epochs") = 0, py::arg("trunk_lr_scale") = 1.0)
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
      .def_property_readonly("report", [](const gnn::GnnEnsemble& e) { return report_dict(e.report()); })
      .def_property_readonly("config", [](const gnn::GnnEnsemble& e) { return to_python(nlohmann::json(e.config())); });

  py::class_<gnn::PretrainedModel>(m, "PretrainedModel",
                                   "A network pretrained by sozai.models.pretrain: one trunk, one head per task, "
                                   "and its model card.\n\n"
                                   ">>> p = sozai.models.PretrainedModel('composition-mp')  # doctest: +SKIP\n"
                                   ">>> mean, var = p.predict('mp_e_form', ['Fe2O3'])  # doctest: +SKIP")
      .def(py::init([](const std::string& name_or_path) {
             py::gil_scoped_release release;
             return gnn::PretrainedModel::load(name_or_path);
           }),
           py::arg("name_or_path"),
           "Loads a shipped model by name (its SHA-256 verified against the registry) or a file written by "
           "pretrain().")
      .def_property_readonly("kind", &gnn::PretrainedModel::kind)
      .def_property_readonly("tasks", &gnn::PretrainedModel::tasks)
      .def_property_readonly("card", [](const gnn::PretrainedModel& p) { return to_python(p.card()); })
      .def(
          "predict",
          [](const gnn::PretrainedModel& p, const std::string& task, const std::vector<std::string>& inputs) {
            Posterior post;
            {
              py::gil_scoped_release release;
              post = p.predict(task, inputs);
            }
            return py::make_tuple(to_numpy(post.mean.squeeze(1)), to_numpy(post.variance.squeeze(1)));
          },
          py::arg("task"), py::arg("inputs"), "(mean, variance) [n] of one task's head, in its units.")
      .def(
          "embed",
          [](const gnn::PretrainedModel& p, const std::vector<std::string>& inputs) {
            torch::Tensor z;
            {
              py::gil_scoped_release release;
              z = p.embed(p.featurize(inputs));
            }
            return to_numpy(z);
          },
          py::arg("inputs"), "The trunk's pooled representation [n, hidden].")
      .def("save", &gnn::PretrainedModel::save, py::arg("path"))
      .def("model_card", [](const gnn::PretrainedModel& p) { return gnn::model_card_markdown(p.card()); },
           "The model card as Markdown.");

  m.def(
      "pretrained_models",
      [] {
        py::list out;
        for (const auto& e : gnn::pretrained_registry()) {
          py::dict d;
          d["name"] = e.name;
          d["file"] = e.file;
          d["path"] = gnn::pretrained_dir() + "/" + e.file;
          d["sha256"] = e.sha256;
          d["kind"] = e.kind;
          d["description"] = e.description;
          out.append(d);
        }
        return out;
      },
      "The pretrained models sozai ships (name, file, path, sha256, kind, description); load one with "
      "PretrainedModel(name) or GnnEnsemble.from_pretrained(name).");
  m.def(
      "pretrain",
      [](const py::object& datasets, const py::object& tasks, const std::string& out, const std::string& kind,
         int64_t epochs, int64_t batch_size, double lr, int64_t hidden, int64_t layers, int64_t head_hidden,
         const std::string& element_init, const std::string& element_table, double val_fraction, uint64_t seed,
         const std::string& checkpoint, double max_hours, const std::string& device, int64_t threads, bool progress,
         int64_t limit, bool export_only) {
        gnn::PretrainConfig c;
        c.kind = kind;
        c.epochs = epochs;
        c.batch_size = batch_size;
        c.lr = lr;
        c.model.hidden = hidden;
        c.model.layers = layers;
        c.model.head_hidden = head_hidden;
        c.element_init = element_init.empty() ? (kind == "composition" ? "mat2vec" : "none") : element_init;
        c.element_table = element_table;
        if (c.element_init == "mat2vec" && c.element_table.empty())
          c.element_table = dataset_path(dataset_info("mat2vec_elements"), "elements/mat2vec.csv");
        c.val_fraction = val_fraction;
        c.seed = seed;
        c.checkpoint = checkpoint;
        c.max_hours = max_hours;
        c.device = device;
        c.threads = threads;
        c.progress = progress;
        c.export_only = export_only;
        std::vector<gnn::PretrainTask> ts;
        if (!datasets.is_none()) {
          ts = gnn::registered_pretrain_tasks(datasets.cast<std::vector<std::string>>(), limit);
        }
        if (!tasks.is_none()) {
          for (const auto& item : tasks.cast<py::dict>()) {
            gnn::PretrainTask t;
            t.name = item.first.cast<std::string>();
            auto pair = item.second.cast<py::tuple>();
            if (pair.size() < 2)
              throw InputError(str("pretrain: tasks['", t.name, "'] must be (inputs, y) or (inputs, y, units)"));
            t.inputs = pair[0].cast<std::vector<std::string>>();
            const std::string what = "tasks['" + t.name + "'] y";
            t.y = to_tensor(pair[1].cast<DoubleArray>(), 1, what.c_str());
            if (pair.size() > 2) t.units = pair[2].cast<std::string>();
            t.source = "(given in Python)";
            ts.push_back(std::move(t));
          }
        }
        if (ts.empty()) throw InputError("pretrain: give datasets=[...] (registered names) or tasks={name: (inputs, y)}");
        gnn::PretrainReport r;
        {
          py::gil_scoped_release release;
          r = gnn::pretrain(ts, c, out);
        }
        py::dict d;
        d["finished"] = r.finished;
        d["epochs"] = r.epochs;
        d["epochs_done"] = r.epochs_done;
        d["seconds"] = r.seconds;
        d["val_mae"] = r.val_mae;
        return d;
      },
      py::arg("datasets") = py::none(), py::kw_only(), py::arg("tasks") = py::none(), py::arg("out"),
      py::arg("kind") = "composition", py::arg("epochs") = 60, py::arg("batch_size") = 256, py::arg("lr") = 1e-3,
      py::arg("hidden") = 0, py::arg("layers") = 3, py::arg("head_hidden") = 128, py::arg("element_init") = "",
      py::arg("element_table") = "", py::arg("val_fraction") = 0.05, py::arg("seed") = 0,
      py::arg("checkpoint") = "", py::arg("max_hours") = 0.0, py::arg("device") = "cpu", py::arg("threads") = 0,
      py::arg("progress") = true, py::arg("limit") = -1, py::arg("export_only") = false,
      "Multi-task pretraining (one head per task) of registered datasets (datasets=['mp_e_form', 'mp_gap']) "
      "and/or your own (tasks={'name': (inputs, y[, units])}); writes `out`. Resumes from `checkpoint`; stops "
      "after max_hours with finished=False (call again to go on); export_only=True writes the model as it stands in "
      "the checkpoint and returns.");
  m.def(
      "load",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return gnn::GnnEnsemble::load(path);
      },
      py::arg("path"), "Loads a model saved with .save() (a GnnEnsemble).");
}

}  // namespace sozai
