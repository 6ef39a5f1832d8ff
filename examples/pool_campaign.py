"""A closed-loop campaign from Python (what a notebook cell would do).

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 examples/pool_campaign.py
"""

import sozai

ds = sozai.datasets.load_closed_loop("p3ht")
X, y, maximize = ds["X"], ds["Y"][:, 0], ds["maximize"][0]

campaign = sozai.campaign.PoolCampaign(X, maximize=maximize, acquisition="logei")
for round_ in range(5):
    rows = campaign.ask(4)                       # a batch of 4 distinct experiments
    campaign.tell(list(rows), [float(y[r]) for r in rows])   # results from the "lab"
    row, value = campaign.best()
    print(f"round {round_}: best {ds['objective_names'][0]} = {value:.1f} (row {row})")

campaign.save("p3ht_campaign.h5" if sozai.build_info()["hdf5"] != "none" else "p3ht_campaign.json")

# The benchmark API: replay a campaign and compare with random search.
order = sozai.benchmark.pool_campaign(X, y, maximize, budget=40, seed=0)
bo = sozai.benchmark.top_fraction_curve(order, y, maximize)
rnd = [sozai.benchmark.top_fraction_curve(sozai.benchmark.random_baseline(len(y), 40, s), y, maximize)
       for s in range(200)]
print(f"top-5% found after 40: BO {bo[-1]:.2f}, EF@40 = {sozai.benchmark.enhancement_factor([bo], rnd, 40):.2f}")
