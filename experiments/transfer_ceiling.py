"""How far transfer of known optima can go on the knowledge pools, measured with an oracle.

For every space of the knowledge base (classification, base fidelity: every dataset evaluated
on the same configurations), each dataset is held out with its group, and the configurations
are ranked with knowledge no method has: the held-out dataset's own scores on every
configuration. Reported as mean normalised regret (HPO-B's ``(best - found) / (best - worst)``,
the pool benchmark's metric) after k trials:

- ``oracle: k nearest``: the best configuration of each of the k known datasets whose scores
  correlate most with the held-out dataset's (Pearson over all configurations, computed from
  the held-out scores, so similarity is known exactly);
- ``oracle: nearest's top k``: the k best configurations of the single most correlated known
  dataset;
- ``default``: the space's default configuration, then uniform draws;
- ``random``: the expected best of k uniform draws without replacement.

A method that picks sources by metafeatures or by the study's first results can only
approach the oracles; where they stay above TPE's regret after 50 trials, transferring the
sources' optima cannot, by itself, reach that regret in 5-10 trials on these pools.

Usage::

    python experiments/transfer_ceiling.py                 # shipped knowledge base
    python experiments/transfer_ceiling.py --knowledge DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metamodel_lodo import _first_then_random_best, _markdown, _random_best  # noqa: E402

from metaopt import knowledge  # noqa: E402
from metaopt._help import HelpFormatter  # noqa: E402
from metaopt.metamodel import normalize_scores  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "transfer_ceiling"
BUDGETS = (1, 2, 5, 10, 25, 50)


def score_matrix(kb: knowledge.KnowledgeBase, space: str) -> pd.DataFrame:
    """Datasets x configurations of min-max normalised base-fidelity scores (failed: 0)."""
    ev = kb.evaluations
    ev = ev[(ev["space"] == space) & (ev["fidelity"] == "base") & (ev["task"] == "classification")]
    ev = ev.assign(norm=normalize_scores(ev, method="minmax").to_numpy())
    matrix = ev.pivot_table(index="dataset", columns="config_id", values="norm")
    # Configurations every dataset has: the oracles compare like with like.
    return matrix.dropna(axis=1)


def ceilings(matrix: pd.DataFrame, groups: dict[str, str]) -> pd.DataFrame:
    """Mean normalised regret per method and budget, each dataset held out with its group."""
    values = matrix.to_numpy()
    names = list(matrix.index)
    group = np.array([groups.get(d, d) for d in names])
    columns = list(matrix.columns)
    default = columns.index(0) if 0 in columns else None
    records = []
    for t, name in enumerate(names):
        target = values[t]
        sources = values[group != group[t]]
        spread = sources.std(axis=1) > 0
        sources = sources[spread]
        if target.std() > 0:
            similarity = np.array([np.corrcoef(target, s)[0, 1] for s in sources])
        else:  # every configuration ties: any order is optimal
            similarity = np.zeros(len(sources))
        order = np.argsort(-np.nan_to_num(similarity, nan=-1.0), kind="stable")
        # Each source's best configurations, in order of similarity, without repeats.
        picks: list[int] = []
        for index in order:
            best = int(sources[index].argmax())
            if best not in picks:
                picks.append(best)
        nearest_top = list(np.argsort(-sources[order[0]], kind="stable"))
        for k in BUDGETS:
            rest = np.delete(target, default) if default is not None else target
            records += [
                {"dataset": name, "method": "oracle: k nearest", "k": k,
                 "regret": 1.0 - target[picks[:k]].max()},
                {"dataset": name, "method": "oracle: nearest's top k", "k": k,
                 "regret": 1.0 - target[nearest_top[:k]].max()},
                {"dataset": name, "method": "random", "k": k,
                 "regret": 1.0 - _random_best(target, k)},
            ]  # fmt: skip
            if default is not None:
                found = _first_then_random_best(target[default], rest, k)
                records.append(
                    {"dataset": name, "method": "default", "k": k, "regret": 1.0 - found}
                )
    return pd.DataFrame(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--knowledge", default=None, help="knowledge base directory (default: the shipped one)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    try:
        kb = knowledge.load(args.knowledge)
    except ValueError as error:
        parser.error(f"--knowledge: {error}")
    ev = kb.evaluations
    spaces = sorted(ev.loc[ev["task"] == "classification", "space"].unique())
    lines = ["# Transfer ceiling on the knowledge pools (oracle similarity)", ""]
    fig, axes = plt.subplots(1, len(spaces), figsize=(3.2 * len(spaces), 3.2), squeeze=False)
    for ax, space in zip(axes[0], spaces, strict=True):
        matrix = score_matrix(kb, space)
        frame = ceilings(matrix, kb.groups)
        table = frame.groupby(["method", "k"])["regret"].mean().unstack("k").round(4)
        lines += [
            f"## {space} ({matrix.shape[0]} datasets, {matrix.shape[1]} configurations)",
            "",
            _markdown(table),
            "",
        ]
        for method, row in table.iterrows():
            ax.plot(BUDGETS, row.to_numpy(), marker="o", label=method)
        ax.set_xscale("log")
        ax.set_title(space, fontsize=9)
        ax.set_xlabel("trials")
    axes[0][0].set_ylabel("mean normalised regret")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "ceiling.png", dpi=110)
    plt.close(fig)
    recorded = ["experiments/transfer_ceiling.py", *(sys.argv[1:] if argv is None else argv)]
    lines.append(f"Command: `python {' '.join(recorded)}`")
    text = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(text)
    (args.out / "command.json").write_text(json.dumps({"argv": recorded}))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
