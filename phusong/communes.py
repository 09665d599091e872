"""Commune facts of Hòa Bình and Vietnamese name matching.

The project's own fact tables live in ``data/communes/`` (see its README for each figure's
origin): the 151 commune-level units of 2020–2025 with codes, names, districts, 2019 census
population and households, official-style area and centroid; the mapping of the 151 units to
the 46 units of Phú Thọ from 1 July 2025.

Examples
--------
>>> from phusong.communes import commune_facts, crosswalk_2025, normalize_name
>>> facts = commune_facts()
>>> len(facts), int(facts.population.sum())
(151, 854131)
>>> crosswalk_2025().unit_code.nunique()
46
>>> normalize_name("Xã  Hoà Bình") == normalize_name("hòa bình")
True
>>> normalize_name("Hòa") == normalize_name("Hóa")
False
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pandas as pd

from phusong.errors import InputFileError

__all__ = [
    "FACTS_DIR",
    "commune_facts",
    "crosswalk_2025",
    "units_2025",
    "district_names",
    "normalize_name",
    "closest_names",
]

#: Folder of the commune fact tables (``data/communes/`` of the source tree).
FACTS_DIR = Path(__file__).resolve().parents[1] / "data" / "communes"

_STR = {"commune_code": str, "district_code": str, "unit_code": str}


def _read(name: str) -> pd.DataFrame:
    path = FACTS_DIR / name
    if not path.is_file():
        raise InputFileError(f"{path}: commune facts missing; reinstall phusong from its source tree")
    return pd.read_csv(path, dtype=_STR, encoding="utf-8", keep_default_na=False,
                       na_values={"population": [""], "households": [""]})


@lru_cache(maxsize=1)
def _facts() -> pd.DataFrame:
    return _read("communes_151.csv")


def commune_facts() -> pd.DataFrame:
    """The 151 units of 2020–2025, one row each, ordered by GSO code.

    Returns
    -------
    DataFrame
        ``commune_code`` (5-digit str), ``name``, ``name_short``, ``type`` (Xã/Phường/Thị trấn),
        ``district_code``, ``district_name``, ``population`` (persons, census 2019),
        ``households`` (census 2019), ``area_km2`` (km²), ``lon``, ``lat`` (centroid, degrees),
        ``bbox_west``, ``bbox_south``, ``bbox_east``, ``bbox_north`` (degrees), ``aliases``
        (other spellings in use, ``;``-separated, often empty).
    """
    return _facts().copy()


def crosswalk_2025() -> pd.DataFrame:
    """Mapping of the 151 units to the 46 units of Phú Thọ from 1 July 2025.

    Returns
    -------
    DataFrame
        ``commune_code``, ``unit_code``, ``unit_name``, ``unit_type``, ``share`` (fraction of the
        2020 unit's households assigned to the 2025 unit: 1.0 for the 148 whole units, 0.5 for
        each part of Vầy Nưa, Cao Sơn (Lương Sơn) and Đồng Tân — no public figure splits them).
    """
    return _read("crosswalk_151_to_2025.csv")


def units_2025() -> pd.DataFrame:
    """The 46 units of 2025 covering former Hòa Bình: code, name, type, lon, lat, area_km2."""
    return _read("units_2025.csv")


def district_names() -> dict[str, str]:
    """District code → name for the 10 district-level units of 2020–2025."""
    f = _facts()
    return dict(zip(f.district_code, f.district_name, strict=False))


_PREFIXES = (
    "thành phố",
    "thị trấn",
    "thị xã",
    "phường",
    "huyện",
    "tỉnh",
    "xã",
    "tp.",
    "tt.",
    "tx.",
    "p.",
    "x.",
)
_TONES = {"\u0300": "2", "\u0301": "1", "\u0303": "4", "\u0309": "3", "\u0323": "5"}
_PREFIX_RE = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")\s+")


def _syllable_key(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tone = ""
    kept = []
    for ch in decomposed:
        if ch in _TONES:
            tone = _TONES[ch]
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)) + tone


def normalize_name(text: str, *, strip_prefix: bool = True) -> str:
    """A matching key for a Vietnamese place name.

    Applies Unicode NFC, lower case, collapses spaces, removes the unit-type prefix
    (Xã, Phường, Thị trấn, Thành phố, Huyện …) and moves each syllable's tone mark to a fixed
    place, so that old and new tone placement (``Hoà``/``Hòa``, ``Thuỷ``/``Thủy``) give the same
    key while different tones (``Hòa``/``Hóa``) do not.

    Parameters
    ----------
    text : str
        A name as written in a file.
    strip_prefix : bool
        Remove a leading unit-type word.

    Returns
    -------
    str
        The key.
    """
    s = unicodedata.normalize("NFC", str(text)).lower().strip()
    s = re.sub(r"\s+", " ", s)
    if strip_prefix:
        s = _PREFIX_RE.sub("", s)
    return " ".join(_syllable_key(w) for w in s.split(" "))


def closest_names(name: str, candidates, n: int = 3) -> list[str]:
    """Up to ``n`` candidate names closest to ``name`` (for "did you mean" messages)."""
    keys = {normalize_name(c): c for c in candidates}
    hits = difflib.get_close_matches(normalize_name(name), list(keys), n=n, cutoff=0.5)
    return [keys[h] for h in hits]
