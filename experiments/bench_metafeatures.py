"""Benchmark: metaopt's metafeature extractor against pymfe, side by side on the same data.

Every measurement runs in a fresh subprocess, so that its time and peak memory are its own:

- ``ours (full)``: ``extract_metafeatures`` with every group (the default set);
- ``ours (same groups)``: general + statistical + info_theory + landmarking, pymfe's groups;
- ``pymfe``: ``MFE(groups=["general", "statistical", "info-theory", "landmarking"])`` with its
  default features and summaries, stopped after ``--pymfe-cpu-limit`` CPU seconds.

Reported per dataset: wall and CPU seconds, the speed-up of ours over pymfe on the same groups
(in CPU seconds, which a busy shared machine distorts far less than wall seconds, and in wall
seconds), the extra peak resident memory of the
extraction, and the agreement of the overlapping values (largest relative difference over
the exactly comparable general/statistical/information-theoretic features; largest absolute
difference of the landmarking accuracies, which differ by design: 5-fold CV on at most 2,000
rows against pymfe's 10-fold CV on all rows).

Results are cached in ``results.json`` (rerunning skips finished measurements of the same
``--seed`` and, for pymfe, ``--pymfe-cpu-limit``; failed ones are retried; ``--force`` redoes
them all) and written as ``results.md`` and ``times.png`` under ``--out``. The real datasets are
files of the shared OpenML mirror (``$METAOPT_SHARED/datasets/openml``); without it, pass
``--real ""``.

Example:
    python experiments/bench_metafeatures.py                       # defaults, ~10 minutes
    python experiments/bench_metafeatures.py --sizes 1000x20 --real "" --pymfe-cpu-limit 30
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from metaopt._help import HelpFormatter
from metaopt.datasets._readers import FILE_READING_VERSION

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "experiments" / "results" / "bench_metafeatures"
SAME_GROUPS = ["general", "statistical", "info_theory", "landmarking"]
TOOLS = ("ours (full)", "ours (same groups)", "pymfe")

#: pymfe feature (default summaries mean/sd) -> ours, for exactly comparable definitions.
EXACT = {
    "nr_inst": "general.n_instances",
    "nr_attr": "general.n_features",
    "nr_class": "general.n_classes",
    "attr_to_inst": "general.dimensionality",
    "nr_outliers": "statistical.n_outlier_features",
    "nr_cor_attr": "statistical.high_correlation_ratio",
    "class_ent": "info_theory.class_entropy",
    "eq_num_attr": "info_theory.equivalent_n_attributes",
    "ns_ratio": "info_theory.noise_signal_ratio",
    **{
        f"{ref}.{how}": f"{ours}.{how}"
        for ref, ours in [
            ("mean", "statistical.mean"),
            ("sd", "statistical.sd"),
            ("skewness", "statistical.skewness"),
            ("kurtosis", "statistical.kurtosis"),
            ("cor", "statistical.abs_correlation"),
            ("cov", "statistical.abs_covariance"),
            ("attr_ent", "info_theory.attr_entropy"),
            ("joint_ent", "info_theory.joint_entropy"),
            ("mut_inf", "info_theory.mutual_information"),
        ]
        for how in ("mean", "sd")
    },
}
LANDMARKS = {
    "one_nn.mean": "landmarking.one_nn",
    "best_node.mean": "landmarking.stump",
    "naive_bayes.mean": "landmarking.naive_bayes",
    "linear_discr.mean": "landmarking.lda",
}


def synthetic(n_rows: int, n_cols: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Correlated numeric columns, some skewed, and a noisy 3-class target."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_rows, max(2, n_cols // 5)))
    mixing = rng.normal(size=(latent.shape[1], n_cols))
    X = latent @ mixing + rng.normal(size=(n_rows, n_cols))
    X[:, ::4] = np.exp(X[:, ::4] / 3.0)  # a quarter of the columns right-skewed
    score = X[:, 0] - X[:, 1] + rng.normal(size=n_rows)
    y = np.digitize(score, np.quantile(score, [0.5, 0.8]))
    return X, y


#: What a cached measurement was taken with when it does not say (the committed defaults).
MEASURED_DEFAULTS = {"seed": 0, "cpu_limit": 120.0}


def reusable(
    entry: dict | None, tool: str, seed: int, pymfe_cpu_limit: float, reading: int | None = None
) -> bool:
    """Whether a cached measurement answers this run: taken without error, with the same seed,
    for pymfe the same CPU limit, and for a file the same way of reading it (``reading``)."""
    if entry is None or "error" in entry:
        return False
    if reading is not None and entry.get("file_reading", 1) != reading:
        return False
    if entry.get("seed", MEASURED_DEFAULTS["seed"]) != seed:
        return False
    limit = entry.get("cpu_limit", MEASURED_DEFAULTS["cpu_limit"])
    return tool != "pymfe" or limit == pymfe_cpu_limit


def is_size(spec: str) -> bool:
    """Whether ``spec`` names synthetic data, ``"<rows>x<cols>"``."""
    rows, sep, cols = spec.partition("x")
    return bool(sep) and rows.isdigit() and cols.isdigit()


def load(spec: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``"<rows>x<cols>"`` synthetic data, or the name of a file in the shared OpenML mirror."""
    if is_size(spec):
        rows, cols = (int(v) for v in spec.split("x"))
        return synthetic(rows, cols, seed)
    from metaopt._settings import shared_dir
    from metaopt.datasets import load_dataset

    dataset = load_dataset(shared_dir() / "datasets" / "openml" / f"{spec}.arff")
    return dataset.X.to_numpy(dtype=float), dataset.y.cat.codes.to_numpy()


def worker(spec: str, tool: str, seed: int, cpu_limit: float | None) -> dict:
    """Measure one tool on one dataset in this process; returns time, memory and values."""
    import warnings

    warnings.filterwarnings("ignore")
    X, y = load(spec, seed)
    import pymfe.mfe  # noqa: F401  (imported before the baseline, whichever tool runs)
    import sklearn.tree  # noqa: F401

    from metaopt.metafeatures import extract_metafeatures

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if cpu_limit is not None:  # counted from here: imports and loading are not measured
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stop = int(np.ceil(usage.ru_utime + usage.ru_stime + cpu_limit))
        resource.setrlimit(resource.RLIMIT_CPU, (stop, stop + 5))
    wall, cpu = time.perf_counter(), time.process_time()
    if tool == "pymfe":
        mfe = pymfe.mfe.MFE(
            groups=["general", "statistical", "info-theory", "landmarking"], random_state=seed
        )
        mfe.fit(X, y, suppress_warnings=True)
        names, values = mfe.extract(suppress_warnings=True)
        result = {
            n: float(v) if np.isscalar(v) else float("nan")
            for n, v in zip(names, values, strict=True)
        }
    else:
        groups = None if tool == "ours (full)" else SAME_GROUPS
        result = extract_metafeatures(
            X, y, groups=groups, random_state=seed, task="classification"
        ).to_dict()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "shape": list(X.shape),
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_extra_mb": (peak - baseline) / 1024.0,
        "values": {k: (v if np.isfinite(v) else None) for k, v in result.items()},
    }


def measure(spec: str, tool: str, seed: int, cpu_limit: float | None, wall_limit: float) -> dict:
    """Run one measurement in a subprocess, stopped after ``cpu_limit`` CPU seconds."""
    command = [sys.executable, __file__, "--worker", spec, tool, "--seed", str(seed)]
    if cpu_limit is not None:
        command += ["--cpu-limit", str(cpu_limit)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=wall_limit, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"timeout": wall_limit, "unit": "wall"}
    if cpu_limit is not None and done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return {"timeout": cpu_limit, "unit": "cpu"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _agreement(ours: dict, ref: dict, table: dict[str, str], relative: bool) -> str:
    diffs = []
    for ref_name, our_name in table.items():
        a, b = ours.get(our_name), ref.get(ref_name)
        if a is None or b is None:
            continue
        diff = abs(a - b)
        diffs.append(diff / max(abs(b), 1e-8) if relative else diff)
    if not diffs:
        return "-"
    return f"{max(diffs):.1e} ({len(diffs)})" if relative else f"{max(diffs):.3f} ({len(diffs)})"


def _timed(entry: dict) -> str:
    if "timeout" in entry:
        return f"stopped at {entry['timeout']:.0f} {entry['unit']} s"
    if "seconds" not in entry:
        return entry.get("error", "-")
    return f"{entry['seconds']:.2f} ({entry['cpu_seconds']:.2f})"


def _speedup(same: dict, ref: dict) -> str:
    if "seconds" in same and "seconds" in ref:
        cpu = ref["cpu_seconds"] / same["cpu_seconds"]
        return f"{cpu:.0f}x ({ref['seconds'] / same['seconds']:.0f}x)"
    if "seconds" in same and "timeout" in ref:
        key = "cpu_seconds" if ref["unit"] == "cpu" else "seconds"
        return f"> {ref['timeout'] / same[key]:.0f}x"
    return "-"


def report(results: dict, specs: list[str], out: Path, command: str) -> str:
    lines = [
        "| data | rows x cols | ours full: wall s (cpu s) | ours same groups: wall s (cpu s) "
        "| pymfe: wall s (cpu s) | speed-up same groups: cpu (wall) "
        "| peak extra MB: ours full / pymfe | max rel diff exact features (n) "
        "| max abs diff landmarking (n) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for spec in specs:
        full, same, ref = (results.get(f"{spec}|{tool}", {}) for tool in TOOLS)
        shape = (full or same).get("shape", ["?", "?"])
        memory = " / ".join(
            f"{e['peak_extra_mb']:.0f}" if "peak_extra_mb" in e else "-" for e in (full, ref)
        )
        ours_values, ref_values = same.get("values", {}), ref.get("values", {})
        lines.append(
            f"| {spec} | {shape[0]} x {shape[1]} | {_timed(full)} | {_timed(same)} "
            f"| {_timed(ref)} | {_speedup(same, ref)} | {memory} "
            f"| {_agreement(ours_values, ref_values, EXACT, True)} "
            f"| {_agreement(ours_values, ref_values, LANDMARKS, False)} |"
        )
    table = "\n".join(lines)
    (out / "results.md").write_text(
        "# Metafeature extraction: metaopt vs pymfe\n\n"
        "Wall seconds with CPU seconds in brackets, on the shared 2-core development machine; "
        "CPU far below wall means other work was running. "
        f"Command: `{command}`. Each measurement is cached in `results.json` when taken; "
        "a rerun measures only what is missing (`--force-ours` remeasures metaopt, "
        "`--force` everything).\n\n" + table + "\n"
    )
    return table


def plot(results: dict, specs: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(specs)), 4.5))
    width = 0.27
    for i, tool in enumerate(TOOLS):
        heights, hatches = [], []
        for spec in specs:
            entry = results.get(f"{spec}|{tool}", {})
            heights.append(entry.get("cpu_seconds", entry.get("timeout", np.nan)))
            hatches.append("//" if "timeout" in entry else "")
        bars = ax.bar(np.arange(len(specs)) + (i - 1) * width, heights, width, label=tool)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(specs)), specs, rotation=20, ha="right")
    ax.set_ylabel("CPU seconds (log scale)")
    ax.text(0.01, 0.97, "hatched: stopped at the CPU limit", transform=ax.transAxes, va="top")
    ax.set_title("Metafeature extraction time")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "times.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="1000x20,10000x50,100000x50",
        help="synthetic sizes ROWSxCOLS, comma-separated",
    )
    parser.add_argument(
        "--real",
        default="1475-first-order-theorem-proving,28-optdigits,1120-MagicTelescope,6-letter",
        help='files (without .arff) of the shared OpenML mirror, comma-separated; "" for none',
    )
    parser.add_argument(
        "--pymfe-cpu-limit",
        type=float,
        default=120.0,
        help="CPU seconds after which a pymfe run is stopped",
    )
    parser.add_argument(
        "--wall-limit", type=float, default=1200.0, help="wall seconds after which a run stops"
    )
    parser.add_argument("--no-pymfe", action="store_true", help="measure only metaopt")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument("--force", action="store_true", help="ignore cached measurements")
    parser.add_argument(
        "--force-ours", action="store_true", help="remeasure metaopt, keep cached pymfe runs"
    )
    parser.add_argument("--worker", nargs=2, metavar=("SPEC", "TOOL"), help=argparse.SUPPRESS)
    parser.add_argument("--cpu-limit", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.seed, args.cpu_limit)))
        return

    from tqdm import tqdm

    sizes = [s for s in args.sizes.split(",") if s]
    bad = [s for s in sizes if not is_size(s) or 0 in (int(v) for v in s.split("x"))]
    if bad:
        parser.error(f"--sizes takes ROWSxCOLS items such as 1000x20, got {', '.join(bad)}")
    real = [s for s in args.real.split(",") if s]
    if real:
        from metaopt._settings import shared_dir

        mirror = shared_dir() / "datasets" / "openml"
        missing = [name for name in real if not (mirror / f"{name}.arff").is_file()]
        if missing:
            parser.error(
                f"--real: no {', '.join(f'{m}.arff' for m in missing)} in {mirror} "
                "(METAOPT_SHARED); name files of the shared OpenML mirror, or --real '' for "
                "synthetic data only"
            )
    for flag in ("pymfe_cpu_limit", "wall_limit"):
        if not getattr(args, flag) > 0:
            parser.error(f"--{flag.replace('_', '-')} must be > 0, got {getattr(args, flag)}")
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "results.json"
    results = {} if args.force or not cache.exists() else json.loads(cache.read_text())
    specs = sizes + real
    tools = TOOLS[:2] if args.no_pymfe else TOOLS
    jobs = [(spec, tool) for spec in specs for tool in tools]
    for spec, tool in tqdm(jobs, desc="measurements"):
        key = f"{spec}|{tool}"
        redo = args.force_ours and tool != "pymfe"
        # A file read differently now (e.g. a row-number column dropped) is other data.
        reading = None if is_size(spec) else FILE_READING_VERSION
        if not redo and reusable(results.get(key), tool, args.seed, args.pymfe_cpu_limit, reading):
            continue
        cpu_limit = args.pymfe_cpu_limit if tool == "pymfe" else None
        entry = measure(spec, tool, args.seed, cpu_limit, args.wall_limit)
        results[key] = {
            **entry,
            **({"file_reading": reading} if reading is not None else {}),
            "seed": args.seed,
            **({"cpu_limit": cpu_limit} if cpu_limit else {}),
        }
        cache.write_text(json.dumps(results, indent=1))
    command = "python experiments/bench_metafeatures.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    print(report(results, specs, args.out, command.strip()))
    plot(results, specs, args.out)


if __name__ == "__main__":
    main()
