// Models of a screen: a saved campaign's GPs (the hyperparameters it saved,
// conditioned on everything told), and GnnEnsembles or pretrained networks,
// one objective each.
#include "core/screen/screen_detail.h"
#include "common/error.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "core/space/design_space_json.h"
#include "models/gnn/ensemble.h"
#include "models/gnn/pretrain.h"
#include "models/gp/exact_gp.h"
#include "models/gp/pathwise.h"
#include "models/gp/posterior_bound.h"

#include <cstdio>
#include <filesystem>
#include <mutex>

#include <torch/torch.h>

namespace sozai {
namespace screen {
namespace detail {

namespace {

/// Pivots of a GP's pruning bound (PosteriorBound).
constexpr int64_t kBoundRank = 48;
/// The first pass's pivots (Model::bound's coarse bounds): a ninth of the
/// products of kBoundRank.
constexpr int64_t kCoarseBoundRank = 16;
/// Rows of a campaign model's exact posterior per BLAS call (Model::tile).
constexpr int64_t kExactTile = 64;

namespace fs = std::filesystem;

torch::Device parse_device(const std::string& d) {
  try {
    return torch::Device(d);
  } catch (const std::exception&) {
    throw InputError(str("screen: device '", d, "' is not cpu, cuda or cuda:N"));
  }
}

// ------------------------------------------------------------ campaign GPs

class CampaignModel : public Model {
 public:
  CampaignModel(const Campaign& c, const std::string& path, const DesignSpace* space, const std::string& device,
                uint64_t seed)
      : path_(path), device_(parse_device(device)), seed_(seed) {
    const auto& cfg = c.config();
    if (cfg.surrogate != "gp")
      throw InputError(str(path, ": the campaign's surrogate is '", cfg.surrogate,
                           "'; screening reads a campaign's GPs (surrogate \"gp\"); screen a graph model with "
                           "--model MODEL.pt instead"));
    if (c.num_observed() < 1)
      throw InputError(str(path, ": the campaign has no results yet, so it has no model to screen with"));
    torch::Tensor X, lo, hi;
    if (auto* sc = dynamic_cast<const SpaceCampaign*>(&c)) {
      if (!sc->prior_records().empty())
        throw InputError(str(path, ": screening a campaign with priors is not supported (its transfer model "
                                   "needs the prior tables); screen a campaign without priors"));
      if (!space) throw InputError(str(path, ": a design-space campaign screens a design space, not a library"));
      if (space->encoded_names() != sc->space().encoded_names())
        throw InputError(str("screen: the space screened does not encode like the campaign's (", path,
                             "): columns ", join(space->encoded_names()), " against ", join(sc->space().encoded_names())));
      space_ = sc->space();
      X = space_.encode(sc->observed_candidates());
      auto b = space_.encoded_bounds();
      lo = b[0];
      hi = b[1];
      encode_ = true;
    } else if (auto* pc = dynamic_cast<const PoolCampaign*>(&c)) {
      if (!pc->prior_records().empty() || cfg.multi_fidelity())
        throw InputError(str(path, ": screening a pool campaign with priors or fidelities is not supported"));
      if (space) throw InputError(str(path, ": a pool campaign screens a library with its columns, not a design space"));
      columns_ = pc->columns();
      if (columns_.empty())
        throw InputError(str(path, ": the pool campaign has no column names, so a library's columns cannot be matched "
                                   "to it (campaigns made from a CSV pool have them)"));
      X = pc->pool().index_select(0, torch::tensor(pc->observed_indices(), torch::kInt64));
      lo = std::get<0>(pc->pool().min(0));
      hi = std::get<0>(pc->pool().max(0));
    } else {
      throw InputError(str(path, ": not a campaign sozai can screen with"));
    }
    const auto Y = c.observed_outcomes();
    const auto& hypers = c.outcome_hyperparameters();
    const auto& outs = cfg.outcomes();
    for (size_t j = 0; j < outs.size(); ++j) {
      OutcomeInfo o;
      o.name = outs[j].name.empty() ? (outs.size() == 1 ? "y" : "y" + std::to_string(j)) : outs[j].name;
      o.objective = outs[j].is_objective();
      o.maximize = outs[j].maximizes();
      if (!o.objective) {
        o.has_limit = true;
        o.limit = Limit{o.name, outs[j].limit, outs[j].direction == Outcome::Direction::AtLeast};
      }
      outcomes_.push_back(o);
      ExactGPConfig gpc = cfg.gp;
      gpc.seed = seed + j;
      auto gp = std::make_shared<ExactGP>(gpc);
      gp->set_input_bounds(lo.to(device_), hi.to(device_));
      const Dataset data{X.to(device_), Y.select(1, static_cast<int64_t>(j)).contiguous().to(device_)};
      if (hypers.size() == outs.size()) {  // the campaign's own model
        gp->set_hyperparameters(hypers[j]);
        gp->set_data(data);
      } else {  // it never fitted one (all its asks were random): fit now, seeded
        gp->fit(data);
      }
      gps_.push_back(std::move(gp));
    }
    try {
      best_ = c.best().value;
      has_best_ = true;
    } catch (const InputError&) {
      has_best_ = false;  // several objectives, or nothing feasible yet
    }
    digest_ = sha256_file(path);
  }

  const std::vector<OutcomeInfo>& outcomes() const override { return outcomes_; }

  void predict(const Block& block, torch::Tensor* mean, torch::Tensor* variance) const override {
    const auto X = inputs(block);
    std::vector<torch::Tensor> m, v;
    for (const auto& gp : gps_) {
      // Tile by tile: BLAS sums a row's products in an order that may depend on the matrix's shape, and the
      // variance (outputscale minus a near-equal sum) keeps that rounding; a tile is always the same rows.
      std::vector<torch::Tensor> tm, tv;
      for (int64_t s = 0; s < X.size(0); s += kExactTile) {
        auto p = gp->outcome_transform().untransform(
            gp->latent_posterior_direct(X.slice(0, s, std::min(X.size(0), s + kExactTile))));
        tm.push_back(p.mean.reshape({-1}));
        tv.push_back(p.variance.reshape({-1}));
      }
      m.push_back(tm.empty() ? torch::empty({0}, X.options()) : torch::cat(tm));
      v.push_back(tv.empty() ? torch::empty({0}, X.options()) : torch::cat(tv));
    }
    *mean = torch::stack(m, 1);
    *variance = torch::stack(v, 1);
  }

  int64_t tile() const override { return kExactTile; }

  bool bound(const Block& block, torch::Tensor* mean_lo, torch::Tensor* mean_hi, torch::Tensor* var_hi,
             bool coarse) const override {
    // Built on first use (a screen that cannot prune never pays for them), where they hold: an affine or log
    // outcome transform (both increasing in the latent mean and variance). kBoundRank pivots: enough for the
    // smooth kernels fitted to compositions to dismiss nearly all of a grid, cheap next to the exact posterior's
    // n kernel values and n^2 variance.
    std::call_once(bounds_built_, [&] {
      for (const auto& gp : gps_) {
        const auto& t = gp->outcome_transform().resolved_kind();
        if (t != "standardize" && t != "log") break;
        bounds_.push_back(std::make_unique<PosteriorBound>(*gp, kBoundRank));
      }
    });
    if (bounds_.size() != gps_.size()) return false;
    const auto X = inputs(block);
    std::vector<torch::Tensor> lo, hi, vh;
    for (size_t j = 0; j < gps_.size(); ++j) {
      torch::Tensor l, h, v;
      (*bounds_[j])(X, &l, &h, &v, coarse ? kCoarseBoundRank : 0);
      // Both transforms kept (standardise, log) are increasing in the latent mean and variance: the upper ends
      // map to upper ends, and the lower mean with no variance to a lower mean.
      torch::Tensor m_hi, v_hi, m_lo, unused;
      gps_[j]->outcome_transform().untransform_moments(h, v, &m_hi, &v_hi);
      gps_[j]->outcome_transform().untransform_moments(l, torch::zeros_like(l), &m_lo, &unused);
      lo.push_back(m_lo.reshape({-1}));
      hi.push_back(m_hi.reshape({-1}));
      vh.push_back(v_hi.reshape({-1}));
    }
    *mean_lo = torch::stack(lo, 1);
    *mean_hi = torch::stack(hi, 1);
    *var_hi = torch::stack(vh, 1);
    return true;
  }

  torch::Tensor sample(const Block& block) const override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (samplers_.empty())
        for (size_t j = 0; j < gps_.size(); ++j)
          samplers_.push_back(std::make_unique<GPPathSampler>(*gps_[j], 1, seed_ + 7919 * (j + 1)));
    }
    const auto X = inputs(block);
    std::vector<torch::Tensor> s;
    for (size_t j = 0; j < gps_.size(); ++j)
      s.push_back(gps_[j]->untransform_outcome((*samplers_[j])(X).reshape({-1, 1})).reshape({-1}));
    return torch::stack(s, 1);
  }

  bool best(double* value) const override {
    if (has_best_) *value = best_;
    return has_best_;
  }
  nlohmann::json provenance() const override {
    std::vector<std::string> names;
    for (const auto& gp : gps_) names.push_back(gp->name());
    return {{"kind", "campaign"}, {"path", path_}, {"sha256", digest_}, {"models", names}};
  }
  std::vector<std::string> feature_columns() const override { return columns_; }

 private:
  torch::Tensor inputs(const Block& block) const {
    if (encode_) return space_.encode(block.raw).to(device_);
    if (!block.features.defined())
      throw InputError("screen: the campaign's GPs read numeric columns the library does not give");
    return block.features.to(device_);
  }

  std::string path_;
  torch::Device device_;
  uint64_t seed_;
  DesignSpace space_;
  bool encode_ = false;
  std::vector<std::string> columns_;
  std::vector<OutcomeInfo> outcomes_;
  std::vector<std::shared_ptr<ExactGP>> gps_;
  mutable std::once_flag bounds_built_;
  mutable std::vector<std::unique_ptr<PosteriorBound>> bounds_;  ///< one per GP, or fewer: no pruning
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<GPPathSampler>> samplers_;
  double best_ = 0.0;
  bool has_best_ = false;
  std::string digest_;
};

// ------------------------------------------------------------ graph networks

/// One network: a saved GnnEnsemble (a file), or "NAME:TASK" of a
/// pretrained model (its task head, as pretrained).
struct Network {
  std::string spec;
  std::unique_ptr<gnn::GnnEnsemble> ensemble;
  std::unique_ptr<gnn::PretrainedModel> pretrained;
  std::string task;
  std::string digest;
  int64_t condition_dim = 0;
};

class EnsembleModel : public Model {
 public:
  EnsembleModel(const std::vector<std::string>& specs, const std::vector<std::string>& names, bool minimize,
                const DesignSpace* space, uint64_t seed)
      : seed_(seed) {
    if (!names.empty() && names.size() != specs.size())
      throw InputError(str("screen: ", names.size(), " objective names for ", specs.size(), " models"));
    for (size_t i = 0; i < specs.size(); ++i) {
      Network n;
      n.spec = specs[i];
      std::error_code ec;
      if (fs::is_regular_file(specs[i], ec)) {
        n.ensemble = std::make_unique<gnn::GnnEnsemble>(gnn::GnnEnsemble::load(specs[i]));
        if (!n.ensemble->fitted()) throw InputError(str(specs[i], ": the ensemble is not trained"));
        n.condition_dim = n.ensemble->config().model.condition_dim;
        n.digest = sha256_file(specs[i]);
      } else {
        const auto colon = specs[i].find(':');
        if (colon == std::string::npos)
          throw InputError(str("screen: model '", specs[i], "' is neither a file nor NAME:TASK of a pretrained model"));
        n.pretrained = std::make_unique<gnn::PretrainedModel>(gnn::PretrainedModel::load(specs[i].substr(0, colon)));
        n.task = specs[i].substr(colon + 1);
        const auto t = n.pretrained->tasks();
        if (std::find(t.begin(), t.end(), n.task) == t.end())
          throw InputError(str("screen: pretrained model '", specs[i].substr(0, colon), "' has no task '", n.task,
                               "' (tasks: ", join(t), ")"));
        n.digest = sha256_hex(n.pretrained->card().dump());  // the card names the data and weights
      }
      OutcomeInfo o;
      o.name = names.empty() ? fs::path(specs[i]).stem().string() : names[i];
      if (o.name.empty() || o.name.find(':') != std::string::npos) o.name = n.task.empty() ? "y" + std::to_string(i) : n.task;
      o.maximize = !minimize;
      outcomes_.push_back(o);
      nets_.push_back(std::move(n));
    }
    if (space) {
      space_ = *space;
      has_space_ = true;
      int64_t numeric = 0, compositions = 0;
      for (const auto& p : space_.parameters()) {
        if (p.type == ParameterType::Composition) ++compositions;
        else if (p.type == ParameterType::Continuous || p.type == ParameterType::Integer) ++numeric;
        else
          throw InputError(str("screen: parameter '", p.name, "' (", to_string(p.type),
                               ") cannot be an input of a composition network; a space screened with --model has "
                               "one composition and numeric process conditions"));
      }
      if (compositions != 1)
        throw InputError(str("screen: a space screened with --model needs exactly one composition parameter, it has ",
                             compositions));
      for (const auto& n : nets_)
        if (n.condition_dim != numeric && !(n.pretrained && numeric == 0))
          throw InputError(str("screen: model '", n.spec, "' takes ", n.condition_dim,
                               " process conditions; the space has ", numeric, " numeric parameters"));
    }
  }

  const std::vector<OutcomeInfo>& outcomes() const override { return outcomes_; }

  void predict(const Block& block, torch::Tensor* mean, torch::Tensor* variance) const override {
    std::vector<std::string> inputs;
    torch::Tensor conditions;
    prepare(block, &inputs, &conditions);
    std::vector<torch::Tensor> m, v;
    for (const auto& n : nets_) {
      auto p = n.ensemble ? n.ensemble->predict(inputs, conditions) : n.pretrained->predict(n.task, inputs);
      m.push_back(p.mean.reshape({-1}).to(torch::kFloat64));
      v.push_back(p.variance.reshape({-1}).to(torch::kFloat64));
    }
    *mean = torch::stack(m, 1);
    *variance = torch::stack(v, 1);
  }

  /// An ensemble's sample function: one member, chosen by the seed (a deep
  /// ensemble's members are draws of the function).
  torch::Tensor sample(const Block& block) const override {
    std::vector<std::string> inputs;
    torch::Tensor conditions;
    prepare(block, &inputs, &conditions);
    std::vector<torch::Tensor> s;
    for (size_t j = 0; j < nets_.size(); ++j) {
      const auto& n = nets_[j];
      if (n.ensemble) {
        const auto members = n.ensemble->config().n_members;
        const int64_t m = static_cast<int64_t>((seed_ + 7919 * j) % static_cast<uint64_t>(members));
        s.push_back(n.ensemble->predict_member(m, inputs, conditions).mean.reshape({-1}).to(torch::kFloat64));
      } else {
        s.push_back(n.pretrained->predict(n.task, inputs).mean.reshape({-1}).to(torch::kFloat64));
      }
    }
    return torch::stack(s, 1);
  }

  nlohmann::json provenance() const override {
    auto j = nlohmann::json::array();
    for (const auto& n : nets_) j.push_back({{"model", n.spec}, {"sha256", n.digest}, {"task", n.task}});
    return {{"kind", "networks"}, {"models", j}};
  }

 private:
  void prepare(const Block& block, std::vector<std::string>* inputs, torch::Tensor* conditions) const {
    if (!has_space_) {
      if (block.inputs.size() != static_cast<size_t>(block.size()))
        throw InputError("screen: the library gives no model inputs (name the column with --input)");
      *inputs = block.inputs;
      return;
    }
    const int64_t n = block.size();
    const auto R = block.raw.contiguous();
    const double* r = R.data_ptr<double>();
    const int64_t w = space_.raw_width();
    std::vector<double> cond;
    inputs->reserve(static_cast<size_t>(n));
    const auto& ps = space_.parameters();
    for (int64_t i = 0; i < n; ++i) {
      std::string formula;
      for (size_t k = 0; k < ps.size(); ++k) {
        const double* v = r + i * w + space_.raw_offset(k);
        if (ps[k].type == ParameterType::Composition) {
          for (size_t e = 0; e < ps[k].elements.size(); ++e)
            if (v[e] > 0) {
              char buf[32];
              std::snprintf(buf, sizeof buf, "%.6g", v[e]);
              formula += ps[k].elements[e] + buf;
            }
        } else {
          cond.push_back(v[0]);
        }
      }
      inputs->push_back(std::move(formula));
    }
    if (!cond.empty()) *conditions = torch::tensor(cond, torch::kFloat64).reshape({n, -1}).to(torch::kFloat32);
  }

  uint64_t seed_;
  std::vector<Network> nets_;
  std::vector<OutcomeInfo> outcomes_;
  DesignSpace space_;
  bool has_space_ = false;
};

}  // namespace

std::unique_ptr<Model> campaign_model(const Campaign& campaign, const std::string& path, const DesignSpace* space,
                                      const std::string& device, uint64_t seed) {
  return std::make_unique<CampaignModel>(campaign, path, space, device, seed);
}

nlohmann::json campaign_space(const Campaign& campaign) {
  if (auto* sc = dynamic_cast<const SpaceCampaign*>(&campaign)) return space_to_json(sc->space());
  return nullptr;
}

std::vector<std::string> campaign_feature_columns(const Campaign& campaign) {
  if (auto* pc = dynamic_cast<const PoolCampaign*>(&campaign)) return pc->columns();
  return {};
}

std::unique_ptr<Model> ensemble_model(const std::vector<std::string>& models, const std::vector<std::string>& names,
                                      bool minimize, const DesignSpace* space, uint64_t seed) {
  return std::make_unique<EnsembleModel>(models, names, minimize, space, seed);
}

}  // namespace detail
}  // namespace screen
}  // namespace sozai
