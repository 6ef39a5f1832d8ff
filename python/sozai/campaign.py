"""Pool campaigns: ask for the next experiments, tell results, save/load."""

from ._sozai import campaign as _c

PoolCampaign = _c.PoolCampaign

__all__ = ["PoolCampaign"]
