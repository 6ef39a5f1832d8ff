#pragma once
/// Graph-network surrogates for Bayesian optimisation over a pool of
/// materials: the Surrogate interface the campaign and the acquisition
/// functions use, on a fixed GraphBatch of candidates.
///
/// Inputs X are [n, 1] pool row numbers (as float64): the candidates are
/// graphs, not vectors, so a campaign over graphs runs on the pool
/// 0..N-1 and this class looks the rows up. Two kinds:
///  - "gnn": a GnnEnsemble; its mixture mean and (recalibrated) variance,
///    and for batches the epistemic covariance of the members' means
///    (cov(a, b) = mean_m (mu_m(a) - mu(a)) (mu_m(b) - mu(b)), scaled like
///    the variance), so Kriging-believer batches spread out.
///  - "gnn-dkl": a deep-kernel GP for small data: the ensemble learns a
///    representation from the observed rows, every pool graph is embedded
///    (the pooled embedding, averaged over members), the embeddings are
///    reduced to their first `dkl_dims` principal components and an
///    ExactGP (Matérn-5/2, ARD) is fitted on those. Two-stage deep kernel
///    learning: the network is trained by its own loss, not through the
///    GP's marginal likelihood. With ensemble.finetune.pretrained the
///    members start from that pretrained network (so do "gnn"'s).
///  - "gp-pretrained": the same GP on a pretrained network's embedding
///    (ensemble.finetune.pretrained, required), which is not trained at
///    all: the pool is embedded once, and each fit is a GP fit only, so a
///    campaign of a few dozen experiments uses what the network learned
///    from 10^5 computed materials at the cost of a GP.

#include "datasets/graph.h"
#include "models/gnn/ensemble.h"
#include "models/gp/exact_gp.h"
#include "models/surrogate.h"

#include <memory>
#include <string>

namespace sozai {
namespace gnn {

struct GnnSurrogateConfig {
  std::string kind = "gnn";    ///< "gnn" (ensemble), "gnn-dkl" (GP on the learned embedding) or "gp-pretrained"
  GnnEnsembleConfig ensemble;  ///< ensemble.kind must match the pool graphs' featuriser
  int64_t dkl_dims = 8;        ///< principal components of the embedding the GP sees
  ExactGPConfig gp;            ///< the deep-kernel GP
};

class GnnSurrogate : public Surrogate {
 public:
  /// pool: every candidate as a graph (row i = candidate i). InputError for
  /// an unknown kind, an empty pool or dkl_dims < 1.
  GnnSurrogate(std::shared_ptr<const GraphBatch> pool, GnnSurrogateConfig config);

  /// X: [n, 1] pool rows; Y: [n] or [n, 1]. InputError for a row outside
  /// the pool, non-integer rows or fewer than 2 observations.
  void fit(const Dataset& data) override;
  Posterior posterior(const torch::Tensor& X) const override;
  Posterior latent_posterior(const torch::Tensor& X) const override;
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override;
  double latent_noise() const override;
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override;
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override;
  std::string name() const override;

  const GnnEnsemble& ensemble() const { return *ensemble_; }
  /// The GP (nullptr for kind "gnn" or before fit).
  const ExactGP* gp() const { return gp_.get(); }

 private:
  torch::Tensor rows(const torch::Tensor& X, const char* where) const;

  std::shared_ptr<const GraphBatch> pool_;
  GnnSurrogateConfig config_;
  std::shared_ptr<GnnEnsemble> ensemble_;
  // kind "gnn": the fitted ensemble over the whole pool, computed once.
  torch::Tensor mean_, var_;   // [N] float64
  torch::Tensor deviation_;    // [R, N]: member means minus the mean, times sqrt(scale / R)
  // kind "gnn-dkl"
  torch::Tensor features_;     // [N, dkl_dims] principal components of the embedding
  std::shared_ptr<ExactGP> gp_;
};

}  // namespace gnn
}  // namespace sozai
