"""Acquisition functions and batch selection over a fitted model.

Analytic (``acquisition``, ``select_batch_from_pool``: EI, LogEI, UCB, PI
with Kriging-believer batches) and Monte-Carlo (``mc_acquisition``,
``select_batch_mc``: qLogNEI and qUCB from joint posterior samples with
fixed quasi-random base samples, batches built greedily-sequentially with
pending experiments), and Thompson sampling from GP sample paths
(``select_batch_thompson``) for pools of millions; ``select_batch_in_space``
maximises any of them over a continuous or mixed ``DesignSpace``.
"""

from ._sozai import bo as _bo

acquisition = _bo.acquisition
best_latent_value = _bo.best_latent_value
select_batch_from_pool = _bo.select_batch_from_pool
acquisition_names = _bo.acquisition_names
normal_base_samples = _bo.normal_base_samples
mc_acquisition = _bo.mc_acquisition
select_batch_mc = _bo.select_batch_mc
prune_baseline = _bo.prune_baseline
select_batch_thompson = _bo.select_batch_thompson
select_batch_in_space = _bo.select_batch_in_space
project_to_space = _bo.project_to_space
non_dominated_mask = _bo.non_dominated_mask
hypervolume = _bo.hypervolume
hypervolume_improvement = _bo.hypervolume_improvement
infer_reference_point = _bo.infer_reference_point
select_batch_multi = _bo.select_batch_multi
log_augmented_ei = _bo.log_augmented_ei
select_batch_multi_fidelity = _bo.select_batch_multi_fidelity

__all__ = ["acquisition", "best_latent_value", "select_batch_from_pool", "acquisition_names", "normal_base_samples",
           "mc_acquisition", "select_batch_mc", "prune_baseline", "select_batch_thompson",
           "select_batch_in_space", "project_to_space",
           "non_dominated_mask", "hypervolume", "hypervolume_improvement", "infer_reference_point",
           "select_batch_multi", "log_augmented_ei", "select_batch_multi_fidelity"]
