"""Campaigns: ask for the next experiments, tell results, save/load.

PoolCampaign chooses among the rows of a finite pool; SpaceCampaign
proposes new candidates in a continuous or mixed DesignSpace. Keyword
arguments are campaign settings, the same JSON keys as the command line's
``--settings`` and the lab service's campaign description;
``campaign_settings(**settings)`` shows them all with defaults filled in.

>>> import numpy as np, sozai
>>> X = np.linspace(0, 1, 30)[:, None]
>>> c = sozai.campaign.PoolCampaign(X, outcomes=[{"name": "y", "direction": "minimize"}], n_init=2, seed=1)
>>> rows = c.ask(2); c.tell(list(rows), [float((X[r, 0] - 0.3) ** 2) for r in rows])
>>> c.settings["acquisition"], len(c.pending)
('qlognei', 0)
"""

from ._sozai import campaign as _c

PoolCampaign = _c.PoolCampaign
SpaceCampaign = _c.SpaceCampaign
Prior = _c.Prior
campaign_settings = _c.campaign_settings
natural_columns = _c.natural_columns
natural_table = _c.natural_table

__all__ = ["PoolCampaign", "SpaceCampaign", "Prior", "campaign_settings", "natural_columns", "natural_table"]
