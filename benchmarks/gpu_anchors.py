"""Anchors for the GPU benchmarks: what a researcher would otherwise run, on
the same device and the same shapes as sozai's C++ GPU benchmarks, in the
same run (scripts/gpu-check.sh calls this on a GPU node; it needs torch with
CUDA, and botorch / torch_geometric where they are installed - a missing one
is reported as such, never replaced by something else).

- BoTorch GP screen (anchor for bench_screening's screen/cuda): a
  SingleTaskGP with a Matérn-5/2 ARD kernel (lengthscale 0.3, outputscale 1,
  noise 1e-3) on n = 256 training points in d = 8, its posterior and
  LogExpectedImprovement over --candidates random candidates in chunks of
  65536, and a running top-100, in float32 (as sozai's) and float64
  (BoTorch's recommended dtype). Hyperparameters are fixed, not fitted:
  the timed part is the screening pass, as in sozai's benchmark.
- PyTorch Geometric crystal network (anchor for bench_gnn's crystal cases):
  CGCNN's layout as sozai's CrystalGraphNet has it - Linear(100, 64)
  embedding, 3 x CGConv(64, dim=40, batch_norm=True) each followed by
  softplus, mean pooling, head Linear(64, 128)-SiLU-Linear(128, 2) - on the
  same kind of inputs (512 five-atom cells, 12 neighbours each, 40 Gaussian
  distance features). Inference: forward on 512 graphs without gradients;
  training step: forward on 64, Gaussian NLL, backward, AdamW - graphs/s.

Timing: CUDA synchronised wall clock, warm-up first, repeated for at least
--min-seconds; the best repeat is reported.

    python3 benchmarks/gpu_anchors.py --out anchors.json [--candidates 1048576]
"""

import argparse
import json
import math
import time

import torch


def timed(fn, min_seconds, sync):
    """Best seconds per call of fn over repeats lasting at least min_seconds."""
    fn()
    sync()
    best, total, n = math.inf, 0.0, 0
    while total < min_seconds or n < 3:
        t0 = time.perf_counter()
        fn()
        sync()
        dt = time.perf_counter() - t0
        best, total, n = min(best, dt), total + dt, n + 1
    return best, n


def botorch_screen(device, dtype, candidates, min_seconds, sync):
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import MaternKernel, ScaleKernel

    n, d, chunk, k = 256, 8, 65536, 100
    g = torch.Generator(device=device).manual_seed(1)
    train_x = torch.rand(n, d, device=device, dtype=dtype, generator=g)
    train_y = torch.randn(n, 1, device=device, dtype=dtype, generator=g)
    covar = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=d))
    model = SingleTaskGP(train_x, train_y, covar_module=covar, outcome_transform=None)
    model.to(device=device, dtype=dtype)
    model.covar_module.base_kernel.lengthscale = torch.full((1, d), 0.3, device=device, dtype=dtype)
    model.covar_module.outputscale = torch.tensor(1.0, device=device, dtype=dtype)
    model.likelihood.noise = torch.tensor([1e-3], device=device, dtype=dtype)
    model.eval()
    acq = LogExpectedImprovement(model, best_f=train_y.max())
    xs = [torch.rand(chunk, 1, d, device=device, dtype=dtype, generator=g) for _ in range(4)]

    def run():
        best_v = torch.full((k,), -math.inf, device=device, dtype=dtype)
        best_i = torch.zeros(k, dtype=torch.long, device=device)
        with torch.no_grad():
            for s in range(0, candidates, chunk):
                v = acq(xs[(s // chunk) % len(xs)])
                vals = torch.cat([best_v, v])
                idx = torch.cat([best_i, torch.arange(s, s + v.numel(), device=device)])
                best_v, pos = torch.topk(vals, k)
                best_i = idx[pos]
        return best_i

    sec, reps = timed(run, min_seconds, sync)
    return {"candidates": candidates, "seconds": sec, "repeats": reps, "candidates_per_s": candidates / sec,
            "n_train": n, "d": d, "chunk": chunk, "dtype": str(dtype).replace("torch.", "")}


def crystal_graphs(n_graphs, gen):
    """Five-atom cells, 12 neighbours per centre, 40 Gaussian features (bench_gnn's crystal_like)."""
    n, k = 5, 12
    xs, srcs, dsts, eas = [], [], [], []
    centres = torch.linspace(0, 8, 40)
    for gi in range(n_graphs):
        x = torch.zeros(n, 100)
        x[torch.arange(n), torch.randint(0, n, (n,), generator=gen) * 17 % 100] = 1
        src = torch.randint(0, n, (n * k,), generator=gen) + gi * n
        dst = torch.arange(n).repeat_interleave(k) + gi * n
        dist = 2 + 4 * torch.rand(n * k, generator=gen)
        eas.append(torch.exp(-((dist.unsqueeze(1) - centres) ** 2) / 0.04))
        xs.append(x)
        srcs.append(src)
        dsts.append(dst)
    x = torch.cat(xs)
    edge_index = torch.stack([torch.cat(srcs), torch.cat(dsts)])
    batch = torch.arange(n_graphs).repeat_interleave(n)
    return x, edge_index, torch.cat(eas), batch


def pyg_crystal(device, min_seconds, sync):
    from torch_geometric.nn import CGConv, global_mean_pool

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Linear(100, 64)
            self.convs = torch.nn.ModuleList([CGConv(64, dim=40, aggr="add", batch_norm=True) for _ in range(3)])
            self.head = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.SiLU(), torch.nn.Linear(128, 2))

        def forward(self, x, edge_index, edge_attr, batch, num_graphs):
            h = self.embed(x)
            for conv in self.convs:
                h = torch.nn.functional.softplus(conv(h, edge_index, edge_attr))
            out = self.head(global_mean_pool(h, batch, size=num_graphs))
            return out[:, 0], out[:, 1]

    gen = torch.Generator().manual_seed(42)
    torch.manual_seed(0)
    big = [t.to(device) for t in crystal_graphs(512, gen)]
    small = [t.to(device) for t in crystal_graphs(64, gen)]
    model = Net().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    y = torch.randn(64, device=device)

    def infer():
        with torch.no_grad():
            return model(*big, 512)[0]

    def step():
        mean, log_var = model(*small, 64)
        loss = 0.5 * (log_var + (y - mean) ** 2 * torch.exp(-log_var)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.eval()
    s_inf, n_inf = timed(infer, min_seconds, sync)
    model.train()
    s_tr, n_tr = timed(step, min_seconds, sync)
    return {"inference_graphs_per_s": 512 / s_inf, "train_graphs_per_s": 64 / s_tr,
            "inference_seconds": s_inf, "train_step_seconds": s_tr, "repeats": [n_inf, n_tr]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--candidates", type=int, default=1 << 20)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    device = torch.device(a.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    res = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
           "torch": torch.__version__}
    for name, fn in [("botorch_screen_float32", lambda: botorch_screen(device, torch.float32, a.candidates,
                                                                     a.min_seconds, sync)),
                     ("botorch_screen_float64", lambda: botorch_screen(device, torch.float64, a.candidates,
                                                                     a.min_seconds, sync)),
                     ("pyg_cgconv_crystal", lambda: pyg_crystal(device, a.min_seconds, sync))]:
        try:
            res[name] = fn()
        except ImportError as e:
            res[name] = {"error": f"not installed: {e}"}
        except Exception as e:  # noqa: BLE001 - reported in the results, the other anchors still run
            res[name] = {"error": f"{type(e).__name__}: {e}"}
        print(name, json.dumps(res[name]), flush=True)
    for m in ("botorch", "torch_geometric"):
        try:
            res[m] = __import__(m).__version__
        except ImportError:
            res[m] = None
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
