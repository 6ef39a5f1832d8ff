"""Acquisition functions and batch selection over a fitted model."""

from ._sozai import bo as _bo

acquisition = _bo.acquisition
best_latent_value = _bo.best_latent_value
select_batch_from_pool = _bo.select_batch_from_pool

__all__ = ["acquisition", "best_latent_value", "select_batch_from_pool"]
