"""Campaigns: ask for the next experiments, tell results, save/load.

PoolCampaign chooses among the rows of a finite pool; SpaceCampaign
proposes new candidates in a continuous or mixed DesignSpace."""

from ._sozai import campaign as _c

PoolCampaign = _c.PoolCampaign
SpaceCampaign = _c.SpaceCampaign

__all__ = ["PoolCampaign", "SpaceCampaign"]
