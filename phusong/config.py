"""One immutable, typed settings object: defaults → scenario TOML → ``--set key=value``.

:class:`Settings` holds every value a user may change without editing code: covered and good
thresholds, search radii, band frequencies, radio defaults (incl. reliability), location σ,
indoor loss, interference, ITU-R P.1812 inputs, unit costs, targets and the dask executor's
connection timeout. Its defaults are the
module constants of :mod:`phusong.settings` (read once, at import); a scenario TOML overrides
some (its ``[thresholds_dbm]``, ``[radio]``, ``[costs]``… tables, :func:`apply_doc`) and
``--set key=value`` on the command line overrides those (:func:`apply_sets`), in that order.
Functions take the object explicitly; no module reads a mutable global at call time.

Keys are dotted: ``thresholds_dbm.4G``, ``radio.reliability_pct``, ``costs.new_site_vnd``,
``bands_mhz.4G.B8``, ``interference.sinr_min_db.5G``, ``targets.fibre_available.2025`` (the
``threshold_pct`` of that target), … :func:`key_table` lists them with type, default and unit
(``phusong settings`` prints it). Every object remembers where each non-default value came
from (:meth:`Settings.source`), and :meth:`Settings.record` is what outputs write.

Examples
--------
>>> from phusong.config import DEFAULT_SETTINGS, apply_sets
>>> s = apply_sets(DEFAULT_SETTINGS, ["thresholds_dbm.4G=-100"])
>>> s.thresholds_dbm["4G"], s.source("thresholds_dbm.4G"), s.source("thresholds_dbm.5G")
(-100.0, '--set', 'default')
>>> apply_sets(DEFAULT_SETTINGS, ["thresholds_dbm.4g=-100"])
Traceback (most recent call last):
...
phusong.errors.DataError: --set thresholds_dbm.4g: is an unknown key; did you mean thresholds_dbm.4G? (phusong settings lists the keys)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace

from phusong import settings as _defaults
from phusong.errors import DataError

__all__ = [
    "Table",
    "Settings",
    "DEFAULT_SETTINGS",
    "KeySpec",
    "key_table",
    "key_table_markdown",
    "apply_doc",
    "apply_sets",
    "parse_set",
    "from_record",
    "with_targets",
    "SETTINGS_SECTIONS",
    "SOURCES",
]

#: Where a value came from, in the order they are applied.
SOURCES = ("default", "scenario", "--set")


@dataclass(frozen=True)
class Table(Mapping):
    """An immutable mapping (key → value) kept in insertion order; hashable.

    >>> t = Table.of({"4G": -110.0})
    >>> t["4G"], dict(t), "5G" in t
    (-110.0, {'4G': -110.0}, False)
    """

    items_: tuple = ()

    @classmethod
    def of(cls, mapping: Mapping) -> Table:
        """A table of ``mapping`` (nested mappings become tables too)."""
        return cls(tuple((k, cls.of(v) if isinstance(v, Mapping) else v)
                         for k, v in mapping.items()))

    def __getitem__(self, key):
        for k, v in self.items_:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator:
        return (k for k, _ in self.items_)

    def __len__(self) -> int:
        return len(self.items_)

    def set(self, key, value) -> Table:
        """A copy with ``key`` set to ``value`` (an existing key keeps its place)."""
        if key in self:
            return Table(tuple((k, value if k == key else v) for k, v in self.items_))
        return Table((*self.items_, (key, value)))

    def to_dict(self) -> dict:
        """Plain nested dict."""
        return {k: v.to_dict() if isinstance(v, Table) else v for k, v in self.items_}


@dataclass(frozen=True)
class Settings:
    """Every user-settable value of a run (module doc). Build with :func:`apply_doc` and
    :func:`apply_sets` from :data:`DEFAULT_SETTINGS`; never mutated.

    Attributes
    ----------
    thresholds_dbm, good_thresholds_dbm : Table
        Covered and "good" level per technology, dBm.
    max_radius_km : Table
        Search radius per technology, km.
    bands_mhz : Table
        Centre frequency per technology and band label, MHz.
    radio : phusong.settings.Radio
        Site and receiver defaults and the reliability (% of locations).
    location_sigma_db : Table
        Location variability σ per environment, dB.
    indoor : phusong.settings.Indoor
        Building entry loss (ITU-R P.2109) inputs.
    interference : phusong.settings.Interference
        Load, noise figure, SINR minimum per technology.
    p1812 : phusong.settings.P1812Settings
        ITU-R P.1812 inputs (ΔN, N0, …).
    costs : phusong.settings.Costs
        Unit costs, VND.
    planning_costs : phusong.settings.PlanningCosts
        Power, backhaul and sharing costs of new sites.
    dask : phusong.settings.Dask
        The dask.distributed executor (connection timeout).
    targets : tuple of phusong.settings.Target
        Targets reported against.
    origin : Table
        Key → ``"scenario"`` or ``"--set"`` for the values not at their default.
    """

    thresholds_dbm: Table = Table.of(_defaults.THRESHOLDS_DBM)
    good_thresholds_dbm: Table = Table.of(_defaults.GOOD_THRESHOLDS_DBM)
    max_radius_km: Table = Table.of(_defaults.MAX_RADIUS_KM)
    bands_mhz: Table = Table.of(_defaults.BANDS_MHZ)
    radio: _defaults.Radio = _defaults.RADIO
    location_sigma_db: Table = Table.of(_defaults.LOCATION_SIGMA_DB)
    indoor: _defaults.Indoor = _defaults.INDOOR
    interference: _defaults.Interference = replace(
        _defaults.INTERFERENCE, sinr_min_db=Table.of(_defaults.INTERFERENCE.sinr_min_db))
    p1812: _defaults.P1812Settings = _defaults.P1812
    costs: _defaults.Costs = _defaults.COSTS
    planning_costs: _defaults.PlanningCosts = _defaults.PLANNING_COSTS
    dask: _defaults.Dask = _defaults.DASK
    targets: tuple = _defaults.TARGETS
    origin: Table = field(default=Table(), compare=False)

    def get(self, key: str):
        """The value of a dotted key (:func:`key_table`)."""
        return _get(self, _spec(key, "settings", self).path)

    def source(self, key: str) -> str:
        """Where ``key``'s value came from: ``default``, ``scenario`` or ``--set``."""
        _spec(key, "settings", self)
        return self.origin.get(key, "default")

    def record(self) -> dict:
        """What outputs write: ``{"values": {key: value}, "from": {key: source}}`` for every
        key (JSON-ready; ``from`` names ``default`` too, so a reader needs no table)."""
        specs = [k for k in _KEYS.values() if k.path[0] != "targets"] + _target_specs(self)
        values = {k.key: _get(self, k.path) for k in specs}
        return {"values": values, "from": {k: self.origin.get(k, "default") for k in values}}


@dataclass(frozen=True)
class KeySpec:
    """One settable key: dotted name, path into :class:`Settings`, type, default, unit, doc."""

    key: str
    path: tuple
    type: type
    default: object
    unit: str
    doc: str


_SECTION_DOC = {
    "thresholds_dbm": "covered level (RxLev, RSCP, RSRP, SS-RSRP)",
    "good_thresholds_dbm": "'good' level",
    "max_radius_km": "search radius around a transmitter",
    "bands_mhz": "downlink centre frequency of the band",
    "radio": "site and receiver default",
    "location_sigma_db": "location variability σ of the environment",
    "indoor": "ITU-R P.2109 building entry loss input",
    "interference": "downlink SINR input",
    "p1812": "ITU-R P.1812 input",
    "costs": "unit cost",
    "dask": "dask executor (--workers, --scheduler): wait for it to answer",
    "targets": "share to reach (threshold_pct) of the target",
}
_UNITS = (("_vnd_per_km", "VND/km"), ("_vnd_per_home", "VND/home"), ("_vnd_per_household",
          "VND/household"), ("_vnd", "VND"), ("_dbm", "dBm"), ("_dbi", "dBi"), ("_db", "dB"),
          ("_mhz", "MHz"), ("_km", "km"), ("_m", "m"), ("_deg", "degrees"), ("_pct", "%"))
_SECTION_UNIT = {"thresholds_dbm": "dBm", "good_thresholds_dbm": "dBm", "max_radius_km": "km",
                 "bands_mhz": "MHz", "location_sigma_db": "dB", "targets": "%"}
_FIELD_UNIT = {("p1812", "delta_n"): "N-units/km", ("p1812", "n0"): "N-units",
               ("p1812", "sea_min_area_km2"): "km²",
               ("interference", "load_factor"): "fraction", ("radio", "k_factor"): "",
               ("costs", "usd_vnd"): "VND/USD", ("dask", "connect_timeout_s"): "s",
               ("planning_costs", "sharing_markup"): "fraction"}

#: Scenario TOML tables that set :class:`Settings` values (``[costs]`` also holds the
#: planning costs; ``[[targets]]`` replaces the targets).
SETTINGS_SECTIONS = ("thresholds_dbm", "good_thresholds_dbm", "max_radius_km", "bands_mhz",
                     "radio", "location_sigma_db", "indoor", "interference", "p1812", "costs",
                     "dask")


def _unit(section: str, name: str) -> str:
    if (section, name) in _FIELD_UNIT:
        return _FIELD_UNIT[(section, name)]
    if section in _SECTION_UNIT:
        return _SECTION_UNIT[section]
    return next((u for suffix, u in _UNITS if name.endswith(suffix)), "")


def _build_keys(s: Settings) -> dict[str, KeySpec]:
    out: dict[str, KeySpec] = {}

    def add(key, path, value, section, name, kind=None):
        out[key] = KeySpec(key, path, kind or type(value), value, _unit(section, name),
                           _SECTION_DOC.get(section, ""))

    for f in fields(s):
        name, value = f.name, getattr(s, f.name)
        if name in ("origin", "targets"):
            continue
        public = "costs" if name == "planning_costs" else name
        if isinstance(value, Table):
            for k, v in value.items():
                if isinstance(v, Table):
                    for k2, v2 in v.items():
                        add(f"{public}.{k}.{k2}", (name, k, k2), v2, name, k2)
                else:
                    add(f"{public}.{k}", (name, k), v, name, name)
        elif is_dataclass(value):
            for sub in fields(value):
                v = getattr(value, sub.name)
                if isinstance(v, Table):
                    for k2, v2 in v.items():
                        add(f"{public}.{sub.name}.{k2}", (name, sub.name, k2), v2, name, sub.name)
                elif v is None:
                    # ``float | None`` (e.g. p1812.sigma_l_db: None = computed) is a number
                    # key; an ``object`` slot (p1812.maps, read by --p1812-maps) is not a key
                    if "float" in str(sub.type):
                        add(f"{public}.{sub.name}", (name, sub.name), v, name, sub.name, float)
                else:
                    add(f"{public}.{sub.name}", (name, sub.name), v, name, sub.name)
    return out | {k.key: k for k in _target_specs(s)}


def _target_specs(s: Settings) -> list[KeySpec]:
    """``targets.{indicator}.{year}`` keys of the targets ``s`` holds."""
    out = {}
    for t in s.targets:
        key = f"targets.{t.indicator}.{t.year}"
        path = ("targets", t.indicator, t.year)
        out[key] = KeySpec(key, path, float, float(_get(s, path)), "%", _SECTION_DOC["targets"])
    return list(out.values())


def _get(obj, path: tuple):
    if path[0] == "targets":
        # several targets may share indicator and year (Plan 785's and the national one):
        # the key reads the strictest and sets them all
        return max(t.threshold_pct for t in obj.targets if (t.indicator, t.year) == path[1:])
    for p in path:
        obj = obj[p] if isinstance(obj, Table) else getattr(obj, p)
    return obj


def _set(obj, path: tuple, value):
    if path[0] == "targets" and isinstance(obj, Settings):
        return replace(obj, targets=tuple(
            replace(t, threshold_pct=value) if (t.indicator, t.year) == path[1:] else t
            for t in obj.targets))
    head, rest = path[0], path[1:]
    if isinstance(obj, Table):
        return obj.set(head, _set(obj[head], rest, value) if rest else value)
    return replace(obj, **{head: _set(getattr(obj, head), rest, value) if rest else value})


_TYPE_WORD = {float: "a number", int: "a whole number", bool: "true or false", str: "text"}


def _convert(spec: KeySpec, value, where: str):
    """``value`` as the key's type, or a one-line DataError naming key, type and unit."""
    unit = f", {spec.unit}" if spec.unit else ""
    want = f"{_TYPE_WORD[spec.type]} ({spec.type.__name__}{unit})"
    bad = DataError(f"{_named(spec.key, where)} must be {want}, got {value!r}")
    if isinstance(value, str) and where == "--set":
        text = value.strip()
        if spec.type is str:
            return value
        if spec.type is bool:
            low = text.lower()
            if low in ("true", "yes", "1"):
                return True
            if low in ("false", "no", "0"):
                return False
            raise bad
        try:
            value = int(text) if spec.type is int else float(text)
        except ValueError:
            raise bad from None
    if spec.type is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if spec.type is str:
        if not isinstance(value, str):
            raise bad
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    if not math.isfinite(value):
        raise bad
    if spec.type is int and int(value) != value:
        raise bad
    if spec.key == "radio.reliability_pct" and not 0.0 < value < 100.0:
        raise DataError(f"{_named(spec.key, where)} must be strictly between 0 and 100 "
                        f"(e.g. 90), got {value!r}")
    if spec.key == "dask.connect_timeout_s" and not value > 0.0:
        raise DataError(f"{_named(spec.key, where)} must be > 0 s (e.g. 10), got {value!r}")
    if value < 0 and _non_negative(spec):
        raise DataError(f"{_named(spec.key, where)} must be ≥ 0{unit and ' ' + spec.unit}, "
                        f"got {value!r}")
    return int(value) if spec.type is int else float(value)


def _non_negative(spec: KeySpec) -> bool:
    """Costs, radii, frequencies, heights, σ and percentages cannot be negative."""
    return spec.path[0] in ("costs", "planning_costs", "max_radius_km", "bands_mhz",
                            "location_sigma_db", "targets") or spec.unit in ("m", "km", "%",
                                                                             "MHz")


def _spec(key: str, where: str, s: Settings | None = None) -> KeySpec:
    known = {k.key: k for k in _KEYS.values() if k.path[0] != "targets"}
    known |= {k.key: k for k in _target_specs(s if s is not None else DEFAULT_SETTINGS)}
    if key in known:
        return known[key]
    near = difflib.get_close_matches(key, list(known), n=1, cutoff=0.5)
    if not near:  # case slips ("4g") score low on ratio: try ignoring case
        low = {k.lower(): k for k in known}
        near = [low[key.lower()]] if key.lower() in low else []
    hint = f"did you mean {near[0]}? " if near else ""
    raise DataError(f"{_named(key, where)} is an unknown key; {hint}"
                    "(phusong settings lists the keys)")


def _named(key: str, where: str) -> str:
    """How a message names a key: ``--set thresholds_dbm.4G:`` on the command line,
    ``scenario: [thresholds_dbm] 4G`` in a TOML file (its own spelling)."""
    if where == "--set":
        return f"--set {key}:"
    section, _, rest = key.partition(".")
    return f"{where}: [{section}] {rest}"


def _with(s: Settings, values: dict, source, where: str) -> Settings:
    """``values`` applied; ``source`` is one name, or a mapping key → name."""
    origin = s.origin
    for key, raw in values.items():
        spec = _spec(key, where, s)
        s = _set(s, spec.path, _convert(spec, raw, where))
        origin = origin.set(key, source if isinstance(source, str) else source[key])
    return replace(s, origin=origin)


def from_record(record: Mapping | None, *, targets=None, where: str = "record") -> Settings:
    """The settings a :meth:`Settings.record` was written from (e.g. ``plan.json``'s
    ``scenario.settings``); ``None`` (an output written before issue 15) gives the defaults.

    Only the values not taken from the defaults are read back, with their sources; a key
    this version does not know is an error naming it. The record holds each target's share
    only: a scenario's own targets (with their denominators) come as ``targets`` (Target
    objects, e.g. from ``plan.json``'s ``scenario.targets``), else the defaults'.
    """
    if record is None:
        return DEFAULT_SETTINGS
    if not isinstance(record, Mapping) or not isinstance(record.get("values"), Mapping) \
            or not isinstance(record.get("from"), Mapping):
        raise DataError(f"{where}: settings must hold 'values' and 'from' tables; rewrite it "
                        "with this version")
    src = record["from"]
    s = DEFAULT_SETTINGS if targets is None else with_targets(DEFAULT_SETTINGS, tuple(targets))
    changed = {k: v for k, v in record["values"].items()
               if src.get(k, "default") != "default" and not k.startswith("targets.")}
    return _with(s, changed, {k: src[k] for k in changed}, where)


def parse_set(text: str) -> tuple[str, str]:
    """``"key=value"`` → ``(key, value)``; a one-line DataError when there is no ``=``.

    >>> parse_set("costs.new_site_vnd = 4e9")
    ('costs.new_site_vnd', '4e9')
    """
    key, eq, value = str(text).partition("=")
    if not eq or not key.strip():
        raise DataError(f"--set {text!r}: expected key=value, e.g. --set thresholds_dbm.4G=-105 "
                        "(phusong settings lists the keys)")
    return key.strip(), value.strip()


def apply_sets(s: Settings, sets: Iterable[str]) -> Settings:
    """``s`` with each ``key=value`` of ``--set`` applied in order (source ``--set``)."""
    values: dict = {}
    for text in sets or ():
        k, v = parse_set(text)
        values[k] = v
    return _with(s, values, "--set", "--set") if values else s


def apply_doc(s: Settings, doc: Mapping, *, where: str = "scenario") -> Settings:
    """``s`` with a scenario's settings tables applied (source ``scenario``).

    ``doc`` is the parsed TOML; only :data:`SETTINGS_SECTIONS` and ``[[targets]]`` are read
    (the scenario parser checks the rest). ``[costs]`` holds both the unit costs and the
    planning costs; ``[[targets]]`` (already :class:`~phusong.settings.Target` objects, or
    ``None``) replaces the default targets.
    """
    values: dict = {}
    for section in SETTINGS_SECTIONS:
        if section not in doc:
            continue
        table = doc[section]
        if not isinstance(table, Mapping):
            raise DataError(f"{where}: [{section}] must be a table")
        for k, v in table.items():
            if isinstance(v, Mapping):
                for k2, v2 in v.items():
                    values[f"{section}.{k}.{k2}"] = v2
            else:
                values[f"{section}.{k}"] = v
    return _with(s, values, "scenario", where) if values else s


def with_targets(s: Settings, targets: tuple) -> Settings:
    """``s`` with a scenario's ``[[targets]]`` in place of the defaults (source ``scenario``)."""
    s = replace(s, targets=tuple(targets))
    origin = Table(tuple((k, v) for k, v in s.origin.items() if not k.startswith("targets.")))
    for t in s.targets:
        origin = origin.set(f"targets.{t.indicator}.{t.year}", "scenario")
    return replace(s, origin=origin)


#: The defaults of :mod:`phusong.settings` as one object.
DEFAULT_SETTINGS = Settings()
_KEYS: dict[str, KeySpec] = _build_keys(DEFAULT_SETTINGS)
_DEFAULT_KEYS = tuple(_KEYS)


def key_table() -> list[KeySpec]:
    """Every settable key of the defaults, in :class:`Settings` order."""
    return [_KEYS[k] for k in _DEFAULT_KEYS]


def key_table_markdown() -> str:
    """The key table as Markdown (README's "Settings" section is this text, test-checked)."""
    rows = ["| key | type | default | unit | what |", "|---|---|---|---|---|"]
    for k in key_table():
        d = k.default
        shown = f"{d:,.6g}" if isinstance(d, float) else str(d).lower() if isinstance(d, bool) \
            else str(d)
        rows.append(f"| `{k.key}` | {k.type.__name__} | {shown} | {k.unit} | {k.doc} |")
    return "\n".join(rows) + "\n"
