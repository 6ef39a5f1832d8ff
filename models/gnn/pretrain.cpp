// Multi-task pretraining, the saved pretrained model and the registry of
// shipped models (see pretrain.h).
#include "models/gnn/pretrain.h"
#include "models/gnn/checkpoint.h"

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/sha256.h"
#include "datasets/composition.h"
#include "datasets/crystal_graph.h"
#include "datasets/polymer.h"
#include "datasets/property_import.h"
#include "datasets/registry.h"
#include "models/config_json.h"
#include "models/gnn/layers.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#ifndef SOZAI_PRETRAINED_DIR
#define SOZAI_PRETRAINED_DIR "pretrained"
#endif

namespace sozai {
namespace gnn {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kModelFormat = "sozai-pretrained-1";
constexpr const char* kCheckpointFormat = "sozai-pretrain-checkpoint-1";
/// Rows per task kept in the model card to check a loaded model against.
constexpr int64_t kCheckRows = 256;
/// Rows per forward pass when evaluating.
constexpr int64_t kEvalChunk = 2048;

/// Trunk and heads as one module, so that one optimiser and one archive
/// hold them ("trunk.*", "head_0.*", ...).
struct MultiTaskNet : torch::nn::Module {
  std::shared_ptr<GraphModel> trunk;
  std::vector<torch::nn::Sequential> heads;
  MultiTaskNet(const GraphModelConfig& mc, int64_t tasks) {
    trunk = register_module("trunk", make_graph_model(mc));
    for (int64_t t = 0; t < tasks; ++t) {
      // A head exactly like the architecture's own, so that fine-tuning can
      // copy it into a member by parameter name.
      auto donor = make_graph_model(mc);
      heads.push_back(register_module("head_" + std::to_string(t), donor->head()));
    }
  }
  /// Parameters that train: all but the trunk's own (unused) head.
  std::vector<torch::Tensor> trained_parameters() {
    std::vector<torch::Tensor> out;
    for (const auto& p : named_parameters())
      if (p.key().rfind("trunk.head.", 0) != 0) out.push_back(p.value());
    return out;
  }
};

/// Laplace negative log-likelihood per row (Roost's robust L1): the head's
/// log variance sets the scale b = sqrt(var / 2); constants dropped.
torch::Tensor laplace_nll(const torch::Tensor& mean, const torch::Tensor& log_var, const torch::Tensor& y) {
  auto lv = log_var.clamp(-12.0, 12.0);
  auto log_b = 0.5 * lv - 0.5 * std::log(2.0);
  return (y - mean).abs() * torch::exp(-log_b) + log_b;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hours_text(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  std::ostringstream o;
  o << s / 3600 << "h" << std::setw(2) << std::setfill('0') << (s / 60) % 60 << "m";
  return o.str();
}

/// Everything a checkpoint must agree with to be resumed: settings that
/// shape the run and the data (names, rows, digests of inputs and targets).
nlohmann::json run_identity(const std::vector<PretrainTask>& tasks, const PretrainConfig& c,
                            const GraphModelConfig& mc) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& t : tasks)
    data.push_back({{"name", t.name}, {"rows", t.inputs.size()}, {"digest", rows_digest(t.inputs, {t.y})}});
  return {{"kind", c.kind},       {"model", mc},          {"element_init", c.element_init},
          {"epochs", c.epochs},   {"batch_size", c.batch_size}, {"lr", c.lr},
          {"weight_decay", c.weight_decay}, {"clip_norm", c.clip_norm}, {"val_fraction", c.val_fraction},
          {"seed", c.seed},       {"data", data}};
}

void check_config(const PretrainConfig& c) {
  SOZAI_CHECK(c.kind == "composition" || c.kind == "polymer" || c.kind == "crystal",
              "pretrain: kind must be composition, polymer or crystal, got '", c.kind, "'");
  SOZAI_CHECK(c.element_init == "mat2vec" || c.element_init == "magpie" || c.element_init == "none",
              "pretrain: element_init must be mat2vec, magpie or none, got '", c.element_init, "'");
  SOZAI_CHECK(c.kind == "composition" || c.element_init == "none" || c.element_init == "mat2vec",
              "pretrain: element_init is for composition models");
  SOZAI_CHECK(c.epochs >= 1 && c.batch_size >= 2 && c.lr > 0 && c.weight_decay >= 0 && c.clip_norm >= 0,
              "pretrain: need epochs >= 1, batch_size >= 2, lr > 0, weight_decay >= 0, clip_norm >= 0");
  SOZAI_CHECK(c.val_fraction > 0 && c.val_fraction < 0.5, "pretrain: val_fraction must be in (0, 0.5), got ",
              c.val_fraction);
  SOZAI_CHECK(c.max_hours >= 0 && c.checkpoint_minutes > 0, "pretrain: max_hours must be >= 0 and ",
              "checkpoint_minutes > 0");
  SOZAI_CHECK(c.threads >= 0, "pretrain: threads must be >= 0");
}

torch::Device pick_device(const std::string& name) {
  torch::Device d(torch::kCPU);
  try {
    d = torch::Device(name);
  } catch (const c10::Error&) {
    throw InputError(str("pretrain: unknown device '", name, "' (cpu, cuda or cuda:N)"));
  }
  if (d.is_cuda()) {
    SOZAI_CHECK_T(DeviceError, torch::cuda::is_available(), "pretrain: device '", name,
                  "' asked for, but this LibTorch sees no CUDA device");
  }
  return d;
}

/// The graphs and targets of all tasks in one batch: rows of task 0, then
/// task 1, ...
struct PretrainData {
  GraphBatch graphs;
  torch::Tensor task;          ///< [N] int64
  torch::Tensor ys;            ///< [N] float32, standardised per task
  torch::Tensor train_idx;     ///< rows trained on
  std::vector<torch::Tensor> val_idx;  ///< per task, rows held out
  std::vector<double> y_mean, y_std;
  std::vector<int64_t> offset;  ///< first row of each task
};

PretrainData assemble(const std::vector<PretrainTask>& tasks, const PretrainConfig& c) {
  PretrainData d;
  std::vector<std::string> inputs;
  std::vector<torch::Tensor> ys, task_ids, train_parts;
  std::set<std::string> names;
  int64_t offset = 0;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const auto& task = tasks[t];
    SOZAI_CHECK(!task.name.empty() && names.insert(task.name).second, "pretrain: task ", t,
                " needs a name of its own, got '", task.name, "'");
    const auto n = static_cast<int64_t>(task.inputs.size());
    SOZAI_CHECK(n >= 20, "pretrain: task '", task.name, "' has ", n, " rows; at least 20 are needed");
    SOZAI_CHECK(task.y.defined() && task.y.numel() == n, "pretrain: task '", task.name, "' has ", n,
                " inputs but ", task.y.defined() ? task.y.numel() : 0, " targets");
    auto y = task.y.reshape({n}).to(torch::kCPU, torch::kFloat64);
    SOZAI_CHECK(torch::isfinite(y).all().item<bool>(), "pretrain: task '", task.name,
                "' has NaN or infinite targets");
    // A split of its own per task, drawn from the seed and the task's index.
    auto gen = at::detail::createCPUGenerator(c.seed * 7919 + t + 1);
    auto order = torch::randperm(n, gen, torch::kInt64);
    const int64_t n_val = std::max<int64_t>(2, std::llround(c.val_fraction * n));
    auto val = order.narrow(0, 0, n_val);
    auto train = order.narrow(0, n_val, n - n_val);
    auto y_train = y.index_select(0, train);
    const double mean = y_train.mean().item<double>();
    double sd = y_train.std().item<double>();
    if (!(sd > 0)) sd = 1.0;
    d.y_mean.push_back(mean);
    d.y_std.push_back(sd);
    d.offset.push_back(offset);
    d.val_idx.push_back(std::get<0>(torch::sort(val)) + offset);
    train_parts.push_back(train + offset);
    ys.push_back(((y - mean) / sd).to(torch::kFloat32));
    task_ids.push_back(torch::full({n}, static_cast<int64_t>(t), torch::kInt64));
    inputs.insert(inputs.end(), task.inputs.begin(), task.inputs.end());
    offset += n;
  }
  try {
    d.graphs = featurize_inputs(c.kind, inputs);
  } catch (const InputError& e) {
    // Say which task the bad row belongs to.
    throw InputError(str("pretrain: ", e.what(), " (tasks in order: ",
                         [&] {
                           std::string s;
                           for (const auto& t : tasks) s += (s.empty() ? "" : ", ") + t.name + " " +
                                                            std::to_string(t.inputs.size()) + " rows";
                           return s;
                         }(),
                         ")"));
  }
  d.ys = torch::cat(ys);
  d.task = torch::cat(task_ids);
  d.train_idx = torch::cat(train_parts);
  return d;
}

/// Mean and log variance of each row's own task, standardised units.
std::pair<torch::Tensor, torch::Tensor> multitask_forward(MultiTaskNet& net, const GraphBatch& g,
                                                          const torch::Tensor& task) {
  auto emb = net.trunk->encode(g);                         // [B, H]
  std::vector<torch::Tensor> outs;
  for (auto& h : net.heads) outs.push_back(h->forward(emb));  // [B, 2] each
  auto all = torch::stack(outs, 1);                        // [B, T, 2]
  auto pick = all.gather(1, task.view({-1, 1, 1}).expand({-1, 1, 2})).squeeze(1);  // [B, 2]
  return {pick.select(1, 0), pick.select(1, 1)};
}

/// Predictions (mean, log variance; standardised) of head t for rows idx.
std::pair<torch::Tensor, torch::Tensor> evaluate(MultiTaskNet& net, const GraphBatch& graphs, const torch::Tensor& idx,
                                                 int64_t t, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  net.eval();
  std::vector<torch::Tensor> means, lvs;
  for (int64_t s = 0; s < idx.numel(); s += kEvalChunk) {
    auto part = idx.narrow(0, s, std::min(kEvalChunk, idx.numel() - s));
    auto g = to_device(select_graphs(graphs, part), device);
    auto out = net.heads[static_cast<size_t>(t)]->forward(net.trunk->encode(g));
    means.push_back(out.select(1, 0).to(torch::kCPU, torch::kFloat64));
    lvs.push_back(out.select(1, 1).to(torch::kCPU, torch::kFloat64));
  }
  return {torch::cat(means), torch::cat(lvs)};
}

/// Progress of the run, kept in the checkpoint.
struct RunState {
  int64_t epoch = 0;        ///< epoch in progress (0-based)
  int64_t step = 0;         ///< minibatches of it done
  double seconds = 0;       ///< training time of earlier calls
  nlohmann::json history = nlohmann::json::array();
};

void write_checkpoint(const std::string& path, const nlohmann::json& identity, const RunState& st, MultiTaskNet& net,
                      torch::optim::AdamW& opt) {
  const nlohmann::json s = {{"epoch", st.epoch}, {"step", st.step}, {"seconds", st.seconds}, {"history", st.history}};
  write_run_checkpoint(path, kCheckpointFormat, "pretrain", identity, s, [&](torch::serialize::OutputArchive& a) {
    torch::serialize::OutputArchive m, o;
    net.save(m);
    opt.save(o);
    a.write("model", m);
    a.write("optimizer", o);
  });
}

/// Loads a checkpoint into net and opt; false when there is none.
bool read_checkpoint(const std::string& path, const nlohmann::json& identity, RunState& st, MultiTaskNet& net,
                     torch::optim::AdamW& opt) {
  torch::serialize::InputArchive a;
  nlohmann::json s;
  if (!read_run_checkpoint(path, kCheckpointFormat, "pretrain", identity, s, a)) return false;
  st.epoch = s.at("epoch");
  st.step = s.at("step");
  st.seconds = s.at("seconds");
  st.history = s.at("history");
  torch::serialize::InputArchive m, o;
  a.read("model", m);
  a.read("optimizer", o);
  net.load(m);
  opt.load(o);
  return true;
}

void set_lr(torch::optim::AdamW& opt, double lr) {
  for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

}  // namespace

GraphBatch featurize_inputs(const std::string& kind, const std::vector<std::string>& inputs, double cutoff,
                            int64_t max_neighbors) {
  SOZAI_CHECK(!inputs.empty(), "featurize: no inputs given");
  if (kind == "polymer") {
    const bool blends = std::any_of(inputs.begin(), inputs.end(),
                                    [](const std::string& s) { return s.find('|') != std::string::npos; });
    return blends ? polymer_blend_graphs(inputs) : polymer_graphs(inputs);
  }
  if (kind == "crystal") {
    CrystalGraphConfig c;
    c.cutoff = cutoff;
    c.max_neighbors = max_neighbors;
    return crystal_graphs(inputs, c);
  }
  SOZAI_CHECK(kind == "composition", "featurize: kind must be polymer, crystal or composition, got '", kind, "'");
  std::vector<MaterialGraph> graphs;
  graphs.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    try {
      graphs.push_back(composition_graph(parse_formula(inputs[i])));
    } catch (const InputError& e) {
      throw InputError(str("input ", i, ": ", e.what()));
    }
  }
  return batch_graphs(graphs);
}

PretrainReport pretrain(const std::vector<PretrainTask>& tasks, const PretrainConfig& config, const std::string& out) {
  check_config(config);
  SOZAI_CHECK(!tasks.empty(), "pretrain: no tasks given");
  SOZAI_CHECK(!out.empty(), "pretrain: no output path given");
  const auto device = pick_device(config.device);
  // LibTorch's thread count is process-wide: set for this run, restored after.
  struct ThreadCount {
    int saved = at::get_num_threads();
    explicit ThreadCount(int64_t n) {
      if (n > 0) at::set_num_threads(static_cast<int>(n));
    }
    ~ThreadCount() { at::set_num_threads(saved); }
  } thread_count(config.threads);
  const auto call_start = Clock::now();

  auto data = assemble(tasks, config);
  const auto T = static_cast<int64_t>(tasks.size());
  GraphModelConfig mc = config.model;
  mc.kind = config.kind;
  if (mc.hidden == 0) mc.hidden = default_hidden(mc.kind);
  mc.node_dim = data.graphs.x.size(1);
  mc.edge_dim = data.graphs.edge_attr.defined() ? data.graphs.edge_attr.size(1) : 0;
  mc.condition_dim = 0;
  mc.dropout = 0.0;
  torch::Tensor table;
  std::string table_sha;
  if (config.kind == "composition" && config.element_init == "mat2vec") {
    SOZAI_CHECK(!config.element_table.empty(), "pretrain: element_init = mat2vec needs element_table, the path of ",
                "mat2vec.csv (registered as mat2vec_elements)");
    table = read_element_table(config.element_table);
    table_sha = sha256_file(config.element_table);
  } else if (config.kind == "composition" && config.element_init == "magpie") {
    table = magpie_element_table();
  }
  mc.element_dim = table.defined() ? table.size(1) : 0;

  torch::manual_seed(config.seed);
  auto net = std::make_shared<MultiTaskNet>(mc, T);
  if (table.defined()) {
    torch::NoGradGuard no_grad;
    net->trunk->named_parameters()["elements"].copy_(table);
  }
  net->to(device);
  torch::optim::AdamW opt(net->trained_parameters(),
                          torch::optim::AdamWOptions(config.lr).weight_decay(config.weight_decay));

  const auto identity = run_identity(tasks, config, mc);
  RunState st;
  const bool resumed = read_checkpoint(config.checkpoint, identity, st, *net, opt);
  if (resumed && config.progress)
    std::cerr << "[sozai pretrain] resuming from " << config.checkpoint << " at epoch " << st.epoch + 1 << ", step "
              << st.step << " (" << hours_text(st.seconds) << " trained)\n";

  const int64_t n_train = data.train_idx.numel();
  const int64_t steps_per_epoch = (n_train + config.batch_size - 1) / config.batch_size;
  const int64_t total_steps = steps_per_epoch * config.epochs;
  auto lr_at = [&](int64_t global_step) {
    if (global_step < steps_per_epoch)  // linear warm-up over the first epoch
      return config.lr * (0.1 + 0.9 * static_cast<double>(global_step) / steps_per_epoch);
    const double x = static_cast<double>(global_step - steps_per_epoch) / std::max<int64_t>(1, total_steps - steps_per_epoch);
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * x)));
  };

  PretrainReport report;
  report.epochs = config.epochs;
  auto last_checkpoint = Clock::now();
  auto last_print = Clock::now() - std::chrono::hours(1);
  const auto limit = std::chrono::duration<double>(config.max_hours * 3600.0);
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - call_start).count(); };
  auto val_text = [&](const nlohmann::json& maes) {
    std::ostringstream o;
    for (auto it = maes.begin(); it != maes.end(); ++it) o << " " << it.key() << " " << std::setprecision(4) << it.value().get<double>();
    return o.str();
  };
  double loss_ema = std::numeric_limits<double>::quiet_NaN();
  int64_t rows_this_call = 0;
  bool stopped = false;

  if (config.export_only) {
    SOZAI_CHECK(resumed, "pretrain: export_only needs a checkpoint to export, and '", config.checkpoint,
                "' does not exist");
    stopped = true;
  }
  for (; st.epoch < config.epochs && !stopped; ++st.epoch, st.step = 0) {
    auto gen = at::detail::createCPUGenerator(config.seed * 1000003ULL + static_cast<uint64_t>(st.epoch) + 17);
    auto perm = data.train_idx.index_select(0, torch::randperm(n_train, gen, torch::kInt64));
    net->train();
    for (; st.step < steps_per_epoch; ++st.step) {
      const int64_t s = st.step * config.batch_size;
      auto idx = perm.narrow(0, s, std::min(config.batch_size, n_train - s));
      if (idx.numel() < 2) continue;
      set_lr(opt, lr_at(st.epoch * steps_per_epoch + st.step));
      auto g = to_device(select_graphs(data.graphs, idx), device);
      auto task = data.task.index_select(0, idx).to(device);
      auto y = data.ys.index_select(0, idx).to(device);
      auto [mean, log_var] = multitask_forward(*net, g, task);
      auto loss = laplace_nll(mean, log_var, y).mean();
      opt.zero_grad();
      loss.backward();
      if (config.clip_norm > 0) torch::nn::utils::clip_grad_norm_(net->trained_parameters(), config.clip_norm);
      opt.step();
      const double l = loss.item<double>();
      loss_ema = std::isnan(loss_ema) ? l : 0.98 * loss_ema + 0.02 * l;
      rows_this_call += idx.numel();
      const auto now = Clock::now();
      if (config.progress && now - last_print > std::chrono::seconds(2)) {
        last_print = now;
        const double rate = rows_this_call / std::max(1e-9, elapsed());
        const double left_rows = static_cast<double>(total_steps - (st.epoch * steps_per_epoch + st.step + 1)) *
                                 config.batch_size;
        std::cerr << "\r[sozai pretrain] epoch " << st.epoch + 1 << "/" << config.epochs << " "
                  << std::setw(3) << (100 * (st.step + 1)) / steps_per_epoch << "% | " << std::fixed
                  << std::setprecision(0) << rate << " rows/s | loss " << std::setprecision(3) << loss_ema
                  << " | val MAE" << (st.history.empty() ? std::string(" -") : val_text(st.history.back()["val_mae"]))
                  << " | ETA " << hours_text(left_rows / std::max(rate, 1e-9)) << std::defaultfloat << "   "
                  << std::flush;
      }
      const bool out_of_time = config.max_hours > 0 && Clock::now() - call_start >= limit;
      if (!config.checkpoint.empty() &&
          (out_of_time || now - last_checkpoint > std::chrono::duration<double>(config.checkpoint_minutes * 60))) {
        RunState at = st;
        ++at.step;
        at.seconds = st.seconds + elapsed();
        write_checkpoint(config.checkpoint, identity, at, *net, opt);
        last_checkpoint = Clock::now();
      }
      if (out_of_time) {
        ++st.step;
        stopped = true;
        break;
      }
    }
    if (stopped) break;
    // End of the epoch: validation MAE per task, into the history.
    nlohmann::json maes = nlohmann::json::object();
    for (int64_t t = 0; t < T; ++t) {
      const auto& vi = data.val_idx[static_cast<size_t>(t)];
      auto pred = evaluate(*net, data.graphs, vi, t, device).first;
      auto truth = data.ys.index_select(0, vi).to(torch::kFloat64);
      maes[tasks[static_cast<size_t>(t)].name] =
          (pred - truth).abs().mean().item<double>() * data.y_std[static_cast<size_t>(t)];
    }
    net->train();
    st.history.push_back({{"epoch", st.epoch + 1}, {"train_loss", loss_ema}, {"val_mae", maes}});
    if (!config.checkpoint.empty()) {
      RunState at = st;
      ++at.epoch;
      at.step = 0;
      at.seconds = st.seconds + elapsed();
      write_checkpoint(config.checkpoint, identity, at, *net, opt);
      last_checkpoint = Clock::now();
    }
    if (config.progress)
      std::cerr << "\n[sozai pretrain] epoch " << st.epoch + 1 << "/" << config.epochs << " done: val MAE"
                << val_text(maes) << "\n";
  }
  if (config.progress) std::cerr << "\n";
  report.seconds = st.seconds + elapsed();
  if (!st.history.empty())
    for (auto it = st.history.back()["val_mae"].begin(); it != st.history.back()["val_mae"].end(); ++it)
      report.val_mae[it.key()] = it.value();
  if (stopped && !config.export_only) {
    report.epochs_done = st.epoch + static_cast<double>(st.step) / steps_per_epoch;
    if (config.progress)
      std::cerr << "[sozai pretrain] stopped after " << hours_text(elapsed()) << " (max_hours); "
                << (config.checkpoint.empty() ? std::string("no checkpoint was asked for")
                                              : "run again to resume from " + config.checkpoint)
                << "\n";
    return report;
  }
  report.epochs_done = config.export_only ? st.epoch + static_cast<double>(st.step) / steps_per_epoch
                                          : static_cast<double>(config.epochs);

  // The model and its card.
  net->to(torch::kCPU);
  net->eval();
  PretrainedModel pm;
  pm.config_ = mc;
  pm.trunk_ = net->trunk;
  pm.heads_ = net->heads;
  pm.y_mean_ = data.y_mean;
  pm.y_std_ = data.y_std;
  nlohmann::json card_tasks = nlohmann::json::array(), check = nlohmann::json::object();
  int64_t n_params = 0;
  for (const auto& p : net->trained_parameters()) n_params += p.numel();
  for (int64_t t = 0; t < T; ++t) {
    const auto& task = tasks[static_cast<size_t>(t)];
    pm.task_names_.push_back(task.name);
    const auto& vi = data.val_idx[static_cast<size_t>(t)];
    const int64_t n_t = static_cast<int64_t>(task.inputs.size());
    card_tasks.push_back({{"name", task.name},
                          {"units", task.units},
                          {"source", task.source},
                          {"sha256", task.sha256},
                          {"rows", n_t},
                          {"train_rows", n_t - vi.numel()},
                          {"val_rows", vi.numel()},
                          {"y_mean", data.y_mean[static_cast<size_t>(t)]},
                          {"y_std", data.y_std[static_cast<size_t>(t)]},
                          {"val_mae", report.val_mae[task.name]}});
    // The first validation rows (in file order) with the model's MAE on
    // them: a loaded model must reproduce it.
    auto rows = vi.narrow(0, 0, std::min<int64_t>(kCheckRows, vi.numel()));
    auto pred = evaluate(*net, data.graphs, rows, t, torch::kCPU).first * data.y_std[static_cast<size_t>(t)] +
                data.y_mean[static_cast<size_t>(t)];
    std::vector<std::string> check_inputs;
    std::vector<double> check_y;
    for (int64_t k = 0; k < rows.numel(); ++k) {
      const int64_t r = rows[k].item<int64_t>() - data.offset[static_cast<size_t>(t)];
      check_inputs.push_back(task.inputs[static_cast<size_t>(r)]);
      check_y.push_back(task.y.reshape({-1})[r].item<double>());
    }
    const double mae = (pred - torch::tensor(check_y, torch::kFloat64)).abs().mean().item<double>();
    check[task.name] = {{"inputs", check_inputs}, {"targets", check_y}, {"mae", mae}};
  }
  std::string name = out.substr(out.find_last_of('/') == std::string::npos ? 0 : out.find_last_of('/') + 1);
  if (ends_with(name, ".pt")) name.resize(name.size() - 3);
  pm.card_ = {{"name", name},
              {"format", kModelFormat},
              {"kind", mc.kind},
              {"created", utc_now()},
              {"sozai_version", SOZAI_VERSION},
              {"tasks", card_tasks},
              {"model", mc},
              {"parameters", n_params},
              {"element_init", config.kind == "composition" ? config.element_init : std::string("none")},
              {"element_table_sha256", table_sha},
              {"settings",
               {{"epochs", config.epochs},
                {"batch_size", config.batch_size},
                {"lr", config.lr},
                {"weight_decay", config.weight_decay},
                {"clip_norm", config.clip_norm},
                {"val_fraction", config.val_fraction},
                {"seed", config.seed},
                {"loss", "Laplace NLL (robust L1), AdamW, 1-epoch warm-up then cosine to lr/100"},
                {"device", config.device},
                {"threads", config.threads > 0 ? config.threads : static_cast<int64_t>(at::get_num_threads())}}},
              {"training",
               {{"seconds", report.seconds},
                {"epochs_done", report.epochs_done},
                {"finished", !config.export_only},
                {"history", st.history}}},
              {"check", check}};
  pm.save(out);
  if (config.export_only) return report;  // the run goes on from its checkpoint
  if (!config.checkpoint.empty()) std::remove(config.checkpoint.c_str());
  report.finished = true;
  return report;
}

// ----------------------------------------------------------------- the model

std::vector<std::string> PretrainedModel::tasks() const { return task_names_; }

int64_t PretrainedModel::task_index(const std::string& task) const {
  for (size_t t = 0; t < task_names_.size(); ++t)
    if (task_names_[t] == task) return static_cast<int64_t>(t);
  throw InputError(str("pretrained model: no task '", task, "' (it has: ", join(task_names_), ")"));
}

std::pair<double, double> PretrainedModel::task_scale(const std::string& task) const {
  const auto t = static_cast<size_t>(task_index(task));
  return {y_mean_[t], y_std_[t]};
}

GraphBatch PretrainedModel::featurize(const std::vector<std::string>& inputs) const {
  return featurize_inputs(config_.kind, inputs);
}

Posterior PretrainedModel::predict(const std::string& task, const std::vector<std::string>& inputs) const {
  return predict(task, featurize(inputs));
}

Posterior PretrainedModel::predict(const std::string& task, const GraphBatch& graphs) const {
  const auto t = static_cast<size_t>(task_index(task));
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> means, vars;
  for (int64_t s = 0; s < graphs.num_graphs(); s += kEvalChunk) {
    const int64_t c = std::min(kEvalChunk, graphs.num_graphs() - s);
    auto g = select_graphs(graphs, torch::arange(s, s + c, torch::kInt64));
    auto out = heads_[t]->forward(trunk_->encode(g)).to(torch::kFloat64);
    means.push_back(out.select(1, 0) * y_std_[t] + y_mean_[t]);
    vars.push_back(torch::exp(out.select(1, 1).clamp(-12.0, 12.0)) * y_std_[t] * y_std_[t]);
  }
  return {torch::cat(means).unsqueeze(1), torch::cat(vars).unsqueeze(1)};
}

torch::Tensor PretrainedModel::embed(const GraphBatch& graphs) const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < graphs.num_graphs(); s += kEvalChunk) {
    const int64_t c = std::min(kEvalChunk, graphs.num_graphs() - s);
    parts.push_back(trunk_->encode(select_graphs(graphs, torch::arange(s, s + c, torch::kInt64)))
                        .to(torch::kFloat64));
  }
  return torch::cat(parts);
}

std::shared_ptr<GraphModel> PretrainedModel::make_member(int64_t condition_dim, const std::string& head) const {
  SOZAI_CHECK(condition_dim >= 0, "pretrained model: condition_dim must be >= 0");
  auto mc = config_;
  mc.condition_dim = condition_dim;
  auto member = make_graph_model(mc);
  torch::NoGradGuard no_grad;
  auto theirs = trunk_->named_parameters();
  for (auto& p : member->named_parameters()) {
    if (is_head_parameter(p.key())) continue;
    p.value().copy_(theirs[p.key()]);
  }
  auto theirs_buffers = trunk_->named_buffers();
  for (auto& b : member->named_buffers())
    if (!is_head_parameter(b.key())) b.value().copy_(theirs_buffers[b.key()]);
  if (head != "new") {
    const auto t = static_cast<size_t>(task_index(head));
    auto from = heads_[t]->named_parameters();
    for (auto& p : member->head()->named_parameters()) {
      const auto& src = from[p.key()];
      if (src.sizes() == p.value().sizes()) {
        p.value().copy_(src);
      } else {
        // The first layer's weight [hidden, H + C]: the pretrained columns,
        // then zeros for the conditions.
        p.value().zero_();
        p.value().narrow(1, 0, src.size(1)).copy_(src);
      }
    }
  }
  member->train();
  return member;
}

void PretrainedModel::save(const std::string& path) const {
  torch::serialize::OutputArchive a;
  a.write("format", c10::IValue(std::string(kModelFormat)));
  a.write("card", c10::IValue(card_.dump()));
  a.write("config", c10::IValue(nlohmann::json(config_).dump()));
  nlohmann::json t = nlohmann::json::array();
  for (size_t k = 0; k < task_names_.size(); ++k)
    t.push_back({{"name", task_names_[k]}, {"y_mean", y_mean_[k]}, {"y_std", y_std_[k]}});
  a.write("tasks", c10::IValue(t.dump()));
  torch::serialize::OutputArchive trunk;
  trunk_->save(trunk);
  a.write("trunk", trunk);
  for (size_t k = 0; k < heads_.size(); ++k) {
    torch::serialize::OutputArchive h;
    heads_[k]->save(h);
    a.write("head_" + std::to_string(k), h);
  }
  write_atomically(path, [&](const std::string& tmp) {
    try {
      a.save_to(tmp);
    } catch (const c10::Error& e) {
      throw StorageError(str("pretrained model: cannot write '", tmp, "': ", e.what_without_backtrace()));
    }
  });
}

PretrainedModel PretrainedModel::load(const std::string& name_or_path) {
  const std::string path = resolve_pretrained(name_or_path);
  torch::serialize::InputArchive a;
  try {
    a.load_from(path);
  } catch (const c10::Error& e) {
    throw StorageError(str("pretrained model: cannot read '", path, "' (not a LibTorch archive: ",
                           e.what_without_backtrace(), ")"));
  }
  c10::IValue v;
  if (!a.try_read("format", v) || !v.isString() || v.toStringRef() != kModelFormat)
    throw StorageError(str("pretrained model: '", path, "' is not a sozai pretrained model (format ", kModelFormat,
                           ")"));
  PretrainedModel m;
  try {
    a.read("card", v);
    m.card_ = nlohmann::json::parse(v.toStringRef());
    a.read("config", v);
    m.config_ = json_io::read_fields<GraphModelConfig, StorageError>(nlohmann::json::parse(v.toStringRef()),
                                                                     str(path, ": config"));
    a.read("tasks", v);
    for (const auto& t : nlohmann::json::parse(v.toStringRef())) {
      m.task_names_.push_back(t.at("name"));
      m.y_mean_.push_back(t.at("y_mean"));
      m.y_std_.push_back(t.at("y_std"));
    }
    m.trunk_ = make_graph_model(m.config_);
    torch::serialize::InputArchive trunk;
    a.read("trunk", trunk);
    m.trunk_->load(trunk);
    m.trunk_->eval();
    for (size_t k = 0; k < m.task_names_.size(); ++k) {
      auto head = make_graph_model(m.config_)->head();
      torch::serialize::InputArchive h;
      a.read("head_" + std::to_string(k), h);
      head->load(h);
      head->eval();
      m.heads_.push_back(head);
    }
  } catch (const c10::Error& e) {
    throw StorageError(str("pretrained model: '", path, "' does not match its own configuration (",
                           e.what_without_backtrace(), ")"));
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str("pretrained model: '", path, "' has a malformed description: ", e.what()));
  } catch (const InputError& e) {
    throw StorageError(str("pretrained model: '", path, "': ", e.what()));
  }
  return m;
}

// ------------------------------------------------------------ data, registry

std::vector<PretrainTask> registered_pretrain_tasks(const std::vector<std::string>& datasets, int64_t limit) {
  SOZAI_CHECK(!datasets.empty(), "pretrain: no datasets given");
  std::vector<PretrainTask> out;
  for (const auto& name : datasets) {
    const auto& info = dataset_info(name);
    SOZAI_CHECK(info.kind == "property", "pretrain: '", name, "' is not a property dataset");
    auto opt = property_import_preset(name);
    opt.graphs = false;
    opt.features = false;
    opt.limit = limit;
    opt.progress = false;
    auto imported = import_registered_dataset(name, &opt);
    SOZAI_CHECK(imported.data.targets.defined() && imported.data.targets.size(1) >= 1, "pretrain: '", name,
                "' has no target");
    PretrainTask t;
    t.name = name;
    t.inputs = imported.data.inputs;
    t.y = imported.data.targets.select(1, 0).contiguous();
    t.units = imported.data.target_units.empty() ? "" : imported.data.target_units[0];
    t.source = info.files.front().relative_path;
    t.sha256 = info.files.front().sha256;
    out.push_back(std::move(t));
  }
  return out;
}

std::string model_card_markdown(const nlohmann::json& c) {
  std::ostringstream o;
  o << std::setprecision(4);
  o << "# Model card: " << c.value("name", "?") << "\n\n";
  o << "A multi-task `" << c.value("kind", "?") << "` network pretrained by `sozai pretrain` (sozai "
    << c.value("sozai_version", "?") << ", " << c.value("created", "?") << "). One trunk (element table, "
    << "message passing, pooling) with one mean-variance head per task; fine-tune it with "
    << "`GnnEnsemble.from_pretrained`.\n\n";
  o << "## Data\n\n| task | units | file | SHA-256 | rows | train | validation | validation MAE |\n"
       "|---|---|---|---|---:|---:|---:|---:|\n";
  for (const auto& t : c.at("tasks"))
    o << "| " << t.value("name", "") << " | " << t.value("units", "") << " | `" << t.value("source", "") << "` | `"
      << t.value("sha256", "") << "` | " << t.value("rows", 0) << " | " << t.value("train_rows", 0) << " | "
      << t.value("val_rows", 0) << " | " << t.value("val_mae", 0.0) << " |\n";
  const auto& m = c.at("model");
  o << "\n## Settings\n\n- architecture: " << m.value("kind", "") << ", hidden " << m.value("hidden", 0) << ", "
    << m.value("layers", 0) << " message-passing steps, head width " << m.value("head_hidden", 0)
    << ", element table " << m.value("element_dim", 0) << "-d from " << c.value("element_init", "none");
  if (!c.value("element_table_sha256", "").empty()) o << " (SHA-256 `" << c.value("element_table_sha256", "") << "`)";
  o << "; " << c.value("parameters", 0) << " trained parameters\n";
  for (auto it = c.at("settings").begin(); it != c.at("settings").end(); ++it)
    o << "- " << it.key() << ": " << (it.value().is_string() ? it.value().get<std::string>() : it.value().dump())
      << "\n";
  const auto& tr = c.at("training");
  const double secs = tr.value("seconds", 0.0);
  o << "\n## Training\n\n" << std::fixed << std::setprecision(2) << secs / 3600.0 << " h of training ("
    << std::setprecision(0) << secs << " s over all resumed runs)";
  if (!tr.value("finished", true))
    o << "; **unfinished**: exported from its checkpoint at epoch " << std::setprecision(2)
      << tr.value("epochs_done", 0.0) << " of " << c.at("settings").value("epochs", 0);
  o << ".\n\n| epoch | train loss |";
  std::vector<std::string> names;
  for (const auto& t : c.at("tasks")) names.push_back(t.value("name", ""));
  for (const auto& n : names) o << " val MAE " << n << " |";
  o << "\n|---:|---:|";
  for (size_t k = 0; k < names.size(); ++k) o << "---:|";
  o << "\n" << std::setprecision(4);
  for (const auto& h : tr.at("history")) {
    o << "| " << h.value("epoch", 0) << " | " << h.value("train_loss", 0.0) << " |";
    for (const auto& n : names) o << " " << h.at("val_mae").value(n, 0.0) << " |";
    o << "\n";
  }
  o << "\n## Check subset\n\nThe first validation rows of each task (in file order), kept in the model "
       "file with the MAE the model had on them; loading the model must reproduce it:\n\n";
  for (auto it = c.at("check").begin(); it != c.at("check").end(); ++it)
    o << "- " << it.key() << ": " << it.value().at("inputs").size() << " rows, MAE " << std::setprecision(5)
      << it.value().value("mae", 0.0) << "\n";
  return o.str();
}

const std::vector<PretrainedEntry>& pretrained_registry() {
  // Digests of the files in pretrained/ (pretrained/README.md: how each was
  // made; a retrained file needs its new digest here).
  static const std::vector<PretrainedEntry> entries = {
      {"composition-mp", "composition-mp.pt", "ee04afb6b0556683baeefb60dada66d8521e8429ff6e99490f2b90897769d2b9", "composition",
       "CompositionNet (mat2vec element table) pretrained on matbench_mp_e_form and matbench_mp_gap"},
      {"polymer-tg-eg", "polymer-tg-eg.pt", "28d15790a33756b005e421bac1a6204b7fddb8508c812b551e33d14380e83113", "polymer",
       "PolymerMPNN pretrained on Tg_Original (glass transition, degC) and Eg_Original (band gap, eV), all rows"},
  };
  return entries;
}

std::string pretrained_dir() {
  const char* env = std::getenv("SOZAI_PRETRAINED_DIR");
  return env && *env ? std::string(env) : std::string(SOZAI_PRETRAINED_DIR);
}

std::string resolve_pretrained(const std::string& name_or_path) {
  SOZAI_CHECK(!name_or_path.empty(), "pretrained model: no name or path given");
  for (const auto& e : pretrained_registry()) {
    if (e.name != name_or_path) continue;
    const std::string path = pretrained_dir() + "/" + e.file;
    if (!std::ifstream(path).good())
      throw StorageError(str("pretrained model '", e.name, "': file '", path, "' not found (set SOZAI_PRETRAINED_DIR ",
                             "to the folder holding ", e.file, ", or rebuild it: see pretrained/README.md)"));
    const std::string actual = sha256_file(path);
    if (actual != e.sha256)
      throw StorageError(str("pretrained model '", e.name, "': file '", path, "' has SHA-256 ", actual,
                             " but the registry expects ", e.sha256, " (a different or corrupted file)"));
    return path;
  }
  if (std::ifstream(name_or_path).good()) return name_or_path;
  std::string known;
  for (const auto& e : pretrained_registry()) known += (known.empty() ? "" : ", ") + e.name;
  throw StorageError(str("pretrained model: '", name_or_path, "' is neither a shipped model (",
                         known.empty() ? std::string("none yet") : known, ") nor a file"));
}

}  // namespace gnn
}  // namespace sozai
