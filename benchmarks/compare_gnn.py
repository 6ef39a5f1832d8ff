"""Graph-network training and inference speed: sozai's PolymerMPNN (C++,
LibTorch, the kernels' segment/scatter operations) against the same
architecture written in Python PyTorch (Debian's python3-torch), on the
same graphs and the same minibatches, in the same run.

Inputs: the first --n polymers of Tg_Original.csv (default 2048),
featurised once by sozai (GnnEnsemble.featurize: 60 atom and 15 bond
features, periodic bond). Both sides then work on those tensors.

The Python model (PythonPolymerMPNN below) is models/gnn/polymer_mpnn.cpp
line by line in PyTorch with index_add_ for the scatter sums (what
PyTorch Geometric's MessagePassing does on CPU). Before anything is timed,
the C++ model's trained weights are loaded into it (a sozai model file is a
TorchScript archive, readable by torch.jit.load) and both must predict the
same means and variances on every graph (max |diff| reported).

Training (graphs/s): --epochs full epochs of minibatches of --batch graphs, each
batch gathered from the featurised set (select_graphs in C++, the same
gathers in Python), Gaussian NLL, backward, gradient clipping, AdamW step.
sozai: GnnEnsemble(n_members=1, threads=1, val_fraction=0).fit for
--epochs epochs (its report's seconds less the featurisation it was
given: none, it takes the GraphBatch). Python: the same loop.
Inference (graphs/s): predictions for every graph in chunks of 512 without
gradients; sozai: GnnEnsemble.predict(graphs); Python: model.eval() under
torch.no_grad(). The two sides alternate, best of --repeats each.

Both sides run on one thread (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)),
hidden 128, 3 message-passing steps, float32.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/compare_gnn.py
"""

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

import sozai  # noqa: E402
from sozai import models  # noqa: E402

from bench_common import RESULTS, best_of, data_dir  # noqa: E402


class PythonPolymerMPNN(torch.nn.Module):
    """models/gnn/polymer_mpnn.cpp in Python PyTorch (same parameter names)."""

    def __init__(self, node_dim, edge_dim, hidden=128, layers=3, head_hidden=128):  # noqa: PLR0913
        super().__init__()
        self.layers = layers
        self.hidden = hidden
        self.w_i = torch.nn.Linear(node_dim + edge_dim, hidden, bias=False)
        self.w_m = torch.nn.Linear(hidden, hidden, bias=False)
        self.w_o = torch.nn.Linear(node_dim + hidden, hidden)
        self.head = torch.nn.Sequential(torch.nn.Linear(hidden, head_hidden), torch.nn.SiLU(),
                                        torch.nn.Linear(head_hidden, 2))

    def forward(self, x, edge_index, edge_attr, batch, num_graphs):
        n = x.shape[0]
        src, dst = edge_index[0], edge_index[1]
        rev = torch.arange(edge_index.shape[1]) ^ 1
        h0 = torch.relu(self.w_i(torch.cat([x.index_select(0, src), edge_attr], 1)))
        h = h0
        for _ in range(self.layers):
            at_node = torch.zeros(n, self.hidden).index_add_(0, dst, h)
            m = at_node.index_select(0, src) - h.index_select(0, rev)
            h = torch.relu(h0 + self.w_m(m))
        incoming = torch.zeros(n, self.hidden).index_add_(0, dst, h)
        nodes = torch.relu(self.w_o(torch.cat([x, incoming], 1)))
        counts = torch.zeros(num_graphs).index_add_(0, batch, torch.ones(n))
        pooled = torch.zeros(num_graphs, self.hidden).index_add_(0, batch, nodes) / counts.unsqueeze(1)
        out = self.head(pooled)
        return out[:, 0], out[:, 1]


def _mlp(inp, hidden, out, depth, dropout=0.0):
    """models/gnn/layers.cpp's mlp: depth x (Linear, SiLU[, Dropout]), then Linear (same indices)."""
    mods, width = [], inp
    for _ in range(depth):
        mods += [torch.nn.Linear(width, hidden), torch.nn.SiLU()] + ([torch.nn.Dropout(dropout)] if dropout > 0 else [])
        width = hidden
    return torch.nn.Sequential(*mods, torch.nn.Linear(width, out))


def _segment_softmax(scores, index, groups):
    top = torch.full((groups,), -float("inf")).scatter_reduce(0, index, scores, "amax", include_self=True)
    e = torch.exp(scores - top.index_select(0, index))
    denom = torch.zeros(groups).index_add_(0, index, e)
    return e / denom.index_select(0, index).clamp_min(1e-30)


class PythonCompositionNet(torch.nn.Module):
    """models/gnn/composition_net.cpp (Roost's weighted soft attention) in Python PyTorch, same parameter
    names, so a sozai model file's member weights load into it. No element table (element_dim 0)."""

    HEADS = 3

    def __init__(self, node_dim=22, edge_dim=2, hidden=64, layers=3, head_hidden=64, dropout=0.0):  # noqa: PLR0913
        super().__init__()
        self.embed = torch.nn.Linear(node_dim, hidden - 1)
        z = 2 * hidden + edge_dim
        for t in range(layers):
            step = torch.nn.Module()
            for k in range(self.HEADS):
                step.add_module(f"gate{k}", _mlp(z, hidden, 1, 1))
                step.add_module(f"msg{k}", _mlp(z, hidden, hidden, 1))
            step.register_parameter("pow", torch.nn.Parameter(torch.zeros(self.HEADS)))
            self.add_module(f"step{t}", step)
        self.layers = layers
        self.pool = torch.nn.Module()
        for k in range(self.HEADS):
            self.pool.add_module(f"gate{k}", _mlp(hidden, hidden, 1, 1))
            self.pool.add_module(f"msg{k}", _mlp(hidden, hidden, hidden, 1))
        self.pool.register_parameter("pow", torch.nn.Parameter(torch.zeros(self.HEADS)))
        self.head = _mlp(hidden, head_hidden, 2, 2, dropout)

    def forward(self, x, weight, edge_index, edge_attr, batch, num_graphs):  # noqa: PLR0913
        n = x.shape[0]
        log_w = torch.log(weight)
        h = torch.cat([self.embed(x), weight.unsqueeze(1)], 1)
        src, dst = edge_index[0], edge_index[1]
        if edge_index.shape[1] > 0:
            for t in range(self.layers):
                step = getattr(self, f"step{t}")
                z = torch.cat([h.index_select(0, dst), h.index_select(0, src), edge_attr], 1)
                lw = log_w.index_select(0, src)
                update = 0
                for k in range(self.HEADS):
                    a = _segment_softmax(getattr(step, f"gate{k}")(z).squeeze(1) + step.pow[k] * lw, dst, n)
                    m = getattr(step, f"msg{k}")(z) * a.unsqueeze(1)
                    update = update + torch.zeros(n, h.shape[1]).index_add_(0, dst, m)
                h = h + update / self.HEADS
        pooled = 0
        for k in range(self.HEADS):
            a = _segment_softmax(getattr(self.pool, f"gate{k}")(h).squeeze(1) + self.pool.pow[k] * log_w, batch,
                                 num_graphs)
            pooled = pooled + torch.zeros(num_graphs, h.shape[1]).index_add_(
                0, batch, getattr(self.pool, f"msg{k}")(h) * a.unsqueeze(1))
        out = self.head(pooled / self.HEADS)
        return out[:, 0], out[:, 1]


class Graphs:
    """A sozai GraphBatch as torch tensors, with per-graph gathers."""

    def __init__(self, gb):
        self.ptr = torch.from_numpy(np.asarray(gb.ptr)).long()
        self.eptr = torch.from_numpy(np.asarray(gb.edge_ptr)).long()
        self.x = torch.from_numpy(np.asarray(gb.x))
        self.edge_attr = torch.from_numpy(np.asarray(gb.edge_attr))
        self.edge_index = torch.from_numpy(np.asarray(gb.edge_index)).long()

    def select(self, idx):
        """Graphs idx as one batch (what select_graphs does in C++), vectorised."""
        nn = self.ptr[idx + 1] - self.ptr[idx]
        ne = self.eptr[idx + 1] - self.eptr[idx]
        new_ptr = torch.cat([torch.zeros(1, dtype=torch.long), nn.cumsum(0)])
        new_eptr = torch.cat([torch.zeros(1, dtype=torch.long), ne.cumsum(0)])
        node_rows = torch.arange(int(new_ptr[-1])) + torch.repeat_interleave(self.ptr[idx] - new_ptr[:-1], nn)
        edge_rows = torch.arange(int(new_eptr[-1])) + torch.repeat_interleave(self.eptr[idx] - new_eptr[:-1], ne)
        shift = torch.repeat_interleave(new_ptr[:-1] - self.ptr[idx], ne)
        batch = torch.repeat_interleave(torch.arange(len(idx)), nn)
        return (self.x.index_select(0, node_rows), self.edge_index.index_select(1, edge_rows) + shift,
                self.edge_attr.index_select(0, edge_rows), batch, len(idx))


def python_train(model, graphs, y, epochs, batch, lr=1e-3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    n = len(y)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            if len(idx) < 2:
                continue
            mean, log_var = model(*graphs.select(idx))
            log_var = log_var.clamp(-12, 12)
            loss = (0.5 * (log_var + (y[idx] - mean) ** 2 * torch.exp(-log_var))).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()


@torch.no_grad()
def python_predict(model, graphs, n, chunk=512):
    model.eval()
    means, log_vars = [], []
    for s in range(0, n, chunk):
        mean, log_var = model(*graphs.select(torch.arange(s, min(n, s + chunk))))
        means.append(mean)
        log_vars.append(log_var)
    return torch.cat(means), torch.cat(log_vars)


def measure(gb, graphs, y, hidden, batch, epochs, repeats):
    """Equality check with shared weights, then interleaved timings."""
    n = len(y)
    settings = dict(kind="polymer", n_members=1, seed=0, hidden=hidden, head_hidden=hidden, layers=3,
                    batch_size=batch, max_epochs=epochs, patience=epochs, val_fraction=0.0,
                    threads=1, progress=False, recalibrate=False)
    m = models.GnnEnsemble(**settings)
    m.fit(gb, y)  # trained weights for the equality check below
    # Same weights in Python: equal predictions before any timing.
    with tempfile.TemporaryDirectory() as tmp:
        m.save(f"{tmp}/m.pt")
        archive = torch.jit.load(f"{tmp}/m.pt")
        y_mean, y_std = float(archive.y_mean), float(archive.y_std)
        state = {k[len("member0."):]: v for k, v in archive.state_dict().items() if k.startswith("member0.")}
    dims = (graphs.x.shape[1], graphs.edge_attr.shape[1], hidden, 3, hidden)
    py_model = PythonPolymerMPNN(*dims)
    py_model.load_state_dict(state)
    cpp_mean, cpp_var = m.predict(gb)
    py_mean, py_log_var = python_predict(py_model, graphs, n)
    diff_mean = float(np.abs(py_mean.double().numpy() * y_std + y_mean - cpp_mean).max())
    diff_var = float(np.abs(torch.exp(py_log_var.double()).numpy() * y_std ** 2 - cpp_var).max() / cpp_var.max())
    print(f"hidden {hidden}, batch {batch}: same weights give max |mean diff| {diff_mean:.2e} K, max relative "
          f"variance diff {diff_var:.2e}", file=sys.stderr)
    if diff_mean > 1e-3 * y_std or diff_var > 1e-3:
        raise SystemExit("the Python model does not reproduce sozai's predictions; not timing")

    ys = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32)

    def py_fit():
        torch.manual_seed(0)
        python_train(PythonPolymerMPNN(*dims), graphs, ys, epochs, batch)

    # Interleaved, best of `repeats` each: the machine's noise (shared
    # cores, memory reclaim) hits both sides alike.
    cpp_train = py_train = cpp_infer = py_infer = float("inf")
    for r in range(repeats):
        cpp_train = min(cpp_train, models.GnnEnsemble(**settings).fit(gb, y)["seconds"])
        py_train = min(py_train, best_of(py_fit, 1)[0])
        cpp_infer = min(cpp_infer, best_of(lambda: m.predict(gb), 1)[0])
        py_infer = min(py_infer, best_of(lambda: python_predict(py_model, graphs, n), 1)[0])
        print(f"  repeat {r + 1}/{repeats}: training {n * epochs / cpp_train:.0f} / {n * epochs / py_train:.0f} "
              f"graphs/s, inference {n / cpp_infer:.0f} / {n / py_infer:.0f}", file=sys.stderr, flush=True)
    rows = {
        "hidden": hidden, "batch": batch, "same_weights_max_mean_diff": diff_mean,
        "same_weights_max_rel_var_diff": diff_var,
        "training": {"sozai_graphs_per_s": n * epochs / cpp_train, "python_graphs_per_s": n * epochs / py_train},
        "inference": {"sozai_graphs_per_s": n / cpp_infer, "python_graphs_per_s": n / py_infer},
    }
    for k in ("training", "inference"):
        rows[k]["ratio"] = rows[k]["sozai_graphs_per_s"] / rows[k]["python_graphs_per_s"]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--configs", default="128x64,32x16",
                    help="hidden x minibatch pairs: the default model, and a small one (small-data campaigns)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS / "gnn_speed"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    df = pd.read_csv(data_dir() / "polymers" / "Tg_Original.csv").head(args.n)
    smiles, y = list(df["Smiles"]), df["Tg"].to_numpy(float)
    n = len(smiles)
    gb = models.GnnEnsemble(kind="polymer").featurize(smiles)
    graphs = Graphs(gb)
    print(f"{n} polymers, {gb.ptr[-1]} atoms, {gb.edge_ptr[-1]} directed bonds", file=sys.stderr)
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
    runs = [measure(gb, graphs, y, h, b, args.epochs, args.repeats) for h, b in configs]

    result = {
        "benchmark": "compare_gnn", "model": "PolymerMPNN, 3 message-passing steps, float32", "graphs": n,
        "atoms": int(gb.ptr[-1]), "directed_bonds": int(gb.edge_ptr[-1]), "epochs": args.epochs,
        "repeats": args.repeats, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "sozai": sozai.__version__, "machine": platform.processor() or platform.machine(), "runs": runs,
    }
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    lines = [
        "# PolymerMPNN speed: sozai (C++) against the same model in Python PyTorch",
        "",
        f"{n} Tg polymers ({result['atoms']} atoms, {result['directed_bonds']} directed bonds), 3 message-passing "
        f"steps, float32, one thread on each side, torch {torch.__version__}; training = {args.epochs} epochs of "
        f"AdamW on the Gaussian NLL with clipping; inference in chunks of 512. The sides alternate, best of "
        f"{args.repeats}. Before timing, the Python model is given the C++ model's trained weights and must "
        f"predict the same numbers. Produced by `benchmarks/compare_gnn.py`.",
        "",
        "| hidden | minibatch | work | sozai graphs/s | Python PyTorch graphs/s | ratio | goal | same-weights max diff |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        for k, goal in (("training", "2x"), ("inference", "3x")):
            lines.append(f"| {r['hidden']} | {r['batch']} | {k} | {r[k]['sozai_graphs_per_s']:.0f} | "
                         f"{r[k]['python_graphs_per_s']:.0f} | {r[k]['ratio']:.2f}x | {goal} | "
                         f"{r['same_weights_max_mean_diff']:.1e} K |")
    lines.append("")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
