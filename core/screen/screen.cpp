// A screen: blocks of candidates through a model and a score into a running
// top-k (or Pareto front), checkpointed, merged over MPI ranks or shards.
#include "core/screen/screen_detail.h"
#include "common/blas.h"
#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "core/campaign/campaign.h"
#include "core/space/design_space_json.h"
#include "kernels/acquisition.h"
#include "kernels/acquisition_topk.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <torch/torch.h>

namespace sozai {
namespace screen {

Limit parse_limit(const std::string& text) {
  for (const char* op : {">=", "<="}) {
    const auto at = text.find(op);
    if (at == std::string::npos) continue;
    Limit l;
    l.outcome = text.substr(0, at);
    l.at_least = std::string(op) == ">=";
    const auto v = text.substr(at + 2);
    char* stop = nullptr;
    l.value = std::strtod(v.c_str(), &stop);
    if (l.outcome.empty() || v.empty() || *stop != '\0' || !std::isfinite(l.value))
      throw InputError(str("limit '", text, "': expected NAME>=VALUE or NAME<=VALUE with a finite number"));
    return l;
  }
  throw InputError(str("limit '", text, "': expected NAME>=VALUE or NAME<=VALUE"));
}

uint64_t simplex_grid_size(int64_t elements, double step) {
  SOZAI_CHECK(elements >= 1 && step > 0 && step <= 1, "simplex_grid_size: elements >= 1 and 0 < step <= 1");
  const auto m = static_cast<uint64_t>(std::llround(1.0 / step));
  // C(m + e - 1, e - 1), multiplicatively (exact: each prefix is a binomial).
  unsigned __int128 c = 1;
  for (int64_t i = 1; i < elements; ++i) c = c * (m + static_cast<uint64_t>(i)) / static_cast<uint64_t>(i);
  return c > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(c);
}

namespace detail {

namespace {
inline bool better(const double* a, const double* b) {
  return a[0] > b[0] || (a[0] == b[0] && a[1] < b[1]);
}
}  // namespace

std::vector<double> merge_top(const std::vector<double>& a, const std::vector<double>& b, int64_t width, int64_t k) {
  std::vector<double> out;
  const int64_t na = static_cast<int64_t>(a.size()) / width, nb = static_cast<int64_t>(b.size()) / width;
  int64_t i = 0, j = 0;
  while (static_cast<int64_t>(out.size()) / width < k && (i < na || j < nb)) {
    const double* take;
    if (j >= nb || (i < na && better(a.data() + i * width, b.data() + j * width))) take = a.data() + width * i++;
    else take = b.data() + width * j++;
    if (!out.empty() && take[1] == out[out.size() - width + 1]) continue;  // the same candidate twice
    out.insert(out.end(), take, take + width);
  }
  return out;
}

std::vector<double> merge_front(const std::vector<double>& a, const std::vector<double>& b, int64_t width,
                                const std::vector<double>& signs) {
  std::vector<const double*> all;
  for (const auto* v : {&a, &b})
    for (size_t i = 0; i < v->size(); i += width) all.push_back(v->data() + i);
  std::sort(all.begin(), all.end(), [](const double* x, const double* y) { return better(x, y); });
  const int64_t m = static_cast<int64_t>(signs.size());
  auto dominates = [&](const double* x, const double* y) {  // x dominates y
    bool strict = false;
    for (int64_t j = 0; j < m; ++j) {
      if (signs[j] == 0) continue;
      const double vx = signs[j] * x[2 + j], vy = signs[j] * y[2 + j];
      if (vx < vy) return false;
      if (vx > vy) strict = true;
    }
    return strict;
  };
  std::vector<double> out;
  std::vector<const double*> kept;
  for (const double* c : all) {
    if (!kept.empty() && c[1] == kept.back()[1]) continue;
    bool dominated = false;
    for (const double* k : kept)
      if (dominates(k, c)) {
        dominated = true;
        break;
      }
    if (dominated) continue;
    // A later candidate cannot dominate an earlier one in the first objective's order unless they tie there.
    std::vector<const double*> next;
    for (const double* k : kept)
      if (!dominates(c, k)) next.push_back(k);
    next.push_back(c);
    kept.swap(next);
  }
  std::sort(kept.begin(), kept.end(), [](const double* x, const double* y) { return better(x, y); });
  for (const double* k : kept) out.insert(out.end(), k, k + width);
  return out;
}

}  // namespace detail

namespace {

using namespace detail;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::set<std::string> kScores = {"mean", "ucb", "ei", "logei", "thompson", "pareto"};

/// How a block's predictions become scores and hits.
struct Scorer {
  std::string kind;
  std::vector<OutcomeInfo> outcomes;
  std::vector<double> signs;  // +1 maximised objective, -1 minimised, 0 constraint
  int64_t first = 0;          // the (first) objective
  std::vector<std::pair<int64_t, Limit>> limits;
  double log_min_probability = 0.0;
  kernels::AcquisitionParams params;
  int64_t top = 1;
  int64_t width = 0;
  bool prune = true;

  bool pareto() const { return kind == "pareto"; }

  /// The k-th best score of a best-first list, or -inf while it holds fewer.
  double kth(const std::vector<double>& records) const {
    return !pareto() && static_cast<int64_t>(records.size()) >= top * width
               ? records[static_cast<size_t>((top - 1) * width)]
               : -std::numeric_limits<double>::infinity();
  }

  /// log P(every limit is met) [n].
  torch::Tensor log_feasibility(const torch::Tensor& mean, const torch::Tensor& var) const {
    auto logp = torch::zeros({mean.size(0)}, mean.options());
    for (const auto& [j, l] : limits) {
      auto sd = var.select(1, j).clamp_min(1e-300).sqrt();
      auto z = l.at_least ? (mean.select(1, j) - l.value) / sd : (l.value - mean.select(1, j)) / sd;
      logp += torch::special_log_ndtr(z);
    }
    return logp;
  }

  /// Whether a candidate's score can be bounded from bounds on its mean and
  /// variance: one objective, no limits, a score increasing in the optimistic
  /// mean and in the variance.
  bool prunable() const {
    return prune && limits.empty() && outcomes.size() == 1 &&
           (kind == "mean" || kind == "ucb" || kind == "ei" || kind == "logei");
  }

  /// The rows of a block whose score may reach `floor` (the k-th best so
  /// far): those whose score at the model's optimistic bounds does. Rows
  /// below it can never enter the top, so dropping them changes nothing
  /// but the work. All rows when the model has no bounds.
  torch::Tensor survivors(const Block& b, const Model& model, double floor) const {
    // The score at the optimistic ends of the bounds; false when the model has none.
    auto keeps = [&](const Block& rows, bool coarse, torch::Tensor* keep) {
      torch::Tensor lo, hi, vh;
      if (!model.bound(rows, &lo, &hi, &vh, coarse)) return false;
      const auto optimistic = (signs[first] > 0 ? hi : lo).select(1, first).contiguous();
      const auto ub = kind == "mean" ? optimistic * signs[first]
                                     : kernels::analytic_acquisition(optimistic, vh.select(1, first).contiguous(), params);
      *keep = ~(ub < floor);  // a NaN bound keeps its row
      return true;
    };
    // Coarse bounds first, then the full ones on what they keep.
    torch::Tensor keep;
    if (!keeps(b, true, &keep)) return {};
    const auto maybe = torch::nonzero(keep).reshape({-1});
    if (maybe.size(0) > 0) {
      torch::Tensor fine;
      keeps(maybe.size(0) < b.size() ? b.rows(maybe) : b, false, &fine);
      keep.index_put_({maybe}, fine);
    }
    const int64_t t = model.tile();
    if (t > 1) {  // whole tiles: a tile with any row kept is kept
      const int64_t n = keep.size(0), tiles = (n + t - 1) / t;
      auto padded = torch::zeros({tiles * t}, keep.options());
      padded.slice(0, 0, n).copy_(keep);
      keep = padded.reshape({tiles, t}).any(1).repeat_interleave(t).slice(0, 0, n);
    }
    return torch::nonzero(keep).reshape({-1});
  }

  /// Hits of a block, best first: the block's top or its front. floor: the
  /// k-th best score so far (-inf while fewer are known); *exact counts the
  /// rows whose exact posterior was computed.
  std::vector<double> hits(const Block& whole, const Model& model, double floor, uint64_t* exact) const {
    if (whole.size() == 0) return {};
    Block kept;
    const Block* use = &whole;
    if (prunable() && std::isfinite(floor)) {
      const auto rows = survivors(whole, model, floor);
      if (rows.defined() && rows.size(0) < whole.size()) {
        kept = whole.rows(rows);
        use = &kept;
      }
    }
    const Block& b = *use;
    const int64_t n = b.size();
    *exact += static_cast<uint64_t>(n);
    if (n == 0) return {};
    torch::Tensor mean, var;
    model.predict(b, &mean, &var);
    torch::Tensor scores;
    if (pareto()) {
      auto feasible = limits.empty() ? torch::ones({n}, torch::kBool).to(mean.device())
                                     : log_feasibility(mean, var) >= log_min_probability;
      const auto rows = torch::nonzero(feasible & torch::isfinite(mean).all(1)).reshape({-1});
      std::vector<double> recs = records(b, mean.index_select(0, rows), var.index_select(0, rows),
                                         (mean.select(1, first) * signs[first]).index_select(0, rows), rows);
      // A block's own front: merge with nothing sorts and filters.
      return merge_front(recs, {}, width, signs);
    }
    const bool fused = limits.empty() && (kind == "ei" || kind == "logei" || kind == "ucb");
    kernels::TopK t;
    if (fused) {
      t = kernels::acquisition_topk(mean.select(1, first).contiguous(), var.select(1, first).contiguous(), params, top);
    } else {
      if (kind == "mean") scores = mean.select(1, first) * signs[first];
      else if (kind == "thompson") scores = model.sample(b).to(mean.device()).select(1, first) * signs[first];
      else scores = kernels::analytic_acquisition(mean.select(1, first).contiguous(), var.select(1, first).contiguous(), params);
      if (!limits.empty()) {
        auto logp = log_feasibility(mean, var);
        if (kind == "logei") scores = scores + logp;
        else if (kind == "ei") scores = scores * logp.exp();
        else scores = torch::where(logp >= log_min_probability, scores, torch::full_like(scores, NAN));
      }
      scores = torch::where(torch::isfinite(scores), scores, torch::full_like(scores, NAN)).contiguous();
      t = kernels::topk_scores(scores, top);
    }
    return records(b, mean.index_select(0, t.indices), var.index_select(0, t.indices), t.values, t.indices);
  }

  /// Records of rows `pos` of the block (best first as given).
  std::vector<double> records(const Block& b, const torch::Tensor& mean, const torch::Tensor& var,
                              const torch::Tensor& score, const torch::Tensor& pos) const {
    const int64_t k = pos.size(0), m = static_cast<int64_t>(outcomes.size());
    auto M = mean.to(torch::kCPU, torch::kFloat64).contiguous();
    auto V = var.to(torch::kCPU, torch::kFloat64).contiguous();
    auto S = score.to(torch::kCPU, torch::kFloat64).contiguous();
    auto P = pos.to(torch::kCPU, torch::kInt64).contiguous();
    const auto idx = b.index.contiguous();
    std::vector<double> out(static_cast<size_t>(k * width));
    for (int64_t i = 0; i < k; ++i) {
      double* r = out.data() + i * width;
      r[0] = S.data_ptr<double>()[i];
      r[1] = static_cast<double>(idx.data_ptr<int64_t>()[P.data_ptr<int64_t>()[i]]);
      for (int64_t j = 0; j < m; ++j) {
        r[2 + j] = M.data_ptr<double>()[i * m + j];
        r[2 + m + j] = V.data_ptr<double>()[i * m + j];
      }
    }
    return out;
  }

  std::vector<double> merge(const std::vector<double>& a, const std::vector<double>& b) const {
    return pareto() ? merge_front(a, b, width, signs) : merge_top(a, b, width, top);
  }
};

std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  return buf;
}

/// One progress line: "[sozai screen] WHO: done/total positions (%), candidates/s, ETA".
void print_progress(const std::string& who, uint64_t done, uint64_t total, uint64_t screened, double seconds,
                    double positions_per_second) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "[sozai screen] %s: %llu/%llu positions (%.1f%%), %.3g candidates/s, ETA %s\n",
                who.c_str(), static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                100.0 * done / std::max<uint64_t>(total, 1), screened / std::max(seconds, 1e-9),
                duration_text((total - std::min(done, total)) / std::max(positions_per_second, 1e-9)).c_str());
  std::cerr << buf;
}

/// Shard i of n of [0, blocks): contiguous and covering.
std::pair<uint64_t, uint64_t> split(uint64_t begin, uint64_t end, int64_t i, int64_t n) {
  const uint64_t len = end - begin;
  auto at = [&](int64_t s) {
    return begin + static_cast<uint64_t>((static_cast<unsigned __int128>(len) * static_cast<uint64_t>(s)) /
                                         static_cast<uint64_t>(n));
  };
  return {at(i), at(i + 1)};
}

struct Checkpoint {
  std::string path;
  uint64_t first = 0, last = 0, next = 0, screened = 0, positions = 0;
  uint64_t exact = 0;  ///< candidates whose exact posterior was computed (the others were dismissed by bounds)
  uint64_t stride = 1;  ///< this rank's blocks: first, first + stride, ... below last
  std::vector<double> records;
};

void save_checkpoint(const Checkpoint& c, const std::string& digest, int64_t width) {
  nlohmann::json j = {{"format", "sozai-screen-checkpoint"}, {"version", 1},  {"settings_sha256", digest},
                      {"first_block", c.first},               {"end_block", c.last}, {"next_block", c.next},
                      {"screened", c.screened},               {"positions", c.positions}, {"width", width},
                      {"exact", c.exact}, {"stride", c.stride},
                      {"records", c.records}};
  write_text_atomically(c.path, j.dump());
}

/// Restores a checkpoint of the same settings and range; false when there
/// is none. StorageError naming the file when it is of another screen.
bool load_checkpoint(Checkpoint* c, const std::string& digest, int64_t width) {
  std::error_code ec;
  if (!fs::exists(c->path, ec)) return false;
  const auto j = json_io::parse<StorageError>(read_text(c->path, "screen checkpoint"), c->path);
  try {
    if (j.at("format").get<std::string>() != "sozai-screen-checkpoint")
      throw StorageError(str(c->path, ": not a screen checkpoint"));
    if (j.at("settings_sha256").get<std::string>() != digest)
      throw InputError(str(c->path, ": the checkpoint is of a screen with other settings, library or model; remove "
                                    "it or give another --checkpoint"));
    if (j.at("first_block").get<uint64_t>() != c->first || j.at("end_block").get<uint64_t>() != c->last ||
        j.at("width").get<int64_t>() != width || j.value("stride", uint64_t{1}) != c->stride)
      throw InputError(str(c->path, ": the checkpoint covers other blocks (another shard or number of ranks)"));
    c->next = j.at("next_block").get<uint64_t>();
    c->screened = j.at("screened").get<uint64_t>();
    c->positions = j.at("positions").get<uint64_t>();
    c->exact = j.value("exact", uint64_t{0});
    c->records = j.at("records").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(c->path, ": malformed screen checkpoint (", e.what(), ")"));
  }
  if (c->next < c->first || (c->next - c->first) % c->stride != 0 || c->records.size() % static_cast<size_t>(width) != 0)
    throw StorageError(str(c->path, ": inconsistent screen checkpoint"));
  return true;
}

void check_options(const ScreenOptions& o) {
  if (!kScores.count(o.score))
    throw InputError(str("screen: unknown score '", o.score, "' (mean, ucb, ei, logei, thompson, pareto)"));
  if (o.top < 1) throw InputError(str("screen: --top must be >= 1, got ", o.top));
  if (o.chunk < 1) throw InputError(str("screen: --chunk must be >= 1, got ", o.chunk));
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
    throw InputError(str("screen: shard ", o.shard_index, "/", o.shard_count, " is not i/n with 0 <= i < n"));
  if (!(o.min_probability > 0 && o.min_probability <= 1))
    throw InputError(str("screen: min_probability must be in (0, 1], got ", o.min_probability));
  if (!(o.beta >= 0) || !std::isfinite(o.beta)) throw InputError(str("screen: beta must be >= 0, got ", o.beta));
  if (o.campaign.empty() == o.models.empty())
    throw InputError("screen: give a model: either a saved campaign (--campaign) or trained networks (--model)");
  if (!o.space.empty() && !o.library.empty()) throw InputError("screen: give either --space or --library, not both");
  if (o.space.empty() && o.library.empty() && o.campaign.empty())
    throw InputError("screen: give the candidates: --space SPACE.json or --library FILE");
  if (o.checkpoint_seconds < 0) throw InputError("screen: checkpoint_seconds must be >= 0");
}

/// The JSON without "path" and "origin" entries: what a result depends on is
/// the files' contents (their digests), not where they lie.
nlohmann::json without_paths(const nlohmann::json& j) {
  if (j.is_array()) {
    auto out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(without_paths(v));
    return out;
  }
  if (!j.is_object()) return j;
  auto out = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "path" && it.key() != "origin") out[it.key()] = without_paths(it.value());
  return out;
}

/// Appends hit records (record_width(outcomes) doubles each) to a result whose outcomes are set.
void add_hits(ScreenResult* r, const std::vector<double>& recs) {
  const int64_t m = static_cast<int64_t>(r->outcomes.size()), width = record_width(m);
  for (size_t i = 0; i < recs.size(); i += static_cast<size_t>(width)) {
    r->score.push_back(recs[i]);
    r->index.push_back(static_cast<int64_t>(recs[i + 1]));
    r->mean.emplace_back(recs.begin() + i + 2, recs.begin() + i + 2 + m);
    r->variance.emplace_back(recs.begin() + i + 2 + m, recs.begin() + i + 2 + 2 * m);
  }
}

std::string resolve_device(const std::string& device, const Comm& comm) {
  if (device.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw DeviceError(str("screen: device '", device, "' asked for, but no CUDA device is available (LibTorch ",
                            "without CUDA, or no GPU visible); use --device auto or cpu"));
    const auto colon = device.find(':');
    if (colon != std::string::npos &&
        std::atoi(device.c_str() + colon + 1) >= static_cast<int>(torch::cuda::device_count()))
      throw DeviceError(str("screen: device '", device, "': this machine has ", torch::cuda::device_count(),
                            " CUDA device(s)"));
  }
  if (device != "auto") return device;
  if (!torch::cuda::is_available()) return "cpu";
  return "cuda:" + std::to_string(comm.local_rank % static_cast<int>(torch::cuda::device_count()));
}

/// Sets LibTorch's thread count for a scope (n > 0) and restores it after.
class ThreadShare {
 public:
  explicit ThreadShare(int n) : saved_(at::get_num_threads()) {
    if (n > 0 && n != saved_) {
      at::set_num_threads(n);
      active_ = true;
    }
  }
  ~ThreadShare() {
    if (active_) at::set_num_threads(saved_);
  }
  ThreadShare(const ThreadShare&) = delete;
  ThreadShare& operator=(const ThreadShare&) = delete;

 private:
  int saved_;
  bool active_ = false;
};

}  // namespace

ScreenResult screen(const ScreenOptions& o) {
  check_options(o);
  const auto t0 = Clock::now();
  const Comm comm = init_comm(o.use_mpi);
  const std::string device = resolve_device(o.device, comm);
  // Ranks on one node share its cores: unless OMP_NUM_THREADS says otherwise, each takes its share of the
  // threads the process would use alone (every rank on every core oversubscribes them, and OpenMP's idle
  // threads spin while they wait).
  const ThreadShare threads(comm.local_size > 1 && !std::getenv("OMP_NUM_THREADS")
                                ? std::max(1, at::get_num_threads() / comm.local_size)
                                : 0);

  // The campaign file is read once: its space, its columns and its GPs come from the one load.
  const std::unique_ptr<Campaign> campaign = o.campaign.empty() ? nullptr : Campaign::load(o.campaign);
  // Candidates.
  std::unique_ptr<Source> source;
  if (!o.library.empty()) {
    source = library_source(o.library, o.input_column,
                            campaign ? campaign_feature_columns(*campaign) : std::vector<std::string>{});
  } else {
    nlohmann::json sj;
    std::string origin = o.space;
    if (!o.space.empty()) {
      sj = json_io::parse<InputError>(read_text(o.space, "design space"), o.space);
    } else {
      sj = campaign_space(*campaign);
      origin = o.campaign + " (its design space)";
      if (sj.is_null())
        throw InputError(str(o.campaign, ": a pool campaign has no design space; give the candidates with --library"));
    }
    source = space_source(space_from_json(sj, origin), sj, origin);
  }
  // Model.
  std::unique_ptr<Model> model = o.campaign.empty()
                                     ? ensemble_model(o.models, o.objectives, o.minimize, source->space(), o.seed)
                                     : campaign_model(*campaign, o.campaign, source->space(), device, o.seed);

  // Scoring.
  Scorer s;
  s.kind = o.score;
  s.outcomes = model->outcomes();
  s.top = o.top;
  s.prune = o.prune;
  s.width = record_width(static_cast<int64_t>(s.outcomes.size()));
  s.log_min_probability = std::log(o.min_probability);
  s.first = -1;
  int64_t objectives = 0;
  for (size_t j = 0; j < s.outcomes.size(); ++j) {
    const auto& oc = s.outcomes[j];
    s.signs.push_back(oc.objective ? (oc.maximize ? 1.0 : -1.0) : 0.0);
    if (oc.objective && s.first < 0) s.first = static_cast<int64_t>(j);
    objectives += oc.objective ? 1 : 0;
    if (oc.has_limit) s.limits.emplace_back(static_cast<int64_t>(j), oc.limit);
  }
  if (s.first < 0) throw InputError("screen: the model has no objective to rank by");
  std::vector<std::string> names;
  for (const auto& oc : s.outcomes) names.push_back(oc.name);
  for (const auto& l : o.limits) {
    auto it = std::find(names.begin(), names.end(), l.outcome);
    if (it == names.end())
      throw InputError(str("screen: limit on '", l.outcome, "', which the model does not predict (outcomes: ",
                           join(names), ")"));
    s.limits.emplace_back(static_cast<int64_t>(it - names.begin()), l);
  }
  if (objectives > 1 && !s.pareto())
    throw InputError(str("screen: the model has ", objectives, " objectives (", join(names),
                         "); rank them with --score pareto, or screen one model"));
  s.params.maximize = s.signs[s.first] > 0;
  s.params.beta = o.beta;
  s.params.kind = o.score == "ei" ? kernels::AcquisitionKind::EI
                  : o.score == "ucb" ? kernels::AcquisitionKind::UCB
                                     : kernels::AcquisitionKind::LogEI;
  double incumbent = 0.0;
  if (o.score == "ei" || o.score == "logei") {
    if (o.has_best) incumbent = o.best;
    else if (!model->best(&incumbent))
      throw InputError(str("screen: --score ", o.score, " needs the best value so far: give --best (the campaign has ",
                           o.campaign.empty() ? "none: the models are networks" : "no feasible best", ")"));
    s.params.best_f = incumbent;
  }

  // Settings: what the result depends on (not the shard, ranks or device index).
  nlohmann::json limits = nlohmann::json::array();
  for (const auto& [j, l] : s.limits) limits.push_back({{"outcome", names[j]}, {"value", l.value}, {"at_least", l.at_least}});
  nlohmann::json settings = {{"score", o.score},
                             {"beta", o.beta},
                             {"best", (o.score == "ei" || o.score == "logei") ? nlohmann::json(incumbent) : nlohmann::json()},
                             {"limits", limits},
                             {"min_probability", o.min_probability},
                             {"seed", o.seed},
                             {"top", o.top},
                             {"chunk", o.chunk},
                             {"device_type", device.rfind("cuda", 0) == 0 ? "cuda" : "cpu"}};
  nlohmann::json signs = s.signs;
  nlohmann::json base = {{"format", "sozai-screen"},
                         {"format_version", 1},
                         {"sozai_version", SOZAI_VERSION},
                         {"candidates", source->provenance()},
                         {"model", model->provenance()},
                         {"outcomes", names},
                         {"signs", signs},
                         {"settings", settings}};
  const std::string digest = sha256_hex(without_paths(base).dump());
  base["settings_sha256"] = digest;

  // This process's blocks: its shard's, then its rank's part of them.
  const uint64_t positions = source->positions();
  const uint64_t chunk = static_cast<uint64_t>(o.chunk);
  const uint64_t blocks = positions / chunk + (positions % chunk ? 1 : 0);
  const auto shard = split(0, blocks, o.shard_index, o.shard_count);

  // Ranks deal the shard's blocks round-robin (rank r: blocks first + r, + R, + 2R, ...): pruning makes a block
  // near the best candidates cheap and one far from them dear, and grid order clusters both, so contiguous
  // ranges would leave one rank with most of the work.
  Checkpoint ck;
  ck.first = ck.next = shard.first + static_cast<uint64_t>(comm.rank);
  ck.last = shard.second;
  ck.stride = static_cast<uint64_t>(comm.size);
  if (o.checkpoint != "none" && (!o.checkpoint.empty() || !o.out.empty())) {
    ck.path = o.checkpoint.empty() ? o.out + ".ckpt" : o.checkpoint;
    if (comm.size > 1) ck.path += ".rank" + std::to_string(comm.rank) + "of" + std::to_string(comm.size);
  }
  const bool resumed = !ck.path.empty() && load_checkpoint(&ck, digest, s.width);
  const std::string who = comm.size > 1 ? str("rank ", comm.rank, "/", comm.size) : std::string("screen");
  if (o.progress && resumed)
    std::cerr << "[sozai screen] " << who << ": resuming from " << ck.path << " at block "
              << (ck.next - ck.first) / ck.stride << " of " << (ck.last - ck.first + ck.stride - 1) / ck.stride << "\n";

  uint64_t my_positions_total = 0;
  for (uint64_t b = ck.first; b < ck.last; b += ck.stride)
    my_positions_total += std::min((b + 1) * chunk, positions) - std::min(b * chunk, positions);
  auto last_save = Clock::now(), last_print = Clock::now();
  const auto start = Clock::now();
  const uint64_t start_positions = ck.positions;
  int64_t blocks_done = 0;
  // Under MPI, rank 0 also prints every rank's progress summed (reports sent point to point).
  ProgressBoard board(comm);
  Clock::time_point last{};
  const uint64_t shard_total = std::min(shard.second * chunk, positions) - std::min(shard.first * chunk, positions);
  auto print_merged = [&](bool force) {
    if (!o.progress || !comm.active || comm.rank != 0) return;
    const auto now = Clock::now();
    if (!force && std::chrono::duration<double>(now - last).count() < 2.0) return;
    last = now;
    const double el = std::chrono::duration<double>(now - start).count();
    print_progress(str("all ", comm.size, " ranks"), board.done(), shard_total, board.screened(), el,
                   board.done() / std::max(el, 1e-9));
  };
  // Blocks come in grid order, and the first are often far from the best: a floor from an even sample of the
  // shard (64 runs of 256 positions; every rank takes the same) lets pruning start at once. It is the k-th best
  // of some of the shard's candidates, so never above the shard's k-th best: what it dismisses could not be in
  // the shard's top (a rank's own list may lose entries the merge would drop anyway), and the result is the
  // same without it.
  double sampled_floor = -std::numeric_limits<double>::infinity();
  const uint64_t range_begin = std::min(shard.first * chunk, positions), range_end = std::min(shard.second * chunk, positions);
  constexpr uint64_t runs = 64, run = 256;  // the sample: at most an eighth of the range
  if (s.prunable() && source->space() && range_end - range_begin >= 8 * runs * run) {
    std::vector<double> sample;
    const uint64_t len = range_end - range_begin;
    for (uint64_t i = 0; i < runs; ++i) {
      const uint64_t p0 = range_begin + static_cast<uint64_t>((static_cast<unsigned __int128>(len) * i) / runs);
      sample = s.merge(sample, s.hits(source->read(p0, std::min(p0 + run, range_end)), *model,
                                      -std::numeric_limits<double>::infinity(), &ck.exact));
    }
    const double f = s.kth(sample);
    if (std::isfinite(f)) sampled_floor = f - 1e-9 * std::abs(f) - 1e-300;  // below any rounding of it in another tile
  }
  board.report(ck.positions, ck.screened, false);
  // On the CPU, several blocks are scored side by side, each on one thread: a block's steps are many small
  // operations (bounds, a gather, tiles of 64 exact rows, the top-k), which keep one core busy but leave a
  // second waiting when each is split across both. Four blocks per thread per round, handed out one at a time
  // (pruning makes blocks near the best candidates dear and the others cheap). The blocks are read in order,
  // scored against the floor from before the round and merged in order, so the result is the same as one at
  // a time.
  const int64_t lanes = device.rfind("cuda", 0) == 0 ? 1 : std::max(1, at::get_num_threads());
  const int64_t round = lanes > 1 ? 4 * lanes : 1;
  ScopedSingleThreadBlas one_blas_thread(lanes > 1);
  while (ck.next < ck.last) {
    if (o.max_blocks >= 0 && blocks_done >= o.max_blocks) break;
    // Until there is a floor (no sample, no k hits yet) one block at a time: the blocks of a round share the
    // floor from before it, and without one nothing would be pruned.
    const double floor = std::max(sampled_floor, s.kth(ck.records));
    const int64_t take = std::isfinite(floor) ? round : 1;
    std::vector<Block> bs;
    std::vector<uint64_t> spans;
    for (uint64_t next = ck.next; next < ck.last && static_cast<int64_t>(bs.size()) < take; next += ck.stride) {
      if (o.max_blocks >= 0 && blocks_done + static_cast<int64_t>(bs.size()) >= o.max_blocks) break;
      const uint64_t b0 = next * chunk, b1 = std::min(b0 + chunk, positions);
      bs.push_back(source->read(b0, b1));
      spans.push_back(b1 - b0);
    }
    std::vector<std::vector<double>> found(bs.size());
    std::vector<uint64_t> exact(bs.size(), 0);
    if (bs.size() == 1) {
      found[0] = s.hits(bs[0], *model, floor, &exact[0]);
    } else {
      std::atomic<size_t> taken{0};
      at::parallel_for(0, lanes, 1, [&](int64_t, int64_t) {
        for (size_t i = taken++; i < bs.size(); i = taken++) found[i] = s.hits(bs[i], *model, floor, &exact[i]);
      });
    }
    for (size_t i = 0; i < bs.size(); ++i) {
      ck.records = s.merge(ck.records, found[i]);
      ck.exact += exact[i];
      ck.screened += static_cast<uint64_t>(bs[i].size());
      ck.positions += spans[i];
      ck.next += ck.stride;
      ++blocks_done;
    }
    const auto now = Clock::now();
    if (!ck.path.empty() && std::chrono::duration<double>(now - last_save).count() >= o.checkpoint_seconds) {
      save_checkpoint(ck, digest, s.width);
      last_save = now;
    }
    if (o.progress && (std::chrono::duration<double>(now - last_print).count() >= 2.0 || ck.next >= ck.last)) {
      const double el = std::chrono::duration<double>(now - start).count();
      print_progress(who, ck.positions, my_positions_total, ck.screened, el,
                     (ck.positions - start_positions) / std::max(el, 1e-9));
      last_print = now;
      board.report(ck.positions, ck.screened, false);
      board.poll();
      print_merged(false);
    }
  }
  board.report(ck.positions, ck.screened, true);
  while (!board.poll()) {  // rank 0 waits for every rank's last report, printing the sum meanwhile
    print_merged(false);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  print_merged(true);
  const bool done_here = ck.next >= ck.last;
  if (!done_here) {  // stopped early (tests): keep what was done
    if (!ck.path.empty()) save_checkpoint(ck, digest, s.width);
  }
  const bool complete = all_true(comm, done_here);

  ScreenResult r;
  r.outcomes = names;
  r.columns = source->columns();
  r.complete = complete;
  r.screened = sum_all(comm, ck.screened);
  r.positions = sum_all(comm, ck.positions);
  r.exact = sum_all(comm, ck.exact);
  std::vector<double> recs;
  if (comm.active) {
    recs = s.pareto() ? gather_records(comm, ck.records) : reduce_top(comm, ck.records, s.width, s.top);
    if (comm.rank == 0 && s.pareto()) recs = merge_front(recs, {}, s.width, s.signs);
  } else {
    recs = ck.records;
  }
  add_hits(&r, recs);
  if (comm.rank == 0) r.values = source->describe(r.index);
  r.provenance = base;
  r.provenance["screened"] = r.screened;
  r.provenance["positions"] = r.positions;
  r.provenance["grid_positions"] = positions;
  r.provenance["blocks"] = blocks;
  r.provenance["shard"] = {{"index", o.shard_index}, {"count", o.shard_count}};
  r.provenance["complete"] = complete;
  if (complete && comm.rank == 0 && !o.out.empty()) write_result(r, o.out);
  if (complete) {
    all_true(comm, true);  // the result is written before any rank drops its checkpoint
    if (!ck.path.empty()) {
      std::error_code ec;
      fs::remove(ck.path, ec);
    }
  }
  if (o.progress && comm.rank == 0 && complete) {
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "[sozai screen] done: %llu candidates scored of %llu positions in %.1f s (%.3g candidates/s over %d "
                  "rank%s)%s%s\n",
                  static_cast<unsigned long long>(r.screened), static_cast<unsigned long long>(r.positions), el,
                  r.screened / std::max(el, 1e-9), comm.size, comm.size > 1 ? "s" : "", o.out.empty() ? "" : ", wrote ",
                  o.out.c_str());
    std::cerr << buf;
  }
  return r;
}

ScreenResult merge(const std::vector<std::string>& parts, const std::string& out) {
  if (parts.empty()) throw InputError("screen merge: no parts given");
  std::vector<ScreenResult> rs;
  for (const auto& p : parts) rs.push_back(read_result(p));
  const auto& first = rs.front().provenance;
  const std::string digest = first.value("settings_sha256", "");
  int64_t count = 0;
  try {
    count = first.at("shard").at("count").get<int64_t>();
  } catch (const std::exception&) {
    throw InputError(str(parts[0], ": not a screen part (no shard in its provenance)"));
  }
  std::map<int64_t, std::string> seen;
  for (size_t i = 0; i < rs.size(); ++i) {
    const auto& p = rs[i].provenance;
    if (p.value("settings_sha256", "") != digest)
      throw InputError(str(parts[i], ": a part of another screen (settings ", p.value("settings_sha256", "?"),
                           " against ", digest, " in ", parts[0], ")"));
    if (!p.value("complete", false)) throw InputError(str(parts[i], ": the part is incomplete"));
    const auto idx = p.at("shard").at("index").get<int64_t>();
    if (p.at("shard").at("count").get<int64_t>() != count)
      throw InputError(str(parts[i], ": shard count ", p.at("shard").at("count").get<int64_t>(), ", not ", count));
    if (seen.count(idx)) throw InputError(str(parts[i], ": shard ", idx, " is also ", seen[idx]));
    seen[idx] = parts[i];
  }
  for (int64_t i = 0; i < count; ++i)
    if (!seen.count(i)) throw InputError(str("screen merge: shard ", i, "/", count, " is missing"));
  const int64_t m = static_cast<int64_t>(rs.front().outcomes.size());
  const int64_t width = record_width(m);
  const auto signs = first.at("signs").get<std::vector<double>>();
  const bool pareto = first.at("settings").at("score").get<std::string>() == "pareto";
  const int64_t top = first.at("settings").at("top").get<int64_t>();
  std::vector<double> recs;
  std::map<int64_t, std::vector<std::string>> values;
  uint64_t screened = 0, positions = 0;
  for (const auto& r : rs) {
    std::vector<double> mine;
    for (int64_t i = 0; i < r.size(); ++i) {
      mine.push_back(r.score[i]);
      mine.push_back(static_cast<double>(r.index[i]));
      mine.insert(mine.end(), r.mean[i].begin(), r.mean[i].end());
      mine.insert(mine.end(), r.variance[i].begin(), r.variance[i].end());
      values[r.index[i]] = r.values[i];
    }
    recs = pareto ? merge_front(recs, mine, width, signs) : merge_top(recs, mine, width, top);
    screened += r.screened;
    positions += r.positions;
  }
  ScreenResult out_r;
  out_r.outcomes = rs.front().outcomes;
  out_r.columns = rs.front().columns;
  out_r.complete = true;
  out_r.screened = screened;
  out_r.positions = positions;
  add_hits(&out_r, recs);
  for (auto i : out_r.index) out_r.values.push_back(values[i]);
  out_r.provenance = first;
  out_r.provenance["screened"] = screened;
  out_r.provenance["positions"] = positions;
  out_r.provenance["shard"] = {{"index", 0}, {"count", 1}};
  out_r.provenance["merged_from"] = count;
  if (!out.empty()) write_result(out_r, out);
  return out_r;
}

}  // namespace screen
}  // namespace sozai
