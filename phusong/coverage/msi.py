"""MSI/Planet antenna pattern files (``.msi``, ``.pln``, ``.txt``): read and write.

The format is plain text: header lines ``KEY value`` (``NAME``, ``MAKE``, ``FREQUENCY`` in MHz,
``H_WIDTH``, ``V_WIDTH``, ``FRONT_TO_BACK``, ``GAIN`` in dBd unless followed by ``dBi``,
``TILT`` (electrical, degrees; ``TILT ELECTRICAL 6`` also read), ``POLARIZATION``, ``COMMENT``)
then ``HORIZONTAL n`` and ``VERTICAL n`` each followed by n lines ``angle attenuation``:
angles 0…359 (or any strictly increasing set in [0, 360)), attenuation in dB below the maximum
written **positive** (0 at the maximum). Horizontal angle 0 is the boresight; vertical angle 0
is the horizon and 90 the ground (see :mod:`phusong.coverage.antenna`).

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from phusong.coverage.antenna import parametric_3gpp
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.msi"
>>> write_msi(sampled(parametric_3gpp(), name="generic 65"), p)
>>> a = read_msi(p)
>>> a.name, round(a.gain_dbi, 2), a.horizontal_db.shape
('generic 65', 16.0, (360,))
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from phusong.atomic import atomic_path
from phusong.coverage.antenna import Antenna
from phusong.errors import FormatError, InputFileError

__all__ = ["DBD_TO_DBI", "antenna_by_name", "read_msi", "write_msi", "sampled"]

#: Gain of a half-wave dipole over isotropic, dB (dBi = dBd + 2.15).
DBD_TO_DBI = 2.15
#: Largest attenuation accepted in a cut, dB (deeper values are typos or gains in linear units).
MAX_ATTENUATION_DB = 100.0
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _num(tok, where):
    if not _NUMBER.match(tok):
        raise FormatError(f"{where}: {tok!r} is not a number")
    return float(tok)


def _gain_dbi(value: str, where: str) -> float:
    toks = value.split()
    if not toks:
        raise FormatError(f"{where}: GAIN has no value; write e.g. 'GAIN 17.5 dBi'")
    g = _num(toks[0], where)
    unit = toks[1].lower() if len(toks) > 1 else "dbd"
    if unit == "dbi":
        return g
    if unit == "dbd":
        return g + DBD_TO_DBI
    raise FormatError(f"{where}: GAIN unit {toks[1]!r} is ambiguous; write dBi or dBd "
                      f"(a bare number is dBd in this format, dBi = dBd + {DBD_TO_DBI})")


def _frequency_mhz(value: str, where: str) -> float:
    toks = value.split()
    if not toks:
        return float("nan")
    f = _num(toks[0], where)
    unit = toks[1].lower() if len(toks) > 1 else "mhz"
    scale = {"mhz": 1.0, "ghz": 1000.0, "khz": 1e-3, "hz": 1e-6}.get(unit)
    if scale is None:
        raise FormatError(f"{where}: FREQUENCY unit {toks[1]!r} unknown; use MHz or GHz")
    return f * scale


def _read_cut(lines, start, count, label, path):
    """Parse ``count`` lines ``angle attenuation`` from ``lines[start:]``."""
    if start + count > len(lines):
        raise FormatError(f"{path}: {label} declares {count} points but the file ends after "
                          f"{len(lines) - start}; the cut is incomplete")
    ang = np.empty(count)
    att = np.empty(count)
    for k in range(count):
        lineno, text = lines[start + k]
        where = f"{path}: line {lineno}"
        toks = text.split()
        if toks and toks[0].upper() in ("HORIZONTAL", "VERTICAL"):
            raise FormatError(f"{where}: {label} declares {count} points but only {k} precede "
                              f"{toks[0]}; the cut is incomplete")
        if len(toks) < 2:
            raise FormatError(f"{where}: {label} point {k + 1} of {count} needs 'angle "
                              f"attenuation', found {text.strip()!r}")
        ang[k], att[k] = _num(toks[0], where), _num(toks[1], where)
        if not 0.0 <= ang[k] < 360.0:
            raise FormatError(f"{where}: {label} angle {toks[0]} is outside [0, 360)")
        if k and ang[k] <= ang[k - 1]:
            raise FormatError(f"{where}: {label} angle {toks[0]} does not follow "
                              f"{ang[k - 1]:g}; angles must increase strictly")
        if att[k] < 0:
            raise FormatError(f"{where}: {label} value {toks[1]} is negative; MSI cuts hold "
                              "the attenuation below the maximum as positive dB (0 at the "
                              "maximum): drop the minus sign, or convert gains with max − g")
        if att[k] > MAX_ATTENUATION_DB:
            raise FormatError(f"{where}: {label} attenuation {toks[1]} dB exceeds "
                              f"{MAX_ATTENUATION_DB:g} dB; check the units of the cut")
    if att.min() > 1.0:
        raise FormatError(f"{path}: {label} cut never comes within 1 dB of its maximum "
                          f"(smallest value {att.min():g} dB); values must be relative to the "
                          "maximum (0 at boresight)")
    return ang, att


def read_msi(path) -> Antenna:
    """Read an MSI/Planet pattern file.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    Antenna
        Gain in dBi (converted from dBd when the file says so or gives no unit), both cuts.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    FormatError
        Missing GAIN or cut, incomplete cut, angles out of order or outside [0, 360), negative
        attenuation, an ambiguous gain unit; the message names the line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the antenna file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [(i + 1, t) for i, t in enumerate(text.splitlines()) if t.strip()]
    if not lines:
        raise FormatError(f"{path}: empty antenna file; expected an MSI/Planet pattern")
    head, cuts, i = {}, {}, 0
    while i < len(lines):
        lineno, t = lines[i]
        key, _, value = t.strip().partition(" ")
        key = key.upper()
        if key in ("HORIZONTAL", "VERTICAL"):
            where = f"{path}: line {lineno}"
            toks = value.split()
            n = int(_num(toks[0], where)) if toks else 0
            if n < 3:
                raise FormatError(f"{where}: {key} needs a point count (e.g. '{key} 360')")
            cuts[key] = _read_cut(lines, i + 1, n, key, path)
            i += n + 1
            continue
        head.setdefault(key, (lineno, value.strip()))
        i += 1
    for need in ("HORIZONTAL", "VERTICAL"):
        if need not in cuts:
            raise FormatError(f"{path}: no {need} cut; an MSI pattern needs both the "
                              "'HORIZONTAL 360' and 'VERTICAL 360' sections")
    if "GAIN" not in head:
        raise FormatError(f"{path}: no GAIN line; add e.g. 'GAIN 17.5 dBi'")
    lineno, gval = head["GAIN"]
    gain = _gain_dbi(gval, f"{path}: line {lineno}")
    tilt = 0.0
    if "TILT" in head or "ELECTRICAL_TILT" in head:
        lineno, tv = head.get("ELECTRICAL_TILT") or head["TILT"]
        toks = [t for t in tv.split() if t.upper() not in ("ELECTRICAL", "MECHANICAL")]
        if toks:
            tilt = _num(toks[0], f"{path}: line {lineno}")
    freq = float("nan")
    if "FREQUENCY" in head:
        lineno, fv = head["FREQUENCY"]
        freq = _frequency_mhz(fv, f"{path}: line {lineno}")
    name = head["NAME"][1] if "NAME" in head else lines[0][1].strip()
    (ha, hv), (va, vv) = cuts["HORIZONTAL"], cuts["VERTICAL"]
    return Antenna(name=name or path.stem, gain_dbi=gain, horizontal_db=hv, vertical_db=vv,
                   h_angles_deg=ha, v_angles_deg=va, tilt_deg=tilt, frequency_mhz=freq)


def sampled(antenna: Antenna, *, name: str | None = None, step_deg: float = 1.0) -> Antenna:
    """The antenna as two cuts sampled every ``step_deg`` (parametric → MSI-ready)."""
    ang = np.arange(0.0, 360.0, step_deg)
    h = antenna.horizontal_attenuation_db(ang)
    v = antenna.vertical_attenuation_db(np.where(ang > 180.0, ang - 360.0, ang),
                                        np.full(ang.shape, antenna.tilt_deg))
    return Antenna(name=name or antenna.name, gain_dbi=antenna.gain_dbi, horizontal_db=h,
                   vertical_db=v, h_angles_deg=ang, v_angles_deg=ang.copy(),
                   tilt_deg=antenna.tilt_deg, frequency_mhz=antenna.frequency_mhz)


def write_msi(antenna: Antenna, path) -> None:
    """Write a sampled antenna as an MSI/Planet file (gain in dBi), atomically."""
    if antenna.parametric:
        antenna = sampled(antenna)
    out = [f"NAME {antenna.name}"]
    if np.isfinite(antenna.frequency_mhz):
        out.append(f"FREQUENCY {antenna.frequency_mhz:g}")
    out += [f"GAIN {antenna.gain_dbi:.2f} dBi", f"TILT {antenna.tilt_deg:g}",
            f"HORIZONTAL {len(antenna.h_angles_deg)}"]
    out += [f"{a:g} {v:.2f}" for a, v in zip(antenna.h_angles_deg, antenna.horizontal_db,
                                             strict=True)]
    out.append(f"VERTICAL {len(antenna.v_angles_deg)}")
    out += [f"{a:g} {v:.2f}" for a, v in zip(antenna.v_angles_deg, antenna.vertical_db,
                                             strict=True)]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(out) + "\n", encoding="utf-8")


#: File extensions tried for a pattern named in a cells table.
PATTERN_EXTENSIONS = ("", ".msi", ".pln", ".txt", ".ant")


def antenna_by_name(name: str, folder=None) -> Antenna:
    """The antenna a cell names: ``3gpp-<beamwidth>`` (parametric) or a file of ``folder``.

    Raises
    ------
    DataError
        The name is neither a parametric pattern nor a file of the folder.
    """
    from phusong.coverage.antenna import parametric_3gpp
    from phusong.errors import DataError

    key = str(name).strip()
    m = re.fullmatch(r"3gpp(?:-(\d+(?:\.\d+)?))?", key.lower())
    if m:
        return parametric_3gpp(float(m.group(1)) if m.group(1) else None)
    if folder is not None:
        for ext in PATTERN_EXTENSIONS:
            p = Path(folder) / f"{key}{ext}"
            if p.is_file():
                return read_msi(p)
    where = f"{folder}" if folder is not None else "the bundle (it has no antennas/ folder)"
    raise DataError(f"antenna {key!r} is not in {where}; add the MSI file there or use a "
                    "parametric pattern such as '3gpp-65'")
