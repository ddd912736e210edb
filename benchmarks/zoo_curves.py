"""Training curves of the zoo runs (issue 15): loss, validation PSNR and estimated bpp against steps.

Reads every TensorBoard event file under each run folder (a resumed run writes a new
``version_N``; values are merged by step, the latest write of a step winning), prints per run the
steps done, the last validation figures and the convergence check of issue 15 ("validation loss
changes by less than 1 % over the last fifth of its steps"), and writes a figure and a CSV.

    python benchmarks/zoo_curves.py RUN_DIR [RUN_DIR ...] --out benchmarks/results/zoo_curves
    e.g. python benchmarks/zoo_curves.py runs/zoo/q1 runs/zoo/q3 --out benchmarks/results/zoo_curves

A fine-tune started from another run's checkpoint (e.g. a widened model) is drawn from that step on
and checked over its whole lineage with ``--continues q5-N128=q5@40500``: its folder's steps (from 0)
are moved on by 40,500, and the CSV holds them moved (so ``--history`` of that CSV with the same
``--continues``, with or without the folder, gives the same curves).

``--history benchmarks/results/zoo_curves.csv`` reads the curves this script wrote before (the
committed CSV), so a run's early segments still count when their event files are gone (a new
machine): each run of the CSV is a curve, and a run folder of the same name is merged over it
(the folder's value wins at a step both have).

Each RUN_DIR is what ``benchmarks/zoo_train.sh`` makes (``runs/zoo/q<Q>``); its name labels the curves.
Output: ``<out>.png`` (four panels: validation loss with the training loss behind it, PSNR, estimated bpp, network lr; one colour per run) and ``<out>.csv`` (run, tag, step, value).
``--layout rates`` draws one row of those panels per rate instead: a run and the runs that continue it
(``--continues``, followed back to a run that continues none) share a row, one colour per stage, so
each rate's whole lineage reads at its own scale.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jpegnn` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jpegnn.errors import ConfigError, run_script  # noqa: E402

TAGS = ("train/loss", "val/loss", "val/psnr", "val/bpp_estimated", "lr-Adam")
CSV_COLUMNS = ["run", "tag", "step", "value"]  # what --out writes and --history reads


def read_scalars(run: Path) -> dict[str, dict[int, float]]:
    """``tag -> {step: value}`` merged over every event file under ``run`` (oldest file first)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(run.rglob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise ConfigError(f"no TensorBoard event files under {run}")
    out: dict[str, dict[int, float]] = {t: {} for t in TAGS}
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        have = set(acc.Tags().get("scalars", []))
        for tag in TAGS:
            if tag in have:
                for ev in acc.Scalars(tag):
                    out[tag][int(ev.step)] = float(ev.value)
    return out


def convergence(val_loss: dict[int, float]) -> tuple[float, bool] | None:
    """Relative change of the validation loss over the last fifth of the steps, and whether it is < 1 %.

    Compares the last validation value with the value at (or just before) 80 % of the last step.
    None when there are fewer than two validations.
    """
    if len(val_loss) < 2:
        return None
    steps = sorted(val_loss)
    last = steps[-1]
    earlier = [s for s in steps if s <= 0.8 * last] or steps[:1]
    ref = val_loss[earlier[-1]]
    change = abs(val_loss[last] - ref) / abs(ref)
    return change, change < 0.01


def read_history(path: Path) -> dict[str, dict[str, dict[int, float]]]:
    """``run -> tag -> {step: value}`` from a CSV this script wrote (columns run, tag, step, value)."""
    if not path.is_file():
        raise ConfigError(f"--history: file not found: {path}")
    out: dict[str, dict[str, dict[int, float]]] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != CSV_COLUMNS:
            raise ConfigError(f"--history {path}: expected the columns run,tag,step,value (a zoo_curves.py CSV), "
                              f"got {','.join(reader.fieldnames or [])}")
        for line, row in enumerate(reader, start=2):
            try:
                step, value = int(row["step"]), float(row["value"])
            except (TypeError, ValueError):
                raise ConfigError(f"--history {path}, line {line}: step and value must be numbers") from None
            if row["tag"] in TAGS:
                out.setdefault(row["run"], {t: {} for t in TAGS})[row["tag"]][step] = value
    return out


def shifted(scalars: dict[str, dict[int, float]], offset: int) -> dict[str, dict[int, float]]:
    """The same scalars with every step moved ``offset`` steps on (a run that starts from another's step)."""
    return {tag: {step + offset: value for step, value in points.items()} for tag, points in scalars.items()}


def rate_rows(names: list[str], sources: dict[str, str]) -> dict[str, list[str]]:
    """Runs grouped by rate: each run under the run its ``--continues`` chain starts from, in order."""

    def root(name: str) -> str:
        seen = {name}
        while name in sources and sources[name] not in seen:
            name = sources[name]
            seen.add(name)
        return name

    rows: dict[str, list[str]] = {}
    for name in names:
        rows.setdefault(root(name), []).append(name)
    return rows


def draw(plt, matplotlib, curves, rows: dict[str, list[str]], marks: dict[str, int], mark_label: str, xlabel: str):
    """The figure: one row of four panels (val loss over train loss, PSNR, estimated bpp, lr) per entry of ``rows``."""
    fig, grid = plt.subplots(len(rows), 4, figsize=(20, 4 if len(rows) == 1 else 3.2 * len(rows)), squeeze=False)
    tab20 = matplotlib.colormaps["tab20"]
    palette = [f"C{i}" for i in range(10)] + [tab20(2 * i + 1) for i in range(10)]  # 20 distinct colours
    titles = (("val/loss", "validation loss"), ("val/psnr", "validation PSNR (dB)"),
              ("val/bpp_estimated", "validation bpp (estimated)"), ("lr-Adam", "network lr"))
    for axes, (row, names) in zip(grid, rows.items()):
        for i, name in enumerate(names):
            c, color = curves[name], palette[i % len(palette)]  # one colour per run in every panel of its row
            for ax, (tag, title) in zip(axes, titles):
                if c[tag]:
                    xs = sorted(c[tag])
                    ax.plot(xs, [c[tag][x] for x in xs], marker="." if tag != "lr-Adam" else None, color=color, label=name)
                if name in marks:
                    ax.axvline(marks[name], color=color, linestyle=":", linewidth=1.2,
                               label=f"{name}: {mark_label}" if ax is axes[3] else None)
                ax.set_xlabel(xlabel)
                ax.set_title(f"{row}: {title}" if row else title)
            if c["train/loss"]:
                xs = sorted(c["train/loss"])
                axes[0].plot(xs, [c["train/loss"][x] for x in xs], alpha=0.25 if not row else 0.12, linewidth=0.8, color=color, label=f"{name} train")
        axes[0].set_yscale("log")
        val = sorted(v for name in names for v in curves[name]["val/loss"].values())
        if row and val:  # a rate's own scale: its validation losses, not the early or noisy training ones
            axes[0].set_ylim(0.98 * val[0], 1.02 * val[min(len(val) - 1, (3 * len(val)) // 4)])
        axes[3].set_yscale("log")
        for ax in axes:
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", type=Path, help="run folders (benchmarks/zoo_train.sh's runs/zoo/q<Q>)")
    p.add_argument("--out", type=Path, default=None, help="write <out>.png and <out>.csv")
    p.add_argument("--mark", nargs="*", default=[], metavar="RUN=STEP",
                   help="a dotted line in RUN's colour at STEP in every panel, e.g. where its recipe changed")
    p.add_argument("--mark-label", default="recipe change", help="what the dotted lines mean (legend text)")
    p.add_argument("--xlabel", default="training step (one batch each)", help="x-axis label")
    p.add_argument("--continues", nargs="*", default=[], metavar="RUN=SOURCE@STEP",
                   help="RUN is a fine-tune (e.g. a widened model) of run SOURCE's checkpoint at STEP: RUN's steps "
                        "are drawn from STEP on, and its convergence check reads SOURCE's validations before STEP too")
    p.add_argument("--history", type=Path, default=None, metavar="CSV",
                   help="curves written before by this script (its --out CSV): each of its runs is a curve, "
                        "and a run folder of the same name is merged over it")
    p.add_argument("--layout", choices=("runs", "rates"), default="runs",
                   help="runs: one row of panels, every run in it; rates: one row per rate (a run and the runs that "
                        "continue it)")
    args = p.parse_args(argv)
    if not args.runs and args.history is None:
        raise ConfigError("give run folders and/or --history CSV")
    for run in args.runs:
        if not run.is_dir():
            raise ConfigError(f"run folder not found: {run}")
    continues: list[tuple[str, str, str, int]] = []  # (flag, run, source, step; -1 when not a number)
    for item in args.continues:
        name, _, rest = item.partition("=")
        source, _, step = rest.partition("@")
        continues.append((item, name, source, int(step) if step.isdigit() else -1))
    offsets = {name: max(step, 0) for _, name, _, step in continues}
    curves = read_history(args.history) if args.history is not None else {}
    for run in args.runs:
        # a fine-tune's folder counts its steps from 0; the CSV holds its curves on its lineage's steps
        fresh = shifted(read_scalars(run), offsets.get(run.name, 0))
        old = curves.get(run.name, {t: {} for t in TAGS})
        curves[run.name] = {t: {**old[t], **fresh[t]} for t in TAGS}
    lineage = {name: c["val/loss"] for name, c in curves.items()}
    for item, name, source, step in continues:
        if name not in curves or source not in curves or source == name or step < 0:
            raise ConfigError(f"--continues {item!r}: expected RUN=SOURCE@STEP with RUN and SOURCE two of "
                              f"{', '.join(curves)}")
        lineage[name] = {**{s: v for s, v in curves[source]["val/loss"].items() if s < step},
                         **curves[name]["val/loss"]}
    marks: dict[str, int] = {}
    for item in args.mark:
        name, _, step = item.partition("=")
        if name not in curves or not step.isdigit():
            raise ConfigError(f"--mark {item!r}: expected RUN=STEP with RUN one of {', '.join(curves)}")
        marks[name] = int(step)

    print(f"{'run':<10}{'steps':>8}{'val loss':>10}{'val PSNR':>10}{'val bpp est':>12}{'lr':>10}  last fifth")
    for name, c in curves.items():
        steps = max((max(v) for v in c.values() if v), default=0)
        last = {t: (c[t][max(c[t])] if c[t] else float("nan")) for t in TAGS}
        conv = convergence(lineage[name])
        conv_s = "n/a" if conv is None else f"{conv[0] * 100:.2f} % ({'converged' if conv[1] else 'still moving'})"
        print(f"{name:<10}{steps:>8}{last['val/loss']:>10.4f}{last['val/psnr']:>10.2f}"
              f"{last['val/bpp_estimated']:>12.4f}{last['lr-Adam']:>10.2e}  {conv_s}")

    if args.out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from jpegnn.utils.atomic import atomic_open

        args.out.parent.mkdir(parents=True, exist_ok=True)
        sources = {name: source for _, name, source, _ in continues}
        rows = rate_rows(list(curves), sources) if args.layout == "rates" else {"": list(curves)}
        fig = draw(plt, matplotlib, curves, rows, marks, args.mark_label, args.xlabel)
        with atomic_open(args.out.with_suffix(".png"), "wb") as fh:
            fig.savefig(fh, format="png", dpi=110)
        with atomic_open(args.out.with_suffix(".csv"), "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            for name, c in curves.items():
                for tag in TAGS:
                    for step in sorted(c[tag]):
                        w.writerow([name, tag, step, f"{c[tag][step]:.6g}"])
        print(f"wrote {args.out.with_suffix('.png')} and {args.out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    run_script(main, "zoo_curves.py")
