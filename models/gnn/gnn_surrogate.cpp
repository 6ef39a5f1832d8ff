// Graph-network surrogates over a pool of graphs: the ensemble's mixture
// with its epistemic covariance, or a GP on the learned embedding.
#include "common/error.h"
#include "models/gnn/gnn_surrogate.h"
#include "models/gnn/pretrain.h"

#include <ATen/ops/linalg_svd.h>

#include <cmath>

namespace sozai {
namespace gnn {
namespace {

/// The first k principal components of the standardised embeddings z [N, D].
torch::Tensor principal_components(torch::Tensor z, int64_t k) {
  z = (z - z.mean(0)) / z.std(0).clamp_min(1e-12);
  const auto svd = at::linalg_svd(z, /*full_matrices=*/false);
  k = std::min<int64_t>(k, std::get<2>(svd).size(0));
  return torch::matmul(z, std::get<2>(svd).narrow(0, 0, k).t()).contiguous();
}

}  // namespace

GnnSurrogate::GnnSurrogate(std::shared_ptr<const GraphBatch> pool, GnnSurrogateConfig config)
    : pool_(std::move(pool)), config_(std::move(config)) {
  SOZAI_CHECK(config_.kind == "gnn" || config_.kind == "gnn-dkl" || config_.kind == "gp-pretrained",
              "GnnSurrogate: kind must be gnn, gnn-dkl or gp-pretrained, got '", config_.kind, "'");
  SOZAI_CHECK(pool_ && pool_->num_graphs() > 0, "GnnSurrogate: the pool holds no graphs");
  SOZAI_CHECK(config_.dkl_dims >= 1, "GnnSurrogate: dkl_dims must be >= 1, got ", config_.dkl_dims);
  config_.ensemble.train.progress = false;
  ensemble_ = std::make_shared<GnnEnsemble>(config_.ensemble);
  if (config_.kind == "gp-pretrained") {
    const auto& name = config_.ensemble.finetune.pretrained;
    SOZAI_CHECK(!name.empty(), "GnnSurrogate: kind gp-pretrained needs ensemble.finetune.pretrained, the network ",
                "whose embedding the GP uses");
    const auto model = PretrainedModel::load(name);
    SOZAI_CHECK(model.kind() == pool_->kind || pool_->kind.empty(), "GnnSurrogate: the pretrained model '", name,
                "' is a ", model.kind(), " model but the pool holds ", pool_->kind, " graphs");
    features_ = principal_components(model.embed(*pool_), config_.dkl_dims);
  }
}

torch::Tensor GnnSurrogate::rows(const torch::Tensor& X, const char* where) const {
  SOZAI_CHECK(X.defined() && X.dim() == 2 && X.size(1) == 1, "GnnSurrogate::", where,
              ": X must be [n, 1] pool rows, got ", X.defined() ? sozai::str(X.sizes()) : std::string("none"));
  const auto x = X.to(torch::kCPU, torch::kFloat64).reshape({-1});
  const auto r = x.round();
  const int64_t n = pool_->num_graphs();
  SOZAI_CHECK((x == r).all().item<bool>() && (r >= 0).all().item<bool>() && (r < n).all().item<bool>(),
              "GnnSurrogate::", where, ": X must hold whole pool rows in [0, ", n, ")");
  return r.to(torch::kInt64);
}

void GnnSurrogate::fit(const Dataset& data) {
  const auto idx = rows(data.X, "fit");
  SOZAI_CHECK(idx.numel() >= 2, "GnnSurrogate::fit: needs at least 2 observations, got ", idx.numel());
  const auto y = data.Y.reshape({-1}).to(torch::kCPU, torch::kFloat64);
  SOZAI_CHECK(y.numel() == idx.numel(), "GnnSurrogate::fit: ", idx.numel(), " rows but ", y.numel(), " values");
  if (config_.kind == "gp-pretrained") {
    gp_ = std::make_shared<ExactGP>(config_.gp);
    gp_->set_input_bounds(std::get<0>(features_.min(0)), std::get<0>(features_.max(0)));
    gp_->fit(Dataset{features_.index_select(0, idx), y});
    return;
  }
  ensemble_ = std::make_shared<GnnEnsemble>(config_.ensemble);
  ensemble_->fit(select_graphs(*pool_, idx), y);
  if (config_.kind == "gnn") {
    torch::Tensor members;
    const auto post = ensemble_->predict(*pool_, {}, &members);
    mean_ = post.mean.squeeze(1);
    var_ = post.variance.squeeze(1);
    const double scale = ensemble_->report().variance_scale;
    deviation_ = (members - mean_.unsqueeze(0)) * std::sqrt(scale / static_cast<double>(members.size(0)));
    return;
  }
  // Deep kernel: principal components of the standardised embedding.
  features_ = principal_components(ensemble_->embed(*pool_), config_.dkl_dims);
  gp_ = std::make_shared<ExactGP>(config_.gp);
  gp_->set_input_bounds(std::get<0>(features_.min(0)), std::get<0>(features_.max(0)));
  gp_->fit(Dataset{features_.index_select(0, idx), y});
}

Posterior GnnSurrogate::posterior(const torch::Tensor& X) const {
  SOZAI_CHECK(gp_ || ensemble_->fitted(), "GnnSurrogate: not fitted");
  const auto r = rows(X, "posterior");
  if (gp_) return gp_->posterior(features_.index_select(0, r));
  return {mean_.index_select(0, r).unsqueeze(1), var_.index_select(0, r).unsqueeze(1)};
}

Posterior GnnSurrogate::latent_posterior(const torch::Tensor& X) const {
  if (gp_) return gp_->latent_posterior(features_.index_select(0, rows(X, "latent_posterior")));
  return posterior(X);  // the ensemble's latent space is the units of y
}

torch::Tensor GnnSurrogate::latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  SOZAI_CHECK(gp_ || ensemble_->fitted(), "GnnSurrogate: not fitted");
  const auto a = rows(A, "latent_covariance"), b = rows(B, "latent_covariance");
  if (gp_) return gp_->latent_covariance(features_.index_select(0, a), features_.index_select(0, b));
  return torch::matmul(deviation_.index_select(1, a).t(), deviation_.index_select(1, b));
}

double GnnSurrogate::latent_noise() const { return gp_ ? gp_->latent_noise() : 0.0; }

torch::Tensor GnnSurrogate::transform_outcome(const torch::Tensor& Y) const {
  return gp_ ? gp_->transform_outcome(Y) : Y.to(torch::kFloat64);
}

torch::Tensor GnnSurrogate::untransform_outcome(const torch::Tensor& Z) const {
  return gp_ ? gp_->untransform_outcome(Z) : Z.to(torch::kFloat64);
}

std::string GnnSurrogate::name() const {
  const auto& e = config_.ensemble;
  if (config_.kind == "gnn") return str("GnnEnsemble(", e.kind, " x", e.n_members, ")");
  if (config_.kind == "gp-pretrained")
    return str("PretrainedEmbeddingGP(", e.finetune.pretrained, ", ", config_.dkl_dims, " dims)");
  return str("DeepKernelGP(", e.kind, " x", e.n_members, ", ", config_.dkl_dims, " dims)");
}

}  // namespace gnn
}  // namespace sozai
