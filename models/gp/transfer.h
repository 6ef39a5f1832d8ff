#pragma once
/// Transfer surrogates: Gaussian processes that use data from earlier
/// campaigns or related data sets ("sources") to model a target task
/// whose own data are few. All of them work in the target's input space
/// (the caller aligns the sources' columns to it, core/campaign/prior.h)
/// and none assumes that a source's outcomes have the target's scale:
///
/// - "rgpe": a ranking-weighted ensemble of one GP per source and a GP on
///   the target (RGPE, Feurer, Letham & Bakshy 2018). The weights come
///   from how often each model ranks the target's results best (the
///   target GP by leave-one-out), so a misleading source is weighted
///   down to zero as the target's data grow.
/// - "residual": the target as a GP around the sources' predictions,
///   y = b0 + sum_k b_k m_k(x) + f(x), with the offset and scales b
///   learnt on the target's data (marginalised under a N(0, 1) prior in
///   standardised units: a GP with kernel k(x, x') + h(x)^T h(x'),
///   h = [1, m_1, ..., m_K]; Rasmussen & Williams 2006, sec. 2.7).
/// - "mtgp": an intrinsic-coregionalisation multi-task GP over the target
///   and a subset of each source (MultiTaskGP, low-rank task covariance),
///   each task standardised on its own.
/// - "none": the target GP alone.
/// - "auto": fits the candidates and keeps the one whose leave-one-out
///   predictions rank the target's results best, "none" when no transfer
///   model does better than it.
///
/// Sources are oriented by the caller so that larger is better where the
/// target's larger is better (a prior minimised where the target is
/// maximised is negated).

#include "models/gp/exact_gp.h"
#include "models/gp/multitask_gp.h"
#include "models/surrogate.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace sozai {

/// One source task: inputs in the target's input space and one outcome.
struct TransferSource {
  std::string name;
  torch::Tensor X;  ///< [n, d] float64
  torch::Tensor y;  ///< [n] float64
};

/// Settings of the transfer surrogates (the JSON form "transfer" of a
/// campaign's settings).
struct TransferConfig {
  std::string method = "auto";  ///< auto, rgpe, residual, mtgp or none
  /// Rows a source GP conditions on: all of a smaller source; of a larger
  /// one those nearest the candidates (a pool), else a random subset.
  int64_t source_rows = 1000;
  /// Rows a source forest is fitted on (source_model "forest"), chosen as
  /// source_rows are: trees are cheap, so a large prior (10^5 computed
  /// values) informs them far beyond what a GP can hold.
  int64_t forest_rows = 20000;
  /// Each candidate's nearest rows of a source that its model is fitted on
  /// (nearest_rows' neighbourhood; 0: the rows nearest to any candidate, up
  /// to source_rows / forest_rows): a model of the prior's rows around the
  /// candidates, not of a far part of the prior that shares little with
  /// them (on the OER plates, a forest on the ~800-row neighbourhood of the
  /// other plate ranks the target better than one on all 2121 rows).
  int64_t neighbours = 32;
  /// Rows of a source its GP's hyperparameters are fitted on (random).
  int64_t source_fit_rows = 300;
  int64_t mtgp_rows = 100;      ///< rows of each source in the multi-task GP
  int64_t mtgp_rank = 2;        ///< rank of its task covariance
  int64_t rgpe_samples = 256;   ///< posterior samples behind the RGPE weights
  /// The model of each source: "gp" (ExactGP) or "forest" (RandomForest,
  /// models/forest: flat outside the source's data, often the sturdier
  /// guide on another plate or element set).
  std::string source_model = "forest";
  /// What "auto" chooses among (besides none).
  std::vector<std::string> auto_methods = {"rgpe", "residual"};
  /// "auto" falls back to none only when the target GP's leave-one-out
  /// ranking loss is lower than the best transfer model's by more than
  /// this (a share of the pairs of results): on a few results the loss is
  /// noisy, and a residual GP whose prior says nothing is the plain GP
  /// already (its scale's variance shrinks to 0), so a small margin costs
  /// little against a misleading prior and keeps a helpful one.
  double auto_margin = 0.0;
  /// Principal components of the composition features in a campaign's
  /// transfer space (core/campaign/prior.h; 0: element shares alone).
  int64_t components = 4;
  /// The first n_init experiments of a campaign with priors: "prior" (the
  /// pool rows the prior models rank best, their standardised means summed
  /// over priors: a warm-started initial design, Feurer et al. 2015) or
  /// "random" (as without priors).
  std::string initial = "prior";
  /// Prior-weighted acquisition, piBO (Hvarfner et al. 2022), in a pool
  /// campaign: after n results, the acquisition value of a pool row is
  /// multiplied by pi(x)^(prior_belief / n), where pi(x) is proportional
  /// to exp(s(x)) and s is the priors' score of the row (prior_scores:
  /// their standardised means, summed); a log-valued acquisition (qlognei,
  /// logei) adds (prior_belief / n) s(x). The priors' pull fades as the
  /// target's own data grow, whatever the surrogate makes of them, and is
  /// scaled by their agreement with the results so far, max(0, 1 - 2 L)
  /// with L the ranking loss of s on them (0.5: no better than chance), so
  /// a misleading prior pulls nowhere. 0: off. Pool campaigns only, with
  /// qlognei, logei, ei or pi.
  double prior_belief = 0.0;

  /// InputError naming `where` for an unknown method or a bad size.
  void validate(const std::string& where = "transfer") const;
};

/// The transfer methods by name (auto first, none last).
const std::vector<std::string>& transfer_methods();

/// Fraction of the pairs of targets (i < j, y_i != y_j) that `pred`
/// orders the other way; a tie in pred counts one half. 0 for fewer than
/// one such pair. pred, y: [n].
double ranking_loss(const torch::Tensor& pred, const torch::Tensor& y);

/// Positions of up to m rows of S [N, d] near the rows of C [c, d]
/// (Euclidean, after scaling each column by `width`). neighbours = 0: the m
/// rows nearest to any row of C, in increasing order of that distance.
/// neighbours = k > 0: the neighbourhood of C, the rows that are among the
/// k nearest of some row of C, ordered by the best rank at which they are
/// (then by distance), so at most m of them; fewer than m when the
/// neighbourhood is smaller. All N rows when N <= m, a seeded random subset
/// when C is undefined or empty.
std::vector<int64_t> nearest_rows(const torch::Tensor& S, const torch::Tensor& C, const torch::Tensor& width,
                                  int64_t m, uint64_t seed, int64_t neighbours = 0);

/// A model of each source (config.source_model), fitted once on up to
/// source_rows (GP) or forest_rows (forest) rows of its neighbourhood of
/// the candidates (nearest_rows with config.neighbours). A GP's
/// hyperparameters come from source_fit_rows random rows of those, an input
/// the source never varies gets the longest lengthscale, and its inputs are
/// normalised by [lo, hi] (the same for every model of a campaign); a
/// forest has 100 trees (RandomForestConfig). FittingError naming the source
/// when its fit fails.
std::vector<std::shared_ptr<const Surrogate>> fit_source_models(const std::vector<TransferSource>& sources,
                                                           const ExactGPConfig& gp, const TransferConfig& config,
                                                           const torch::Tensor& candidates, const torch::Tensor& lo,
                                                           const torch::Tensor& hi, uint64_t seed);

/// A fitted model whose latent posterior is tabulated at fixed rows (a
/// pool's candidates): a query of those rows, bit for bit, is looked up,
/// any other row (or one that needs gradients) asks the model. A prior
/// model is fixed for a campaign, and every ask evaluates it on the pool
/// (a forest of 100 deep trees on 2121 rows takes ~30 ms each time).
/// Everything else is the model's.
class TabulatedModel : public Surrogate {
 public:
  TabulatedModel(std::shared_ptr<const Surrogate> model, const torch::Tensor& rows);
  /// InputError: the model is fitted already.
  void fit(const Dataset& data) override;
  Posterior posterior(const torch::Tensor& X) const override { return model_->posterior(X); }
  Posterior latent_posterior(const torch::Tensor& X) const override;
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override {
    return model_->latent_covariance(A, B);
  }
  double latent_noise() const override { return model_->latent_noise(); }
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override { return model_->transform_outcome(Y); }
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override { return model_->untransform_outcome(Z); }
  std::string name() const override { return model_->name(); }

 private:
  std::shared_ptr<const Surrogate> model_;
  int64_t d_ = 0;
  torch::Tensor mean_, var_;  // [N] at the rows
  std::unordered_map<std::string, int64_t> index_;
};

/// RGPE (Feurer et al. 2018): a weighted sum of the source GPs' and the
/// target GP's latent posteriors, mean sum_i w_i mu_i, variance
/// sum_i w_i^2 s_i^2. The weight of a model is the share of posterior
/// samples in which its ranking loss on the target's results is the
/// lowest (ties shared); a source whose median loss exceeds the 95th
/// percentile of the target model's is dropped (weight dilution).
class RankingWeightedGP : public Surrogate {
 public:
  /// target: the (configured, not yet fitted) GP on the target's data.
  RankingWeightedGP(std::vector<std::shared_ptr<const Surrogate>> sources, std::shared_ptr<ExactGP> target,
                    int64_t samples = 256, uint64_t seed = 0);
  /// Fits the target GP, then the weights.
  void fit(const Dataset& data) override;
  /// Computes the weights for a target GP already fitted to data.
  void set_fitted_target(const Dataset& data);

  Posterior posterior(const torch::Tensor& X) const override;
  Posterior latent_posterior(const torch::Tensor& X) const override;
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override;
  double latent_noise() const override;
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override;
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override;
  std::string name() const override;

  /// Weights [sources + 1], the target's last; they sum to 1.
  const std::vector<double>& weights() const { return weights_; }
  /// Leave-one-out latent means of the target's results: the sources as
  /// they are, the target GP's by leave-one-out, weighted.
  torch::Tensor loo_mean() const;
  const ExactGP& target() const { return *target_; }

 private:
  void compute_weights(const torch::Tensor& X, const torch::Tensor& y);
  std::vector<std::shared_ptr<const Surrogate>> sources_;
  std::shared_ptr<ExactGP> target_;
  int64_t samples_;
  uint64_t seed_;
  std::vector<double> weights_;
  torch::Tensor source_means_;  // [n, K] latent means of the sources at the target's inputs
};

/// The target as a GP around prior models' predictions (see the file
/// comment): the basis h(x) = [1, m_1(x), ..., m_K(x)] holds the prior
/// models' latent means, and the coefficients are marginalised under
/// N(0, v_k) priors. The residual GP's hyperparameters are fitted by
/// marginal likelihood on the residuals of a ridge fit of the basis, then
/// the prior variances v_k by the whole model's marginal likelihood (so an
/// uninformative prior model's v_k shrinks towards 0, as ARD does).
class ResidualGP : public Surrogate {
 public:
  /// priors: models of related data (any Surrogate, e.g. source GPs or a
  /// fine-tuned GnnSurrogate), fitted; gp: settings of the residual GP
  /// (its outcome transform is always standardisation). coefficient_sd:
  /// prior standard deviation of each coefficient in standardised units.
  ResidualGP(std::vector<std::shared_ptr<const Surrogate>> priors, ExactGPConfig gp, double coefficient_sd = 1.0);
  /// The residual GP, to set its input bounds or warm-start hyperparameters
  /// before fit().
  ExactGP& residual() { return residual_; }
  const ExactGP& residual() const { return residual_; }
  void fit(const Dataset& data) override;
  /// Conditions on data with the residual GP's current hyperparameters
  /// and coefficient variances (no optimisation).
  void set_data(const Dataset& data);
  /// Prior variances of the coefficients [1 + K] (warm start / saved state).
  const std::vector<double>& coefficient_variances() const { return coef_var_; }
  void set_coefficient_variances(const std::vector<double>& v);

  Posterior posterior(const torch::Tensor& X) const override;
  Posterior latent_posterior(const torch::Tensor& X) const override;
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override;
  double latent_noise() const override { return noise_; }
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override;
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override;
  std::string name() const override;

  /// Posterior mean of the coefficients [1 + K]: the offset, then the scale
  /// of each prior model, in standardised units of the target.
  torch::Tensor coefficients() const;
  /// Leave-one-out latent means of the training targets [n].
  torch::Tensor loo_mean() const;

 private:
  torch::Tensor basis(const torch::Tensor& X) const;  // [n, 1 + K]
  /// Prior covariance of the whole model (residual + basis) between A and B.
  torch::Tensor total_prior(const torch::Tensor& A, const torch::Tensor& HA, const torch::Tensor& B,
                            const torch::Tensor& HB) const;
  /// z and the basis of data, with the residual GP refitted (or only
  /// conditioned) on what a ridge fit of the basis leaves.
  void prepare(const Dataset& data, bool optimise);
  void optimise_coefficient_variances();
  void condition();

  std::vector<std::shared_ptr<const Surrogate>> priors_;
  std::vector<double> coef_var_;
  ExactGP residual_;
  OutcomeTransform transform_;  // target y -> z (standardised)
  double scale_ = 1.0;          // residual GP latent -> z units: variance factor
  double noise_ = 0.0;          // in z units
  torch::Tensor X_, H_, z_, L_, alpha_;
};

/// The target and a subset of each source as tasks of one MultiTaskGP
/// (task 0 the target), each task's outcomes standardised on their own.
class MultiTaskTransferGP : public Surrogate {
 public:
  /// sources: already cut to the rows the model should hold.
  MultiTaskTransferGP(std::vector<TransferSource> sources, MultiTaskGPConfig config, const torch::Tensor& lo,
                      const torch::Tensor& hi);
  void fit(const Dataset& data) override;

  Posterior posterior(const torch::Tensor& X) const override;
  Posterior latent_posterior(const torch::Tensor& X) const override;
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override;
  double latent_noise() const override;
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override;
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override;
  std::string name() const override;

  const MultiTaskGP& model() const { return *model_; }
  /// Leave-one-out latent means of the target's results [n].
  torch::Tensor loo_mean() const;

 private:
  torch::Tensor with_task(const torch::Tensor& X) const;
  std::vector<TransferSource> sources_;
  MultiTaskGPConfig config_;
  torch::Tensor lo_, hi_;
  OutcomeTransform target_transform_;  // standardisation of the target's y
  std::unique_ptr<MultiTaskGP> model_;
  int64_t n_target_ = 0;
};

/// Warm starts of a transfer surrogate's GPs between asks.
struct TransferWarmStart {
  std::vector<GPHyperparameters> target;    ///< none or one set
  std::vector<GPHyperparameters> residual;  ///< none or one set
  std::vector<double> residual_coefficient_variances;  ///< with residual
};

/// What a campaign asks of TransferGP on each fit: the refit policy of
/// campaign_common.h applied to its GPs.
struct TransferFitPolicy {
  bool full_refit = true;      ///< all restarts (else one, from the warm start)
  bool condition_only = false; ///< keep the warm hyperparameters, only condition
};

/// The transfer surrogate a campaign uses: the method by name, or "auto".
class TransferGP : public Surrogate {
 public:
  /// sources and their fitted GPs (fit_source_models), in the same order;
  /// [lo, hi]: input bounds of every GP.
  TransferGP(TransferConfig config, ExactGPConfig gp, std::vector<TransferSource> sources,
             std::vector<std::shared_ptr<const Surrogate>> source_gps, torch::Tensor lo, torch::Tensor hi,
             uint64_t seed);
  void set_warm_start(const TransferWarmStart& warm, const TransferFitPolicy& policy);
  void fit(const Dataset& data) override;

  Posterior posterior(const torch::Tensor& X) const override { return chosen_->posterior(X); }
  Posterior latent_posterior(const torch::Tensor& X) const override { return chosen_->latent_posterior(X); }
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override {
    return chosen_->latent_covariance(A, B);
  }
  double latent_noise() const override { return chosen_->latent_noise(); }
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override { return chosen_->transform_outcome(Y); }
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override {
    return chosen_->untransform_outcome(Z);
  }
  std::string name() const override;

  /// The method in use after fit ("none", "rgpe", "residual" or "mtgp").
  const std::string& chosen() const { return chosen_name_; }
  /// Auto: leave-one-out ranking loss of each candidate (ranking_loss).
  const std::map<std::string, double>& ranking_losses() const { return losses_; }
  /// RGPE weights when RGPE was fitted (sources, then the target).
  std::vector<double> rgpe_weights() const;
  /// Hyperparameters to warm-start the next fit from.
  TransferWarmStart warm_start() const;
  /// A summary for logs and the lab service: method, losses, weights.
  nlohmann::json summary() const;

 private:
  std::shared_ptr<ExactGP> make_gp(const std::vector<GPHyperparameters>& warm) const;
  void fit_target(ExactGP& gp, const Dataset& data, bool has_warm) const;

  TransferConfig config_;
  ExactGPConfig gp_;
  std::vector<TransferSource> sources_;
  std::vector<std::shared_ptr<const Surrogate>> source_gps_;
  torch::Tensor lo_, hi_;
  uint64_t seed_;
  TransferWarmStart warm_;
  TransferFitPolicy policy_;

  std::shared_ptr<ExactGP> target_;
  std::shared_ptr<RankingWeightedGP> rgpe_;
  std::shared_ptr<ResidualGP> residual_;
  std::shared_ptr<MultiTaskTransferGP> mtgp_;
  std::shared_ptr<Surrogate> chosen_;
  std::string chosen_name_ = "none";
  std::map<std::string, double> losses_;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TransferConfig, method, source_rows, forest_rows, neighbours,
                                                source_fit_rows, mtgp_rows, mtgp_rank, rgpe_samples, source_model,
                                                auto_methods, auto_margin, components, initial,
                                                prior_belief)

}  // namespace sozai
