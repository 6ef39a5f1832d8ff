// sozai.campaign: pool and design-space campaigns. Keyword arguments are
// campaign settings (core/campaign/campaign_config.h), read by
// CampaignConfig::from_json as the command line and the lab service read
// theirs; `maximize` is the shorthand for one objective.
#include "convert.h"

#include <pybind11/stl.h>

#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "models/gnn/ensemble.h"
#include "common/strings.h"
#include "datasets/graph.h"

namespace sozai {

namespace {

CampaignConfig config_of(const py::kwargs& settings, const py::object& maximize) {
  return CampaignConfig::from_json(settings_json(settings, maximize), "settings");
}

std::vector<double> candidate_vector(const DoubleArray& c) {
  auto t = to_tensor(c, 1, "candidate");
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

/// An ask's picks as a dict: X, rows (pool campaigns), and what the model
/// said of them (mean, variance [n, outcomes], acquisition [n]; None for
/// random or prior-ranked picks).
py::dict described(const Candidates& c) {
  py::dict d;
  d["X"] = to_numpy(c.X);
  d["rows"] = to_numpy_index(c.rows);
  d["mean"] = to_numpy_any(c.mean);
  d["variance"] = to_numpy_any(c.variance);
  d["acquisition"] = to_numpy_any(c.acquisition);
  return d;
}

template <typename F>
auto released(F&& f) {
  py::gil_scoped_release release;
  return f();
}

/// What both campaign classes show the same way.
template <typename C>
void common_members(py::class_<C>& cls) {
  cls.def_property_readonly("observed_outcomes", [](const C& c) { return to_numpy(c.observed_outcomes()); })
      .def_property_readonly("num_outcomes", &C::num_outcomes)
      .def_property_readonly("num_observed", &C::num_observed)
      .def_property_readonly("outcomes", [](const C& c) { return to_python(outcomes_to_json(c.outcomes())); },
                             "What each outcome is for: [{'name', 'direction', 'limit'}].")
      .def_property_readonly("settings", [](const C& c) { return to_python(c.config().to_json()); },
                             "Every setting, defaults filled in (the JSON form of campaign_config.h).")
      .def_property_readonly("maximize", &C::maximize)
      .def_property_readonly("ask_count", &C::ask_count)
      .def("pareto_front", [](const C& c) { return to_numpy_index(c.pareto_front()); },
           "Results that meet every constraint and that no other such result dominates.")
      .def("save", &C::save, py::arg("path"))
      .def_static("load", &C::load, py::arg("path"))
      .def("to_json", &C::to_json)
      .def_static("from_json", &C::from_json, py::arg("text"), py::arg("origin") = "<string>");
}

/// What both campaign classes show of their priors.
template <typename C>
void prior_members(py::class_<C>& cls) {
  cls.def("attach_priors", &C::attach_priors, py::arg("priors"),
          "Gives a loaded campaign its priors back (saves keep their digests, not their rows).")
      .def_property_readonly("priors", &C::priors)
      .def_property_readonly("columns", &C::columns, "The names priors meet the campaign's inputs by.")
      .def_property_readonly("prior_records",
                             [](const C& c) {
                               py::list out;
                               for (const auto& r : c.prior_records()) out.append(to_python(r));
                               return out;
                             },
                             "What the campaign records of each prior: name, digest, rows, columns, maximize, source.")
      .def_property_readonly("transfer_summary", [](const C& c) { return to_python(c.transfer_summary()); },
                             "The transfer model of the last ask: method chosen, leave-one-out ranking losses, "
                             "RGPE weights, residual coefficients.");
}

}  // namespace

void bind_campaign(py::module_& root) {
  auto m = root.def_submodule("campaign", "Pool and design-space campaigns");
  m.def("campaign_settings", [](const py::object& maximize, const py::kwargs& settings) {
        return to_python(config_of(settings, maximize).to_json());
      }, py::arg("maximize") = py::none(),
      "Every campaign setting, defaults filled in, after validation (what a campaign would use).");

  py::class_<Prior>(m, "Prior",
                    "A table from an earlier campaign or a related data set that a campaign learns from: inputs X "
                    "[n, d] named by columns (an element symbol such as 'Ni', or 'ni_load', is that element's share; "
                    "other names match by name) and one outcome y, better when larger if maximize.")
      .def(py::init([](const DoubleArray& X, const DoubleArray& y, std::vector<std::string> columns, bool maximize,
                       std::string name) {
             return Prior(to_tensor(X, 2, "X"), to_tensor(y, -1, "y"), std::move(columns), maximize, std::move(name));
           }),
           py::arg("X"), py::arg("y"), py::arg("columns"), py::arg("maximize") = true, py::arg("name") = "")
      .def_static(
          "from_model",
          [](const gnn::GnnEnsemble& model, DoubleArray X, std::vector<std::string> columns, bool maximize,
             std::string name, std::vector<std::string> condition_columns) {
            auto t = to_tensor(X, 2, "X");
            py::gil_scoped_release release;
            return Prior::from_model(model, t, columns, maximize, name, condition_columns);
          },
          py::arg("model"), py::arg("X"), py::arg("columns"), py::arg("maximize") = true, py::arg("name") = "",
          py::arg("condition_columns") = std::vector<std::string>{},
          "A prior from a model's predicted mean on the rows X (element columns make each row's formula): how a "
          "federated or pretrained composition ensemble informs a campaign.")
      .def_static("read_csv", &Prior::read_csv, py::arg("path"), py::arg("target") = "", py::arg("maximize") = true,
                  py::arg("name") = "",
                  "A CSV with a header: target (default: the last column) is the outcome, every other column an "
                  "input; rows with an empty outcome are left out.")
      .def_property_readonly("X", [](const Prior& p) { return to_numpy(p.X); })
      .def_property_readonly("y", [](const Prior& p) { return to_numpy(p.y); })
      .def_readonly("columns", &Prior::columns)
      .def_readonly("maximize", &Prior::maximize)
      .def_readonly("name", &Prior::name)
      .def_readonly("source", &Prior::source)
      .def_property_readonly("rows", &Prior::rows)
      .def("digest", &Prior::digest, "SHA-256 of columns, direction, X and y (what a saved campaign records).")
      .def("describe", [](const Prior& p) { return to_python(p.describe()); })
      .def("__repr__", [](const Prior& p) {
        return str("Prior(name='", p.name, "', rows=", p.rows(), ", columns=[", join(p.columns), "], maximize=",
                   p.maximize ? "True" : "False", ")");
      });

  m.def("element_of_column", &element_of_column, py::arg("name"),
        "The element symbol a column name stands for ('Ni' for 'Ni', 'ni_load', 'Ni_fraction'), or ''.");
  m.def("element_formulas",
        [](const DoubleArray& X, const std::vector<std::string>& columns) {
          return element_formulas(to_tensor(X, 2, "X"), columns, "element_formulas");
        },
        py::arg("X"), py::arg("columns"),
        "Each row's formula from its element columns ('Ni', 'ni_load', ...; others ignored), e.g. 'Fe0.2Ni0.8'.");
  m.def("natural_columns", &natural_columns, py::arg("space"),
        "The names priors meet a design space by: a continuous or integer parameter by its name, a composition's "
        "elements by symbol, a choice as 'name=label'.");
  m.def("natural_table", [](const DesignSpace& s, const DoubleArray& raw) {
        return to_numpy(natural_table(s, to_tensor(raw, 2, "candidates")));
      }, py::arg("space"), py::arg("candidates"),
      "Raw candidates [n, raw_width] as the table natural_columns names (a choice as 0/1 columns).");

  py::class_<PoolCampaign> pool(m, "PoolCampaign", py::dynamic_attr(), "A Bayesian-optimisation campaign over the rows of a pool.");
  pool.def(py::init([](const GraphBatch& graphs, const py::object& maximize, const py::kwargs& settings) {
             return PoolCampaign(std::make_shared<const GraphBatch>(graphs), config_of(settings, maximize));
           }),
           py::arg("pool"), py::arg("maximize") = py::none(),
           "A campaign over materials as graphs (a GraphBatch, one per candidate), surrogate='gnn' or 'gnn-dkl'; "
           "gnn={'n_members', 'hidden', 'layers', 'max_epochs', 'dkl_dims', 'kind'}.")
      .def(py::init([](const DoubleArray& pool, const py::object& maximize, std::vector<Prior> priors,
                       std::vector<std::string> columns, const py::kwargs& settings) {
             return PoolCampaign(to_tensor(pool, 2, "pool"), std::move(columns), std::move(priors),
                                 config_of(settings, maximize));
           }),
           py::arg("pool"), py::arg("maximize") = py::none(), py::arg("priors") = std::vector<Prior>{},
           py::arg("columns") = std::vector<std::string>{},
           "A campaign over the rows of a feature pool [N, d]. Keyword arguments are campaign settings: "
           "acquisition (sozai.bo.acquisition_names()), outcomes ([{'name', 'direction': 'maximize'|'minimize'|"
           "'at_most'|'at_least', 'limit'}], one per measured column), ref_point, ucb_beta, mc_samples, surrogate, "
           "n_init, seed, gp={'kernel', 'outcome_transform', 'restarts', ...}, fidelity_costs (a multi-fidelity pool "
           "whose last column is the fidelity; acquisition 'aei'), target_fidelity, aei_target_first, "
           "aei_max_cheap_share, full_refit_every, keep_hyperparameters_from. maximize=False is the shorthand for "
           "outcomes=[{'direction': 'minimize'}]. priors: Prior tables the model learns from (columns then names the "
           "pool's columns), transfer={'method': 'auto'|'rgpe'|'residual'|'mtgp'|'none', ...} how.")
      .def("ask", [](PoolCampaign& c, int64_t q) { return to_numpy_index(released([&] { return c.ask(q).rows; })); },
           py::arg("q") = 1, "Proposes q pool rows (marked pending).")
      .def("ask_described", [](PoolCampaign& c, int64_t q) { return described(released([&] { return c.ask(q); })); },
           py::arg("q") = 1,
           "Proposes q pool rows (marked pending), as a dict: rows, X, and the model's mean, variance and "
           "acquisition value of each (None for random or prior-ranked picks).")
      .def("tell", py::overload_cast<int64_t, double>(&PoolCampaign::tell), py::arg("index"), py::arg("value"))
      .def("tell", py::overload_cast<const std::vector<int64_t>&, const std::vector<double>&>(&PoolCampaign::tell),
           py::arg("indices"), py::arg("values"))
      .def("tell_outcomes", &PoolCampaign::tell_outcomes, py::arg("index"), py::arg("outcomes"),
           "Records every outcome of one experiment.")
      .def("cancel", py::overload_cast<int64_t>(&PoolCampaign::cancel), py::arg("index"))
      .def("attach_graphs",
           [](PoolCampaign& c, const GraphBatch& graphs) { c.attach_graphs(std::make_shared<const GraphBatch>(graphs)); },
           py::arg("graphs"), "Gives a loaded graph campaign its graphs back (saves keep rows, not graphs).")
      .def_property_readonly("observed_indices", [](const PoolCampaign& c) { return to_numpy_index(c.observed_indices()); })
      .def_property_readonly("observed_values",
                             [](const PoolCampaign& c) { return to_numpy(torch::tensor(c.observed_values(), torch::kFloat64)); })
      .def_property_readonly("pending", [](const PoolCampaign& c) { return to_numpy_index(c.pending_rows()); })
      .def_property_readonly("cost_spent", &PoolCampaign::cost_spent,
                             "Multi-fidelity: total cost of the results told so far.")
      .def_property_readonly("pool_size", &PoolCampaign::pool_size)
      .def_property_readonly("pool", [](const PoolCampaign& c) { return to_numpy(c.pool()); },
                             "The candidates [N, d] (a copy).")
      .def("best", [](const PoolCampaign& c) {
             auto b = c.best();
             return py::make_tuple(b.candidate.rows.front(), b.value);
           }, "(row, value) of the best result so far.");
  common_members(pool);
  prior_members(pool);

  py::class_<SpaceCampaign> space(m, "SpaceCampaign", py::dynamic_attr(),
                                  "A Bayesian-optimisation campaign over a continuous or mixed DesignSpace.");
  space.def(py::init([](const DesignSpace& s, const py::object& maximize, std::vector<Prior> priors,
                         const py::kwargs& settings) {
              return SpaceCampaign(s, std::move(priors), config_of(settings, maximize));
            }),
            py::arg("space"), py::arg("maximize") = py::none(), py::arg("priors") = std::vector<Prior>{},
            "Keyword arguments are campaign settings, as for PoolCampaign (surrogate 'gp' or 'random'; any "
            "acquisition that optimises over a design space), plus optimizer={'restarts', 'raw_samples', "
            "'max_iter', 'history', 'rounds'} of the acquisition optimiser. priors: Prior tables the model learns "
            "from, meeting the space by name (columns: a composition's elements by symbol, other parameters by "
            "name, a choice as 'name=label'); transfer={...} how, as for PoolCampaign.")
      .def("ask", [](SpaceCampaign& c, int64_t q) { return to_numpy(released([&] { return c.ask(q).X; })); },
           py::arg("q") = 1, "Proposes q raw candidates [q, raw_width] (marked pending).")
      .def("ask_described", [](SpaceCampaign& c, int64_t q) { return described(released([&] { return c.ask(q); })); },
           py::arg("q") = 1,
           "Proposes q raw candidates (marked pending), as a dict: X, and the model's mean, variance and "
           "acquisition value of each (None for random or prior-ranked picks).")
      .def("tell", [](SpaceCampaign& c, const DoubleArray& candidates, const DoubleArray& values) {
             c.tell(to_tensor(candidates, 2, "candidates"), to_tensor(values, -1, "values"));
           }, py::arg("candidates"), py::arg("values"),
           "Records results: candidates [n, raw_width], values [n] or [n, num_outcomes].")
      .def("tell_outcomes", [](SpaceCampaign& c, const DoubleArray& candidate, const std::vector<double>& outcomes) {
             c.tell_outcomes(candidate_vector(candidate), outcomes);
           }, py::arg("candidate"), py::arg("outcomes"))
      .def("cancel", [](SpaceCampaign& c, const DoubleArray& candidate) { c.cancel(candidate_vector(candidate)); },
           py::arg("candidate"))
      .def_property_readonly("space", &SpaceCampaign::space)
      .def_property_readonly("observed_candidates", [](const SpaceCampaign& c) { return to_numpy(c.observed_candidates()); })
      .def_property_readonly("pending", [](const SpaceCampaign& c) { return to_numpy(c.pending().X); })
      .def("best", [](const SpaceCampaign& c) {
             auto b = c.best();
             return py::make_tuple(b.position, b.value);
           }, "(row of observed_candidates, value) of the best result so far.");
  common_members(space);
  prior_members(space);
}

}  // namespace sozai
