"""Training throughput of LICModule beside a plain PyTorch loop over the same CompressAI model.

The plain loop is CompressAI's ``examples/train.py`` step: net and aux Adam optimizers, the
rate-distortion loss, ``loss.backward()``, gradient clipping at 1.0, ``optimizer.step()``, then
``aux_loss.backward()`` and ``aux_optimizer.step()``. LICModule runs under a Lightning Trainer
(no logger, no checkpointing, no progress bar, the same data loader). Both see identical data,
batch size, model and initial weights; timing excludes warm-up steps. The rounds alternate the
order (plain, lightning, lightning, plain, ...) so neither benefits from a warmer machine, and the
rate of each run is the batch size over the *median* step time (robust to other processes
stealing a core for a few steps). The plain loop's step includes the host-to-device copy; the
Lightning step is timed from ``on_train_batch_start`` to ``on_train_batch_end``.

Usage::

    python benchmarks/bench_lic_training.py --arch bmshj2018-hyperprior --quality 1 \
        --patch 128 --batch 8 --steps 12 --warmup 3 --rounds 2

Prints images/s for each and the ratio LICModule / plain (>= 1.0 means at least as fast).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from jpegnn.losses.rate_distortion import RateDistortionLoss
from jpegnn.models.lic import build_lic_model, default_lambda
from jpegnn.profiling.timing import busy_cpu_seconds
from jpegnn.tasks.lic import LICModule


class Patches(Dataset):
    """Random smooth patches held in memory (no disk I/O in either contender)."""

    def __init__(self, n: int, patch: int):
        g = torch.Generator().manual_seed(0)
        base = torch.rand(n, 3, patch // 8, patch // 8, generator=g)
        self.data = torch.nn.functional.interpolate(base, size=(patch, patch), mode="bilinear").clamp(0, 1)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.data[i], "name": str(i)}


def plain_loop(args, state_dict, loader) -> float:
    """CompressAI examples/train.py style; returns images/s over the timed steps."""
    model = build_lic_model(args.arch, args.quality, args.N, args.M)
    model.load_state_dict(state_dict)
    model.to(args.device).train()
    params = {n: p for n, p in model.named_parameters()}
    net_opt = torch.optim.Adam([p for n, p in params.items() if not n.endswith(".quantiles")], lr=1e-4)
    aux_opt = torch.optim.Adam([p for n, p in params.items() if n.endswith(".quantiles")], lr=1e-3)
    criterion = RateDistortionLoss(default_lambda(args.quality))
    step_times = []
    for step, batch in enumerate(loader):
        t0 = time.perf_counter()
        x = batch["image"].to(args.device, non_blocking=True)
        net_opt.zero_grad()
        aux_opt.zero_grad()
        out = model(x)
        loss = criterion(out, x)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        net_opt.step()
        aux_loss = model.aux_loss()
        aux_loss.backward()
        aux_opt.step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        if step >= args.warmup:
            step_times.append(time.perf_counter() - t0)
        if step + 1 >= args.warmup + args.steps:
            break
    return args.batch / statistics.median(step_times)


class _Timer(L.Callback):
    """Per-batch wall time from batch start to batch end (the batch's full Lightning step)."""

    def __init__(self, warmup: int):
        self.warmup, self.t0, self.step_times = warmup, None, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if torch.cuda.is_available() and pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        if batch_idx >= self.warmup:
            self.step_times.append(time.perf_counter() - self.t0)


def lightning_loop(args, state_dict, loader) -> float:
    module = LICModule(args.arch, args.quality, args.N, args.M, refit_quantiles=False,
                       channels_last=args.channels_last, compile=args.compile)
    module.model.load_state_dict(state_dict)
    timer = _Timer(args.warmup)
    trainer = L.Trainer(
        accelerator="gpu" if args.device == "cuda" else "cpu", devices=1, precision=args.precision,
        max_steps=args.warmup + args.steps, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=loader)
    return args.batch / statistics.median(timer.step_times)




def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="bmshj2018-hyperprior")
    p.add_argument("--quality", type=int, default=1)
    p.add_argument("--N", type=int, default=None)
    p.add_argument("--M", type=int, default=None)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--channels-last", action="store_true", help="LICModule(channels_last=True)")
    p.add_argument("--compile", action="store_true", help="LICModule(compile=True); use --warmup >= 10")
    p.add_argument("--precision", default="32-true", help="Lightning precision for LICModule, e.g. bf16-mixed")
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {args.device}: no CUDA device is available on this machine (use --device cpu)")

    torch.manual_seed(0)
    state = build_lic_model(args.arch, args.quality, args.N, args.M).state_dict()
    data = Patches(args.batch * (args.warmup + args.steps), args.patch)
    make_loader = lambda: DataLoader(data, batch_size=args.batch, shuffle=False, num_workers=0)  # noqa: E731

    results = {"plain": [], "lightning": []}
    busy0, cpu0, wall0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    for r in range(args.rounds):
        order = ("plain", "lightning") if r % 2 == 0 else ("lightning", "plain")
        for name in order:
            fn = plain_loop if name == "plain" else lightning_loop
            results[name].append(fn(args, state, make_loader()))
            print(f"round {r} {name:>9}: {results[name][-1]:.2f} images/s", flush=True)

    wall, own_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    busy = None if busy0 is None else busy_cpu_seconds() - busy0
    plain, light = statistics.median(results["plain"]), statistics.median(results["lightning"])
    print(
        f"\n[{args.device}, LICModule precision {args.precision}, channels_last={args.channels_last}, "
        f"compile={args.compile}] {args.arch} q{args.quality} patch {args.patch} batch {args.batch}, {args.steps} timed steps, "
        f"{torch.get_num_threads()} threads\n"
        f"plain PyTorch loop : {plain:.2f} images/s (median of {args.rounds})\n"
        f"LICModule (Trainer): {light:.2f} images/s (median of {args.rounds})\n"
        f"ratio LICModule/plain = {light / plain:.3f}"
    )
    if busy is not None:
        others = max(busy - own_cpu, 0.0)
        print(f"contention check: other processes used {others:.1f} CPU-s during the {wall:.1f} s of both loops "
              f"({100 * others / (wall * (os.cpu_count() or 1)):.0f}% of the machine's {os.cpu_count()} CPUs; "
              "should be ~0 for a fair ratio)")
    return 0


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "bench_lic_training.py")
