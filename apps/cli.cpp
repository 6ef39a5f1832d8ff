#include "apps/cli.h"
#include "apps/serve.h"
#include "core/lab/lab_service.h"
#include "core/bo/registry.h"
#include "core/campaign/benchmark.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "core/space/design_space_json.h"
#include "common/build_info.h"
#include "common/error.h"
#include "datasets/closed_loop.h"
#include "datasets/featurized.h"
#include "datasets/property_import.h"
#include "datasets/pool_csv.h"
#include "datasets/csv.h"
#include "datasets/registry.h"
#include "models/gnn/ensemble.h"
#include "models/gnn/pretrain.h"
#include "core/federated/coordinator.h"
#include "core/screen/screen.h"
#include "apps/federate.h"
#include "common/files.h"
#include "common/json.h"
#include "common/strings.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

namespace sozai {
namespace cli {

namespace {

const char* kUsage = R"(usage: sozai <command> [options]

commands:
  --version, version        versions of sozai and of what it was built with
  datasets                  list the registered datasets
  benchmark                 replay BO campaigns on a real closed-loop dataset
      --dataset NAME        registry name (see `sozai datasets`)
      --budget B            experiments per campaign (default: the whole pool)
      --seeds S             campaigns per acquisition (default 20)
      --acquisition A[,B]   acquisition functions: ei, logei, ucb, pi, qlognei, qucb,
                            thompson (default logei,ucb)
      --random-seeds R      random-search campaigns (default max(S, 200))
      --q Q                 batch size (default 1)
      --n-init N            random experiments before the first model (default 2)
      --no-early-stop       run every campaign to the full budget
      --out DIR             write DIR/NAME.json (curves) and DIR/NAME.md (summary)
      --prior P             earlier results to learn from (repeatable): a registered
                            closed-loop dataset or a CSV file (outcome last); every
                            acquisition then runs with and without them (arm "+priors")
      --settings JSON       campaign settings, e.g. {"transfer": {"method": "residual"}}
  campaign new  --pool P.csv --state S.json [--target COL] [--minimize] [--acquisition A] [--seed N]
                [--n-init N] [--settings JSON] [--prior PAST.csv [--prior MORE.csv]] [--prior-target COL]
                            start a campaign over the rows of a CSV pool (header
                            row; --target names a column whose filled cells are
                            results already measured; the other columns are inputs).
                            --prior: earlier results (CSV, outcome in --prior-target,
                            default the last column) aligned by column name, element
                            columns as shares ("Ni", "ni_load"); "transfer" in
                            --settings picks the method (default auto). Later
                            commands read the files again and refuse changed ones
  campaign new  --space SPACE.json --state S.json [--minimize] [--acquisition A] [--seed N] [--settings JSON]
                [--prior PAST.csv [--prior MORE.csv]] [--prior-target COL]
                            start a campaign over a continuous or mixed design
                            space (JSON: {"parameters": [...], "constraints": [...]});
                            --prior as for a pool: columns meet the space by name
                            (a composition's elements by symbol, a choice "name=label");
                            --settings: campaign settings as JSON, the keys Python's
                            keyword arguments and the lab service take
                            ({"mc_samples": 64, "gp": {"restarts": 2}, ...})
  federate serve --db FED.db [--port P] [--host H] [--tls-cert C --tls-key K]
                            a federation's coordinator (the lab service's HTTP
                            stack, tokens and store); admin token as for serve
  federate create --db FED.db --name N --parties P --kind composition|polymer|crystal
                [--members M] [--seed S] [--rounds R] [--local-epochs E] [--proximal-mu MU]
                [--threshold T] [--update-clip C] [--phase-timeout SEC] [--plain]
                [--dp-clip C --dp-noise Z [--dp-delta D]] [--server-momentum B] [--server-lr S]
                [--from-pretrained NAME] | --config FED.json
                            a federation (prints its id); --plain: no secure aggregation
  federate token --db FED.db --federation ID
                            a token for the next party (printed once)
  federate join --server URL --token T --federation ID --data MINE.csv --kind K
                --input COL --target COL [--conditions C1,C2] --out MODEL.pt
                [--ca-cert CA.pem] [--wait SEC]
                            train as one party: the rows stay in this process;
                            writes the federation's ensemble
  campaign ask  --state S.json [--q Q]     propose Q rows (printed as CSV; space
                            campaigns print one JSON object of named values per line)
  campaign tell --state S.json --row I --value Y   record a result
  campaign tell --state S.json --params '{"T": 500, ...}' --value Y   (space campaigns)
  campaign show --state S.json             observations, pending and best
  serve --db PATH [--host 127.0.0.1] [--port 8080] [--tls-cert F --tls-key F] [--threads 16]
                            the smart-lab HTTP service (API: GET /openapi.json;
                            dashboard: GET /); the first start writes the admin
                            token to PATH.admin-token (or takes SOZAI_ADMIN_TOKEN)
        limits: --max-body-bytes 16777216 --header-timeout 10 --body-timeout 60
                --idle-timeout 60 --max-connections-per-client 64 --max-ask-count 100
                --max-lease-seconds 604800 --max-leased 1000 --max-parameters 64
                --max-pool-rows 100000 --max-campaigns 1000 --max-note-bytes 4096
                --max-name-bytes 200 --idempotency-ttl-seconds 604800 --max-page 1000
                --warm-engines 16
  serve --db PATH --check   verify a store offline (SQLite integrity, every row's
                            checksum); exit 1 when anything is wrong
  token create --db PATH --role admin|controller|viewer [--campaign ID]
                            print a new access token once
  featurize                 featurise a property table into an HDF5 dataset
      --dataset NAME        a registered property dataset (tg_polymers, perov_5, mpea, ...), or
      --csv PATH --kind polymer|composition|crystal --input COL --target COL[,COL] [--units U[,U]]
      --out FILE.h5         where to write the featurised dataset
      --limit N             featurise at most the first N rows
      --max-neighbors K     crystal graphs: neighbours kept per atom (default 12; 0 = all within --cutoff)
      --cutoff R            crystal graphs: neighbour cutoff in Å (default 8)
      --no-graphs, --no-features   leave out the graphs or the feature matrix
      Rows that cannot be used are listed by line with the reason; the rest are kept.
  train                     train a GNN ensemble on a property table
      --dataset NAME | --csv PATH --kind polymer|composition|crystal --input COL --target COL
      --out MODEL.pt        the trained ensemble (one file)
      --members M --epochs E --hidden H --layers L --seed S --limit N   (--hidden 0: 128 polymer, 64 crystal/composition)
      --epochs E            epoch limit (default: about 4000 optimiser steps, within 40..200)
      --threads T           members trained side by side (default: one per core)
      --checkpoint FILE     save after each member; rerunning resumes from it
      --dropout P --mc-samples S   dropout in the heads; MC dropout samples at prediction
      --from-pretrained NAME|FILE  fine-tune a pretrained network (composition-mp, or a file from `pretrain`)
      --head new|TASK       fine-tuning: a new head, or the pretrained head of TASK (e.g. mp_gap)
      --freeze-epochs N     fine-tuning: only the head trains for the first N epochs
      --trunk-lr S          fine-tuning: the trunk's learning rate is S x the head's (0 < S <= 1)
      --stopping auto|holdout|folds   early stopping on a 10% holdout, or cross-validated over member folds
  pretrain                  multi-task pretraining on large computed data sets
      --dataset A,B         registered datasets, one head each (mp_e_form,mp_gap; tg_polymers,eg_polymers)
      --kind composition|polymer
      --out MODEL.pt        the pretrained model; its model card goes beside it as MODEL.md
      --epochs E (60) --batch-size B (256) --lr LR (1e-3) --hidden H --layers L --seed S
      --element-init mat2vec|magpie|none   composition: the element table's start (default mat2vec)
      --checkpoint FILE     written every 10 min and each epoch; rerunning resumes from it
      --max-hours H         stop (with the checkpoint) after H hours; run again to go on
      --export-checkpoint   write the model as it stands in --checkpoint to --out, and exit
      --device cpu|cuda[:N] --threads T --limit N (first N rows of each dataset)
  screen --space SPACE.json | --library LIB(.h5|.csv|.smi|DIR) [--input COL]
         --campaign STATE | --model MODEL.pt|NAME:TASK [--model ...] [--objective NAME ...] [--minimize]
         [--score mean|ucb|ei|logei|thompson|pareto] [--top K] [--out TOP.csv|TOP.h5]
                            score every candidate and keep the best K (or, with several
                            objectives, the Pareto set); a space is enumerated lazily by
                            grid index (constraints and the critical-element budget
                            applied while enumerating); a campaign's own space is used
                            when --space is left out. Under mpirun each rank screens a
                            contiguous part and one MPI reduction merges the top-k.
      --beta B              ucb: mean + sqrt(B) sd (default 4)
      --best Y              ei/logei: the incumbent (default: the campaign's best)
      --limit NAME>=V       keep / weight by the probability that an outcome meets a limit
                            (repeatable; a campaign's constraints apply too)
      --min-probability P   feasibility needed by mean, ucb, thompson, pareto (default 0.5)
      --seed S              thompson: the posterior sample path
      --chunk N             grid positions (or rows) per block (default 65536)
      --no-prune            compute every candidate's exact posterior (a campaign's GPs otherwise dismiss
                            candidates whose score is bounded below the k-th best so far; same result)
      --shard I/N           screen shard I of N and write a part (Slurm arrays);
                            `sozai screen merge PART... --out TOP.h5` combines them
      --checkpoint FILE     default OUT.ckpt; rerunning resumes after the last finished block
      --checkpoint-seconds S   how often it is written (default 30)
      --device cpu|cuda[:N]|auto   auto: each rank its local GPU, else the CPU
      --quiet               no progress lines
  predict --model MODEL.pt --csv PATH --input COL [--out PRED.csv]
                            mean and standard deviation for every row (CSV on stdout or --out)
)";

/// Parsed "--key value" options; flags without a value map to "".
struct Options {
  std::map<std::string, std::string> values;              ///< the last value of each option
  std::map<std::string, std::vector<std::string>> lists;  ///< every value of each option, in order
  std::vector<std::string> get_all(const std::string& k) const {
    auto it = lists.find(k);
    return it == lists.end() ? std::vector<std::string>{} : it->second;
  }
  bool has(const std::string& k) const { return values.count(k) > 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
  int64_t get_int(const std::string& k, int64_t def) const {
    if (!has(k)) return def;
    try {
      size_t pos = 0;
      long long v = std::stoll(get(k), &pos);
      if (pos != get(k).size()) throw std::invalid_argument("trailing");
      return v;
    } catch (const std::exception&) {
      throw InputError(str("option --", k, " expects an integer, got '", get(k), "'"));
    }
  }
  double get_double(const std::string& k) const {
    try {
      size_t pos = 0;
      double v = std::stod(get(k), &pos);
      if (pos != get(k).size() || !std::isfinite(v)) throw std::invalid_argument("bad");
      return v;
    } catch (const std::exception&) {
      throw InputError(str("option --", k, " expects a finite number, got '", get(k), "'"));
    }
  }
  std::string require(const std::string& k) const {
    if (!has(k) || get(k).empty()) throw InputError(str("missing required option --", k));
    return get(k);
  }
};

Options parse_options(const std::vector<std::string>& args, size_t start, const std::vector<std::string>& flags,
                      const std::vector<std::string>& known) {
  Options o;
  for (size_t i = start; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--", 0) != 0) throw InputError(str("unexpected argument '", a, "'"));
    std::string key = a.substr(2);
    auto eq = key.find('=');
    std::string value;
    bool has_value = false;
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
      has_value = true;
    }
    const bool is_flag = std::find(flags.begin(), flags.end(), key) != flags.end();
    if (!is_flag && std::find(known.begin(), known.end(), key) == known.end())
      throw InputError(str("unknown option --", key));
    if (!is_flag && !has_value) {
      if (i + 1 >= args.size()) throw InputError(str("option --", key, " needs a value"));
      value = args[++i];
    }
    o.values[key] = value;
    o.lists[key].push_back(value);
  }
  return o;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string fmt(double v, int prec = 2) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

int cmd_version() {
  auto info = build_info();
  std::cout << "sozai " << info["version"] << "\n";
  for (const auto& kv : info)
    if (kv.first != "version") std::cout << "  " << kv.first << ": " << kv.second << "\n";
  return 0;
}

int cmd_datasets() {
  std::cout << std::left << std::setw(24) << "name" << std::setw(10) << "kind" << "title\n";
  for (const auto& d : dataset_registry())
    std::cout << std::left << std::setw(24) << d.name << std::setw(10) << d.kind << d.title
              << (d.closed_loop ? (d.single_objective ? "  [closed loop]" : "  [closed loop, multi-objective]") : "")
              << "\n";
  return 0;
}

/// Markdown table of one benchmark: EF and AF of every arm.
std::string summary_markdown(const std::string& name, const ClosedLoopDataset& ds, const PoolBenchmarkConfig& cfg,
                             const PoolBenchmarkResult& r) {
  std::ostringstream md;
  md << "### " << name << "\n\n"
     << "pool " << r.pool_size << " unique inputs (" << ds.raw_rows << " rows), objective '" << ds.objective_names[0]
     << "' (" << (ds.maximize[0] ? "maximise" : "minimise") << "), top set " << r.top.required << " ("
     << cfg.top_fraction * 100 << "%), budget " << r.budget << ", " << cfg.seeds << " seeds per BO arm, "
     << r.arms[0].orders.size() << " random seeds, q=" << cfg.q << ", n_init=" << cfg.n_init << "\n\n";
  if (!cfg.priors.empty()) {
    md << "priors (arms \"+priors\", transfer method " << cfg.campaign.transfer.method << "):";
    for (const auto& p : cfg.priors) md << " " << p.name << " (" << p.rows() << " rows)";
    md << "\n\n";
  }
  md << "| arm |";
  for (auto i : cfg.ef_at) md << " EF@" << i << " |";
  for (auto t : cfg.af_at) md << " n@" << static_cast<int>(t * 100) << "% | AF@" << static_cast<int>(t * 100) << "% |";
  md << " s/campaign |\n|---|";
  for (size_t k = 0; k < cfg.ef_at.size() + 2 * cfg.af_at.size() + 1; ++k) md << "---|";
  md << "\n";
  for (const auto& a : r.arms) {
    md << "| " << a.name << " |";
    for (auto i : cfg.ef_at) md << " " << fmt(a.ef.at(i)) << " |";
    for (auto t : cfg.af_at) {
      auto nreach = a.n_to_reach.at(t);
      md << " " << (nreach < 0 ? std::string("not reached") : std::to_string(nreach)) << " | " << fmt(a.af.at(t))
         << " |";
    }
    md << " " << fmt(a.seconds / std::max<size_t>(1, a.orders.size()), 3) << " |\n";
  }
  return md.str();
}

nlohmann::json result_json(const std::string& name, const ClosedLoopDataset& ds, const PoolBenchmarkConfig& cfg,
                           const PoolBenchmarkResult& r) {
  nlohmann::json j;
  j["dataset"] = name;
  j["objective"] = ds.objective_names[0];
  j["maximize"] = static_cast<bool>(ds.maximize[0]);
  j["pool_size"] = r.pool_size;
  j["raw_rows"] = ds.raw_rows;
  j["budget"] = r.budget;
  j["top_required"] = r.top.required;
  j["top_fraction"] = cfg.top_fraction;
  j["seeds"] = cfg.seeds;
  j["q"] = cfg.q;
  j["n_init"] = cfg.n_init;
  for (const auto& p : cfg.priors) j["priors"].push_back(p.describe());
  if (!cfg.priors.empty()) j["transfer"] = cfg.campaign.transfer;
  auto nan_to_null = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  for (const auto& a : r.arms) {
    nlohmann::json ja;
    ja["name"] = a.name;
    ja["mean_top_fraction"] = a.mean;
    ja["best_so_far_mean"] = a.best_so_far_mean;
    ja["seconds"] = a.seconds;
    ja["campaigns"] = a.orders.size();
    if (a.name != "random") ja["curves"] = a.curves;  // random's hundreds of curves only make the file large
    else {
      // Spread of random search as the 10th/90th percentile per experiment count.
      std::vector<double> p10, p90;
      for (int64_t i = 0; i < r.budget; ++i) {
        std::vector<double> col;
        for (const auto& c : a.curves) col.push_back(c[i]);
        std::sort(col.begin(), col.end());
        p10.push_back(col[col.size() / 10]);
        p90.push_back(col[(col.size() * 9) / 10]);
      }
      ja["p10"] = p10;
      ja["p90"] = p90;
    }
    for (const auto& kv : a.ef) ja["ef"][std::to_string(kv.first)] = nan_to_null(kv.second);
    for (const auto& kv : a.af) ja["af"][fmt(kv.first, 2)] = nan_to_null(kv.second);
    for (const auto& kv : a.n_to_reach) ja["n_to_reach"][fmt(kv.first, 2)] = kv.second;
    j["arms"].push_back(ja);
  }
  return j;
}

/// The JSON object of --settings ({} when not given).
nlohmann::json settings_option(const Options& o) {
  if (!o.has("settings")) return nlohmann::json::object();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(o.get("settings"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(str("--settings: not valid JSON: ", e.what()));
  }
  if (!j.is_object()) throw InputError("--settings must be a JSON object of campaign settings");
  return j;
}

int cmd_benchmark(const std::vector<std::string>& args) {
  auto o = parse_options(args, 1, {"no-early-stop"}, {"dataset", "budget", "seeds", "acquisition", "random-seeds", "q",
                                                      "n-init", "out", "prior", "settings"});
  const std::string name = o.require("dataset");
  const auto& info = dataset_info(name);
  if (!info.closed_loop)
    throw InputError(str("dataset '", name, "' is not a closed-loop dataset; `sozai datasets` lists those marked [closed loop]"));
  auto ds = load_closed_loop(name);
  if (ds.objective_names.size() != 1)
    throw UnsupportedError(str("dataset '", name, "' has ", ds.objective_names.size(),
                               " objectives; `sozai benchmark` replays single-objective campaigns"));
  PoolBenchmarkConfig cfg;
  // transfer, gp, ...; the acquisitions, seeds and n_init come from their own options
  cfg.campaign = CampaignConfig::from_json(settings_option(o), "settings");
  for (const auto& p : o.get_all("prior")) {
    // A registered closed-loop dataset of the same outcome, or a CSV file (outcome in its last column).
    if (std::filesystem::exists(p)) {
      cfg.priors.push_back(Prior::read_csv(p, "", ds.maximize[0]));
      continue;
    }
    auto pd = load_closed_loop(p);  // InputError listing the registered names
    cfg.priors.emplace_back(pd.X, pd.Y.select(1, 0), pd.input_names, pd.maximize[0], p);
  }
  cfg.columns = ds.input_names;
  cfg.budget = o.get_int("budget", 0);
  cfg.seeds = o.get_int("seeds", 20);
  cfg.random_seeds = o.get_int("random-seeds", 0);
  cfg.q = o.get_int("q", 1);
  cfg.n_init = o.get_int("n-init", 2);
  cfg.stop_when_all_found = !o.has("no-early-stop");
  if (o.has("acquisition")) cfg.acquisitions = split_commas(o.get("acquisition"));
  for (const auto& a : cfg.acquisitions) acquisition_info(a);  // InputError listing the names
  const int64_t budget = cfg.budget > 0 ? cfg.budget : ds.X.size(0);
  if (budget > ds.X.size(0))
    throw InputError(str("--budget ", budget, " exceeds the ", ds.X.size(0), " unique candidates of ", name));

  std::cerr << "sozai benchmark: " << name << ", " << ds.X.size(0) << " candidates x " << ds.X.size(1)
            << " inputs, budget " << budget << ", " << cfg.seeds << " seeds x " << cfg.acquisitions.size()
            << " acquisitions\n";
  auto progress = [](const std::string& arm, int64_t seed, int64_t seeds, double secs) {
    std::cerr << "  [" << arm << "] seed " << (seed + 1) << "/" << seeds << " done in " << fmt(secs, 1) << " s\n";
  };
  auto result = run_pool_benchmark(ds.X, ds.Y.select(1, 0), ds.maximize[0], cfg, progress);
  auto md = summary_markdown(name, ds, cfg, result);
  std::cout << md;
  if (o.has("out")) {
    std::filesystem::path dir(o.require("out"));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / (name + ".json")) << result_json(name, ds, cfg, result).dump(1) << "\n";
    std::ofstream(dir / (name + ".md")) << md;
    std::cerr << "wrote " << (dir / (name + ".json")).string() << " and " << (dir / (name + ".md")).string() << "\n";
  }
  return 0;
}

/// Campaign settings from --settings (a JSON object) and the flags that
/// name one setting each; read by CampaignConfig::from_json like Python's
/// keyword arguments and the lab service's description.
CampaignConfig campaign_settings(const Options& o) {
  nlohmann::json j = settings_option(o);
  if (o.has("acquisition")) j["acquisition"] = o.get("acquisition");
  if (o.has("seed")) j["seed"] = o.get_int("seed", 0);
  if (o.has("n-init")) j["n_init"] = o.get_int("n-init", 0);
  if (o.has("minimize")) {
    if (j.contains("outcomes")) throw InputError("give --minimize or outcomes in --settings, not both");
    j["outcomes"] = {{{"direction", "minimize"}}};
  }
  return CampaignConfig::from_json(j, "settings");
}

nlohmann::json read_json_file(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) throw InputError(str("cannot open ", what, " '", path, "'"));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(str(path, ": not valid JSON: ", e.what()));
  }
}

/// Reads a loaded campaign's priors back from the files its state names
/// (their digests are checked on attaching).
template <typename C>
void reattach_priors(C* c) {
  if (!c || c->prior_records().empty() || !c->priors().empty()) return;
  std::vector<Prior> priors;
  for (const auto& r : c->prior_records()) priors.push_back(Prior::read_back(r));
  c->attach_priors(std::move(priors));
}

/// Campaign::load, with the priors of a pool or space campaign read back.
std::unique_ptr<Campaign> load_campaign(const std::string& path) {
  auto c = Campaign::load(path);
  reattach_priors(dynamic_cast<PoolCampaign*>(c.get()));
  reattach_priors(dynamic_cast<SpaceCampaign*>(c.get()));
  return c;
}

/// What `campaign new` prints of its priors.
std::string priors_line(const std::vector<Prior>& priors) {
  std::string out;
  for (const auto& p : priors) out += str("; prior '", p.name, "' (", p.rows(), " rows)");
  return out;
}

int cmd_campaign(const std::vector<std::string>& args) {
  if (args.size() < 2) throw InputError("campaign needs a sub-command: new, ask, tell or show");
  const std::string sub = args[1];
  if (sub == "new") {
    auto o = parse_options(args, 2, {"minimize"}, {"pool", "space", "state", "target", "acquisition", "seed", "n-init",
                                                   "settings", "prior", "prior-target"});
    const auto cfg = campaign_settings(o);
    std::vector<Prior> priors;  // earlier results of the same outcome: the campaign's direction
    for (const auto& path : o.get_all("prior"))  // absolute: later commands may run elsewhere
      priors.push_back(Prior::read_csv(std::filesystem::absolute(path).string(), o.get("prior-target"),
                                       cfg.maximize()));
    if (o.has("space")) {
      const auto path = o.require("space");
      SpaceCampaign c(space_from_json(read_json_file(path, "design space"), path), priors, cfg);
      c.save(o.require("state"));
      std::cout << "campaign over a design space of " << c.space().parameters().size() << " parameters"
                << priors_line(priors) << "; state in " << o.require("state") << "\n";
      return 0;
    }
    auto pool = read_pool_csv(o.require("pool"), o.get("target"));
    PoolCampaign c(pool.X, pool.input_names, priors, cfg);
    c.tell(pool.measured_rows, pool.measured_values);
    c.save(o.require("state"));
    std::cout << "campaign over " << pool.X.size(0) << " candidates (" << pool.input_names.size()
              << " inputs), " << pool.measured_rows.size() << " results already known" << priors_line(priors)
              << "; state in " << o.require("state") << "\n";
    return 0;
  }
  if (sub == "ask") {
    auto o = parse_options(args, 2, {}, {"state", "q"});
    auto c = load_campaign(o.require("state"));
    auto picks = c->ask(o.get_int("q", 1));
    c->save(o.require("state"));
    if (const auto* s = dynamic_cast<const SpaceCampaign*>(c.get())) {
      for (int64_t i = 0; i < picks.size(); ++i)
        std::cout << candidate_to_json(s->space(), picks.X[i].data_ptr<double>()).dump() << "\n";
      return 0;
    }
    std::cout << "row";
    for (int64_t j = 0; j < picks.X.size(1); ++j) std::cout << ",x" << j;
    std::cout << "\n";
    for (int64_t i = 0; i < picks.size(); ++i) {
      std::cout << picks.rows[i];
      for (int64_t j = 0; j < picks.X.size(1); ++j) std::cout << "," << picks.X[i][j].item<double>();
      std::cout << "\n";
    }
    return 0;
  }
  if (sub == "tell") {
    auto o = parse_options(args, 2, {}, {"state", "row", "params", "value"});
    auto c = load_campaign(o.require("state"));
    const auto value = torch::tensor(std::vector<double>{o.get_double("value")}, torch::kFloat64);
    std::string what;
    if (const auto* s = dynamic_cast<const SpaceCampaign*>(c.get())) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(o.require("params"));
      } catch (const nlohmann::json::exception& e) {
        throw InputError(str("--params: not valid JSON: ", e.what()));
      }
      const auto raw = candidate_from_json(s->space(), j, "--params");
      c->tell(Candidates(torch::tensor(raw, torch::kFloat64).unsqueeze(0)), value);
      what = j.dump();
    } else {
      const int64_t row = o.get_int("row", -1);
      c->tell(Candidates(torch::Tensor(), {row}), value);
      what = str("row ", row);
    }
    c->save(o.require("state"));
    std::cout << "recorded " << what << " = " << o.get("value") << " (" << c->num_observed() << " results)\n";
    return 0;
  }
  if (sub == "show") {
    auto o = parse_options(args, 2, {}, {"state"});
    auto c = Campaign::load(o.require("state"));
    const auto* s = dynamic_cast<const SpaceCampaign*>(c.get());
    const auto* p = dynamic_cast<const PoolCampaign*>(c.get());
    std::cout << (s ? str("design space of ", s->space().parameters().size(), " parameters")
                    : str("pool ", p->pool_size(), " candidates"))
              << ", " << c->num_observed() << " results, " << c->pending().size() << " pending, acquisition "
              << to_string(c->config().acquisition.kind) << ", " << (c->maximize() ? "maximise" : "minimise") << "\n";
    if (c->num_observed() > 0 && c->num_outcomes() == 1) {
      auto b = c->best();
      std::cout << "best: "
                << (s ? candidate_to_json(s->space(), b.candidate.X[0].data_ptr<double>()).dump()
                      : str("row ", b.candidate.rows.front()))
                << " = " << b.value << "\n";
    }
    return 0;
  }
  throw InputError(str("unknown campaign sub-command '", sub, "'; expected new, ask, tell or show"));
}

/// The rows an import left out, one line each on stderr.
void print_left_out(const PropertyImportReport& report) {
  for (const auto& b : report.bad_rows) std::cerr << "  left out (" << b.reason << "): " << b.message << "\n";
}

/// `serve` and `federate serve` options from args[start..].
ServeOptions parse_serve_options(const std::vector<std::string>& args, size_t start) {
  // Service limits: --max-ask-count N is the key max_ask_count of LabLimits.
  const nlohmann::json limit_fields = LabLimits{};
  std::vector<std::string> flags = {"db", "host", "port", "tls-cert", "tls-key", "threads", "max-body-bytes",
                                    "header-timeout", "body-timeout", "idle-timeout", "max-connections-per-client",
                                    "check"};
  auto flag_of = [](std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    return key;
  };
  for (auto it = limit_fields.begin(); it != limit_fields.end(); ++it) flags.push_back(flag_of(it.key()));
  auto o = parse_options(args, start, {"check"}, flags);
  ServeOptions so;
  so.db = o.require("db");
  so.check = o.has("check");
  so.host = o.get("host", so.host);
  so.port = static_cast<int>(o.get_int("port", so.port));
  if (so.port < 0 || so.port > 65535) throw InputError(str("--port must be in [0, 65535], got ", so.port));
  so.tls_cert = o.get("tls-cert");
  so.tls_key = o.get("tls-key");
  so.threads = static_cast<int>(o.get_int("threads", so.threads));
  so.max_body_bytes = o.get_int("max-body-bytes", so.max_body_bytes);
  so.max_connections_per_client = o.get_int("max-connections-per-client", so.max_connections_per_client);
  auto seconds = [&](const char* flag, double fallback) {
    if (!o.has(flag)) return fallback;
    const double v = o.get_double(flag);
    if (!(v > 0 && v <= 86400)) throw InputError(str("--", flag, " must be in (0, 86400] seconds, got ", v));
    return v;
  };
  so.header_timeout = seconds("header-timeout", so.header_timeout);
  so.body_timeout = seconds("body-timeout", so.body_timeout);
  so.idle_timeout = seconds("idle-timeout", so.idle_timeout);
  nlohmann::json limits = nlohmann::json::object();
  for (auto it = limit_fields.begin(); it != limit_fields.end(); ++it)
    if (o.has(flag_of(it.key()))) limits[it.key()] = o.get_double(flag_of(it.key()));
  so.limits = lab_limits_from_json(limits, "serve");
  return so;
}

int cmd_serve(const std::vector<std::string>& args) { return serve(parse_serve_options(args, 1)); }

/// `sozai federate serve|create|token|join`.
int cmd_federate(const std::vector<std::string>& args) {
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (sub == "serve") return federate_serve(parse_serve_options(args, 2));
  if (sub == "create") {
    auto o = parse_options(args, 2, {"plain"},
                           {"db", "config", "name", "parties", "kind", "members", "seed", "hidden", "layers", "lr",
                            "batch-size", "rounds", "local-epochs", "proximal-mu", "threshold", "update-clip",
                            "calibration-fraction", "phase-timeout", "from-pretrained", "head", "trunk-lr", "dp-clip",
                            "dp-noise", "dp-delta", "server-lr", "server-momentum"});
    federated::FederationService service(o.require("db"));
    nlohmann::json body;
    if (o.has("config")) {
      body = json_io::parse(read_text(o.get("config"), "federation settings"), o.get("config"));
    } else {
      nlohmann::json model{{"kind", o.require("kind")}, {"n_members", o.get_int("members", 5)},
                           {"seed", o.get_int("seed", 0)}};
      if (o.has("hidden")) model["model"]["hidden"] = o.get_int("hidden", 0);
      if (o.has("layers")) model["model"]["layers"] = o.get_int("layers", 0);
      if (o.has("lr")) model["train"]["lr"] = o.get_double("lr");
      if (o.has("batch-size")) model["train"]["batch_size"] = o.get_int("batch-size", 0);
      if (o.has("from-pretrained")) model["finetune"]["pretrained"] = o.get("from-pretrained");
      if (o.has("head")) model["finetune"]["head"] = o.get("head");
      if (o.has("trunk-lr")) model["finetune"]["trunk_lr_scale"] = o.get_double("trunk-lr");
      nlohmann::json training{{"rounds", o.get_int("rounds", 30)}, {"local_epochs", o.get_int("local-epochs", 1)},
                              {"secure", !o.has("plain")}};
      if (o.has("proximal-mu")) training["proximal_mu"] = o.get_double("proximal-mu");
      if (o.has("threshold")) training["threshold"] = o.get_int("threshold", 0);
      if (o.has("update-clip")) training["update_clip"] = o.get_double("update-clip");
      if (o.has("calibration-fraction")) training["calibration_fraction"] = o.get_double("calibration-fraction");
      if (o.has("dp-clip")) training["dp_clip"] = o.get_double("dp-clip");
      if (o.has("dp-noise")) training["dp_noise_multiplier"] = o.get_double("dp-noise");
      if (o.has("dp-delta")) training["dp_delta"] = o.get_double("dp-delta");
      if (o.has("server-lr")) training["server_lr"] = o.get_double("server-lr");
      if (o.has("server-momentum")) training["server_momentum"] = o.get_double("server-momentum");
      body = {{"name", o.require("name")}, {"parties", o.get_int("parties", 0)}, {"model", model},
              {"training", training}};
      if (o.has("phase-timeout")) body["phase_timeout"] = o.get_double("phase-timeout");
    }
    std::cout << service.create_federation(body) << "\n";
    return 0;
  }
  if (sub == "token") {
    auto o = parse_options(args, 2, {}, {"db", "federation"});
    federated::FederationService service(o.require("db"));
    const auto [party, token] = service.create_party_token(o.require("federation"));
    std::cerr << "party " << party << " of federation " << o.get("federation") << "\n";
    std::cout << token << "\n";
    return 0;
  }
  if (sub == "join") {
    auto o = parse_options(args, 2, {"quiet"},
                           {"server", "token", "federation", "data", "kind", "input", "target", "conditions", "out",
                            "ca-cert", "wait", "threads", "limit"});
    PropertyImportOptions opt;
    opt.kind = o.require("kind");
    opt.input_column = o.require("input");
    opt.target_columns = {o.require("target")};
    if (o.has("conditions")) opt.numeric_conditions = split_commas(o.get("conditions"));
    opt.graphs = false;
    opt.features = false;
    opt.limit = o.get_int("limit", -1);
    const std::string out = o.require("out");
    auto r = import_property_csv(o.require("data"), opt);
    print_left_out(r.report);
    std::cerr << r.report.summary() << "\n";
    federated::PartyData data;
    data.inputs = r.data.inputs;
    data.y = r.data.targets.select(1, 0);
    if (!opt.numeric_conditions.empty()) data.conditions = r.data.features.to(torch::kFloat64);
    if (o.has("threads")) torch::set_num_threads(static_cast<int>(o.get_int("threads", 0)));
    federated::HttpTransport transport(o.require("server"), o.require("token"), o.get("ca-cert", ""));
    federated::JoinOptions jo;
    jo.federation = o.require("federation");
    if (o.has("wait")) jo.wait_seconds = o.get_double("wait");
    jo.progress = !o.has("quiet");
    federated::FederatedLog log;
    auto model = federated::join(transport, data, jo, &log);
    if (model.config().kind != opt.kind)
      throw InputError(str("the federation trains a ", model.config().kind, " model, not ", opt.kind));
    model.save(out);
    std::cout << "federation " << jo.federation << ": " << log.round_seconds.size() << " rounds over "
              << data.inputs.size() << " local rows; sent " << fmt(static_cast<double>(transport.bytes_sent()) / 1e6, 2)
              << " MB; variance scale " << fmt(log.variance_scale, 3)
              << (log.dp_epsilon > 0 ? str("; differential privacy epsilon ", fmt(log.dp_epsilon, 3), " at delta ",
                                           log.dp_delta)
                                     : std::string())
              << "\n";
    std::cerr << "wrote " << out << "\n";
    return 0;
  }
  throw InputError("federate needs a sub-command: serve, create, token or join");
}


int cmd_token(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[1] != "create") throw InputError("token needs a sub-command: create");
  auto o = parse_options(args, 2, {}, {"db", "role", "campaign"});
  LabService service(o.require("db"));
  std::cout << service.create_token(o.require("role"), o.get("campaign")) << "\n";
  return 0;
}

/// Reads a property table the same way featurize does and returns its good
/// rows' inputs and first target, listing the rows left out.
std::pair<std::vector<std::string>, torch::Tensor> training_rows(const Options& o, std::string* kind) {
  PropertyImportOptions opt;
  if (o.has("dataset")) {
    opt = property_import_preset(o.require("dataset"));
  } else {
    opt.kind = o.require("kind");
    opt.input_column = o.require("input");
    opt.target_columns = split_commas(o.require("target"));
  }
  opt.graphs = false;  // the ensemble featurises for itself
  opt.features = false;
  opt.limit = o.get_int("limit", -1);
  auto r = o.has("dataset") ? import_registered_dataset(o.get("dataset"), &opt) : import_property_csv(o.get("csv"), opt);
  print_left_out(r.report);
  std::cerr << r.report.summary() << "\n";
  *kind = opt.kind;
  return {r.data.inputs, r.data.targets.select(1, 0)};
}

int cmd_train(const std::vector<std::string>& args) {
  auto o = parse_options(args, 1, {}, {"dataset", "csv", "kind", "input", "target", "out", "members", "epochs",
                                       "hidden", "layers", "seed", "limit", "threads", "checkpoint", "dropout",
                                       "mc-samples", "from-pretrained", "head", "freeze-epochs", "trunk-lr",
                                       "stopping"});
  const std::string out = o.require("out");
  std::string kind;
  auto [inputs, y] = training_rows(o, &kind);
  gnn::GnnEnsembleConfig c;
  c.kind = kind;
  c.n_members = o.get_int("members", 5);
  c.seed = static_cast<uint64_t>(o.get_int("seed", 0));
  c.model.hidden = o.get_int("hidden", 0);  // 0: the architecture's reference width
  c.model.layers = o.get_int("layers", 3);
  c.train.max_epochs = o.get_int("epochs", 0);
  c.train.threads = o.get_int("threads", 0);
  c.train.checkpoint = o.get("checkpoint", "");
  c.model.dropout = o.has("dropout") ? o.get_double("dropout") : 0.0;
  c.mc_dropout_samples = o.get_int("mc-samples", 0);
  c.train.stopping = o.get("stopping", "auto");
  c.finetune.head = o.get("head", "new");
  c.finetune.freeze_epochs = o.get_int("freeze-epochs", 0);
  if (o.has("trunk-lr")) c.finetune.trunk_lr_scale = o.get_double("trunk-lr");
  if (!o.has("from-pretrained") && (o.has("head") || o.has("freeze-epochs") || o.has("trunk-lr")))
    throw InputError("--head, --freeze-epochs and --trunk-lr are fine-tuning options: give --from-pretrained too");
  gnn::GnnEnsemble e = o.has("from-pretrained") ? gnn::GnnEnsemble::from_pretrained(o.get("from-pretrained"), c)
                                                : gnn::GnnEnsemble(c);
  if (o.has("from-pretrained") && e.config().kind != kind)
    throw InputError(str("--from-pretrained ", o.get("from-pretrained"), " is a ", e.config().kind,
                         " model but the data are ", kind));
  auto report = e.fit(inputs, y);
  std::cout << "trained " << c.n_members << " members on " << inputs.size() << " rows in " << fmt(report.seconds, 1)
            << " s; validation MAE " << fmt(report.ensemble_val_mae, 4) << ", variance scale "
            << fmt(report.variance_scale, 3) << "\n";
  e.save(out);
  std::cerr << "wrote " << out << "\n";
  return 0;
}

int cmd_pretrain(const std::vector<std::string>& args) {
  auto o = parse_options(args, 1, {"export-checkpoint"}, {"dataset", "kind", "out", "epochs", "batch-size", "lr", "hidden", "layers",
                                       "seed", "element-init", "checkpoint", "max-hours", "device", "threads",
                                       "limit", "val-fraction"});
  const std::string out = o.require("out");
  gnn::PretrainConfig c;
  c.kind = o.get("kind", "composition");
  c.epochs = o.get_int("epochs", c.epochs);
  c.batch_size = o.get_int("batch-size", c.batch_size);
  c.lr = o.has("lr") ? o.get_double("lr") : c.lr;
  c.val_fraction = o.has("val-fraction") ? o.get_double("val-fraction") : c.val_fraction;
  c.model.hidden = o.get_int("hidden", 0);
  c.model.layers = o.get_int("layers", 3);
  c.seed = static_cast<uint64_t>(o.get_int("seed", 0));
  c.element_init = o.get("element-init", c.kind == "composition" ? "mat2vec" : "none");
  c.checkpoint = o.get("checkpoint", "");
  c.max_hours = o.has("max-hours") ? o.get_double("max-hours") : 0.0;
  c.device = o.get("device", "cpu");
  c.threads = o.get_int("threads", 0);
  c.export_only = o.has("export-checkpoint");
  if (c.export_only && c.checkpoint.empty()) throw InputError("--export-checkpoint needs --checkpoint FILE");
  if (c.element_init == "mat2vec") c.element_table = dataset_path(dataset_info("mat2vec_elements"), "elements/mat2vec.csv");
  auto tasks = gnn::registered_pretrain_tasks(split_commas(o.require("dataset")), o.get_int("limit", -1));
  for (const auto& t : tasks) std::cerr << "[sozai pretrain] " << t.name << ": " << t.inputs.size() << " rows\n";
  const auto r = gnn::pretrain(tasks, c, out);
  if (c.export_only) {
    std::cout << "exported the model at epoch " << fmt(r.epochs_done, 2) << " of " << r.epochs << " to " << out
              << "\n";
    return 0;
  }
  if (!r.finished) {
    std::cout << "stopped at epoch " << fmt(r.epochs_done, 2) << " of " << r.epochs << " after " << fmt(r.seconds / 3600, 2)
              << " h; run the same command again to resume\n";
    return 0;
  }
  const auto model = gnn::PretrainedModel::load(out);
  std::string card_path = out;
  if (ends_with(card_path, ".pt")) card_path.resize(card_path.size() - 3);
  card_path += ".md";
  write_text_atomically(card_path, gnn::model_card_markdown(model.card()));
  std::cout << "pretrained " << tasks.size() << " tasks in " << fmt(r.seconds / 3600, 2) << " h; validation MAE";
  for (const auto& [task, mae] : r.val_mae) std::cout << " " << task << " " << fmt(mae, 4);
  std::cout << "\nwrote " << out << " and " << card_path << "\n";
  return 0;
}

int cmd_predict(const std::vector<std::string>& args) {
  auto o = parse_options(args, 1, {}, {"model", "csv", "input", "out"});
  auto e = gnn::GnnEnsemble::load(o.require("model"));
  const auto table = read_csv(o.require("csv"), /*has_header=*/true);
  const std::string col = o.require("input");
  size_t j = table.header.size();
  for (size_t k = 0; k < table.header.size(); ++k)
    if (table.header[k] == col) j = k;
  if (j == table.header.size()) throw InputError(str(table.path, ": no column '", col, "'"));
  std::vector<std::string> inputs;
  for (const auto& row : table.rows) inputs.push_back(row[j]);
  auto post = e.predict(inputs);
  std::ostringstream csv;
  csv << col << ",mean,std\n";
  for (size_t i = 0; i < inputs.size(); ++i) {
    csv << csv_field(inputs[i]) << "," << std::setprecision(10) << post.mean[i][0].item<double>() << ","
        << std::sqrt(post.variance[i][0].item<double>()) << "\n";
  }
  if (o.has("out")) {
    std::ofstream(o.get("out")) << csv.str();
    std::cerr << "wrote " << o.get("out") << " (" << inputs.size() << " rows)\n";
  } else {
    std::cout << csv.str();
  }
  return 0;
}

int cmd_screen(const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "merge") {
    std::vector<std::string> parts;
    std::string out;
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] == "--out") {
        if (i + 1 >= args.size()) throw InputError("option --out needs a value");
        out = args[++i];
      } else if (args[i].rfind("--", 0) == 0) {
        throw InputError(str("unknown option ", args[i], " (screen merge PART... --out FILE)"));
      } else {
        parts.push_back(args[i]);
      }
    }
    if (out.empty()) throw InputError("missing required option --out");
    auto r = screen::merge(parts, out);
    std::cerr << "merged " << parts.size() << " parts (" << r.screened << " candidates scored): " << r.size()
              << " hits, wrote " << out << "\n";
    return 0;
  }
  auto o = parse_options(args, 1, {"minimize", "quiet", "no-prune"},
                         {"space", "library", "input", "campaign", "model", "objective", "score", "beta", "best",
                          "limit", "min-probability", "seed", "top", "chunk", "out", "checkpoint",
                          "checkpoint-seconds", "shard", "device"});
  screen::ScreenOptions so;
  so.space = o.get("space");
  so.library = o.get("library");
  so.input_column = o.get("input");
  so.campaign = o.get("campaign");
  so.models = o.get_all("model");
  so.objectives = o.get_all("objective");
  so.minimize = o.has("minimize");
  so.score = o.get("score", so.score);
  if (o.has("beta")) so.beta = o.get_double("beta");
  if (o.has("best")) {
    so.best = o.get_double("best");
    so.has_best = true;
  }
  for (const auto& l : o.get_all("limit")) so.limits.push_back(screen::parse_limit(l));
  if (o.has("min-probability")) so.min_probability = o.get_double("min-probability");
  if (o.has("seed")) {
    const auto seed = o.get_int("seed", 0);
    if (seed < 0) throw InputError("option --seed must be >= 0");
    so.seed = static_cast<uint64_t>(seed);
  }
  so.top = o.get_int("top", so.top);
  so.chunk = o.get_int("chunk", so.chunk);
  so.prune = !o.has("no-prune");
  so.out = o.get("out");
  so.checkpoint = o.get("checkpoint");
  if (o.has("checkpoint-seconds")) so.checkpoint_seconds = o.get_double("checkpoint-seconds");
  if (o.has("shard")) {
    const auto sh = o.get("shard");
    const auto slash = sh.find('/');
    try {
      if (slash == std::string::npos) throw std::invalid_argument("no slash");
      size_t a = 0, b = 0;
      so.shard_index = std::stoll(sh.substr(0, slash), &a);
      so.shard_count = std::stoll(sh.substr(slash + 1), &b);
      if (a != slash || b != sh.size() - slash - 1) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw InputError(str("option --shard expects I/N (e.g. 3/16), got '", sh, "'"));
    }
  }
  so.device = o.get("device", so.device);
  so.progress = !o.has("quiet");
  auto r = screen::screen(so);
  if (so.out.empty() && !r.values.empty()) screen::write_csv(r, std::cout);  // no file: the hits on stdout
  return 0;
}

int cmd_featurize(const std::vector<std::string>& args) {
  auto o = parse_options(args, 1, {"no-graphs", "no-features"},
                         {"dataset", "csv", "kind", "input", "target", "units", "out", "limit", "max-neighbors", "cutoff"});
  PropertyImportOptions opt;
  if (o.has("dataset")) {
    if (o.has("csv")) throw InputError("give either --dataset or --csv, not both");
    opt = property_import_preset(o.require("dataset"));
  } else {
    o.require("csv");
    opt.kind = o.require("kind");
    opt.input_column = o.require("input");
    opt.target_columns = split_commas(o.require("target"));
    if (o.has("units")) opt.target_units = split_commas(o.get("units"));
  }
  opt.limit = o.get_int("limit", -1);
  if (o.has("max-neighbors")) {
    const auto k = o.get_int("max-neighbors", 12);
    opt.max_neighbors = k == 0 ? -1 : k;
  }
  if (o.has("cutoff")) opt.cutoff = o.get_double("cutoff");
  opt.graphs = !o.has("no-graphs");
  opt.features = !o.has("no-features");
  opt.progress = true;
  const std::string out = o.require("out");
  auto result = o.has("dataset") ? import_registered_dataset(o.get("dataset"), &opt)
                                 : import_property_csv(o.get("csv"), opt);
  print_left_out(result.report);
  std::cout << result.report.summary() << "\n";
  write_featurized(result.data, out);
  std::cerr << "wrote " << out << " (" << result.data.size() << " rows)\n";
  return 0;
}

}  // namespace

int run(const std::vector<std::string>& args) {
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      std::cout << kUsage;
      return args.empty() ? 2 : 0;
    }
    const auto& cmd = args[0];
    if (cmd == "--version" || cmd == "version") return cmd_version();
    if (cmd == "datasets") return cmd_datasets();
    if (cmd == "benchmark") return cmd_benchmark(args);
    if (cmd == "campaign") return cmd_campaign(args);
    if (cmd == "serve") return cmd_serve(args);
    if (cmd == "federate") return cmd_federate(args);
    if (cmd == "token") return cmd_token(args);
    if (cmd == "featurize") return cmd_featurize(args);
    if (cmd == "train") return cmd_train(args);
    if (cmd == "pretrain") return cmd_pretrain(args);
    if (cmd == "predict") return cmd_predict(args);
    if (cmd == "screen") return cmd_screen(args);
    std::cerr << "sozai: unknown command '" << cmd << "'\n" << kUsage;
    return 2;
  } catch (const InputError& e) {
    std::cerr << "sozai: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sozai: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace cli
}  // namespace sozai
