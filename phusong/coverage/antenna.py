"""Antenna patterns and their 3-D gain: measured cuts (MSI/Planet files) and the 3GPP sector.

An :class:`Antenna` holds a horizontal and a vertical cut of attenuation below the maximum
(dB ≥ 0), as in MSI/Planet files, or the 3GPP parametric sector pattern. :func:`gain_db` turns
(bearing, elevation) of receivers into the gain relative to boresight (dB ≤ 0) for a cell's
azimuth, mechanical tilt and electrical tilt.

Conventions
-----------
- Horizontal angle φ: degrees clockwise from the boresight seen from above (the bearing minus
  the azimuth). An MSI horizontal cut is read with the same sense (its angle 0 is boresight).
- Vertical angle θ: degrees **below** the horizontal (0 horizon, 90 nadir, −90 zenith), as in
  MSI vertical cuts (angle 90 points to the ground) and as a downtilt is counted.
- Mechanical downtilt β rotates the whole antenna about its horizontal axis perpendicular to the
  boresight (an exact rotation: behind the antenna the beam tilts up, at ±90° it rolls), so the
  antenna-frame angles are ``x' = x cos β − z sin β``, ``y' = y``, ``z' = x sin β + z cos β``
  for the receiver direction ``(x, y, z) = (cos e cos φ, cos e sin φ, sin e)``, elevation e
  up.
- Electrical tilt shifts the vertical cut only: the cut is read at ``θ' − (etilt − TILT)``
  where TILT is the tilt already built into the file (0 for the parametric pattern).

Combination rule (3-D from two cuts)
------------------------------------
``"3gpp"`` (default): ``A(φ, θ) = min(A_H(φ) + A_V(θ), A_m)`` — the rule of 3GPP TR 38.901
Table 7.3-1 (and TR 36.814 Table A.2.1.1-2), ``A = −min(−(A_H + A_V), A_m)`` in their sign
convention, applied to the measured cuts with the front half of the vertical cut
(|θ| ≤ 90°) and ``A_m`` the deepest attenuation of the horizontal cut (its front-to-back).
``"sum"``: ``A = A_H(φ) + A_V(θ)`` without the cap — the plain summing approximation that
Gil, Claudio & Ortigoso (IEEE Antennas Propag. Mag. 43(2), 2001, "A 3D interpolation method for
base-station-antenna radiation patterns") take as their reference method; it over-attenuates
off-axis behind the antenna.

Examples
--------
>>> a = parametric_3gpp()
>>> round(float(gain_db(a, 32.5, 0.0)[0]), 6)   # half the 65° beamwidth off boresight
-3.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phusong.config import DEFAULT_SETTINGS
from phusong.errors import ModelError

__all__ = ["Antenna", "COMBINATION_RULES", "gain_db", "parametric_3gpp", "antenna_angles"]

#: Accepted 3-D combination rules (see the module notes).
COMBINATION_RULES = ("3gpp", "sum")


@dataclass(frozen=True)
class Antenna:
    """An antenna pattern.

    Attributes
    ----------
    name : str
        Pattern name (file NAME or ``3gpp-<beamwidth>``).
    gain_dbi : float
        Maximum gain, dBi.
    horizontal_db, vertical_db : numpy.ndarray or None
        Attenuation below the maximum (dB ≥ 0) at ``angles_deg`` of each cut; None for the
        parametric pattern.
    h_angles_deg, v_angles_deg : numpy.ndarray or None
        Cut angles, degrees in [0, 360), strictly increasing.
    tilt_deg : float
        Electrical downtilt already in the vertical cut, degrees.
    frequency_mhz : float
        Frequency of the pattern, MHz (NaN when unknown).
    params : dict
        Parametric pattern: ``h_beamwidth_deg``, ``v_beamwidth_deg``, ``front_to_back_db``,
        ``sla_db``.
    rule : str
        3-D combination rule (``3gpp`` or ``sum``).
    """

    name: str
    gain_dbi: float
    horizontal_db: np.ndarray | None = None
    vertical_db: np.ndarray | None = None
    h_angles_deg: np.ndarray | None = None
    v_angles_deg: np.ndarray | None = None
    tilt_deg: float = 0.0
    frequency_mhz: float = float("nan")
    params: dict = field(default_factory=dict)
    rule: str = "3gpp"

    @property
    def parametric(self) -> bool:
        """True for the analytic 3GPP pattern."""
        return self.horizontal_db is None

    @property
    def front_to_back_db(self) -> float:
        """A_m: the cap of the 3GPP rule, dB."""
        if self.parametric:
            return float(self.params["front_to_back_db"])
        return float(np.max(self.horizontal_db))

    def horizontal_attenuation_db(self, phi_deg) -> np.ndarray:
        """A_H(φ) ≥ 0 for φ clockwise from boresight, degrees."""
        phi = (np.asarray(phi_deg, float) + 180.0) % 360.0 - 180.0
        if self.parametric:
            p = self.params
            return np.minimum(12.0 * (phi / p["h_beamwidth_deg"]) ** 2, p["front_to_back_db"])
        return _interp_cut(self.h_angles_deg, self.horizontal_db, phi)

    def vertical_attenuation_db(self, theta_down_deg, etilt_deg=None) -> np.ndarray:
        """A_V(θ) ≥ 0 for θ below the horizontal, degrees, with electrical tilt ``etilt_deg``.

        ``etilt_deg`` None or NaN keeps the pattern's own tilt.
        """
        th = np.asarray(theta_down_deg, float)
        et = np.full(th.shape, self.tilt_deg) if etilt_deg is None else np.where(
            np.isnan(etilt_deg), self.tilt_deg, etilt_deg)
        if self.parametric:
            p = self.params
            return np.minimum(12.0 * ((th - et) / p["v_beamwidth_deg"]) ** 2, p["sla_db"])
        return _interp_cut(self.v_angles_deg, self.vertical_db, th - (et - self.tilt_deg))


def _interp_cut(angles, values, query_deg):
    """Linear interpolation on a closed circular cut (period 360°)."""
    return np.interp(np.asarray(query_deg, float) % 360.0, angles, values, period=360.0)


def parametric_3gpp(h_beamwidth_deg: float | None = None, *, v_beamwidth_deg: float = 10.0,
                    front_to_back_db: float | None = None, sla_db: float = 20.0,
                    gain_dbi: float | None = None) -> Antenna:
    """The 3GPP parametric sector antenna (TR 36.814 Table A.2.1.1-2; TR 38.901 Table 7.3-1).

    ``A_H(φ) = min(12 (φ/φ3dB)², A_m)``, ``A_V(θ) = min(12 ((θ − θtilt)/θ3dB)², SLA_V)``,
    ``A = min(A_H + A_V, A_m)``. Defaults are TR 36.814's macro values (θ3dB 10°, SLA_V 20 dB)
    with φ3dB and A_m from ``settings.RADIO`` (65°, 25 dB); TR 38.901 uses θ3dB 65°,
    SLA_V 30 dB, A_m 30 dB.

    Parameters
    ----------
    h_beamwidth_deg, v_beamwidth_deg : float
        3 dB beamwidths, degrees.
    front_to_back_db, sla_db : float
        A_m and SLA_V, dB.
    gain_dbi : float, optional
        Boresight gain (default ``settings.RADIO.antenna_gain_dbi``).
    """
    # a named pattern ("3gpp-65"): the published sector defaults, not a run's settings
    radio = DEFAULT_SETTINGS.radio
    hb = float(h_beamwidth_deg or radio.sector_beamwidth_deg)
    fb = float(front_to_back_db or radio.front_to_back_db)
    for label, v in (("horizontal beamwidth", hb), ("vertical beamwidth", v_beamwidth_deg),
                     ("front-to-back", fb), ("side-lobe level", sla_db)):
        if not np.isfinite(v) or v <= 0:
            raise ModelError(f"3GPP antenna: {label} {v!r} must be > 0")
    return Antenna(name=f"3gpp-{hb:g}", gain_dbi=float(
        radio.antenna_gain_dbi if gain_dbi is None else gain_dbi),
        params=dict(h_beamwidth_deg=hb, v_beamwidth_deg=float(v_beamwidth_deg),
                    front_to_back_db=fb, sla_db=float(sla_db)))


def antenna_angles(bearing_deg, azimuth_deg, elevation_down_deg, mtilt_deg=0.0):
    """Receiver direction in the antenna's frame: (φ clockwise from boresight, θ below), degrees.

    Exact rotation by the mechanical downtilt ``mtilt_deg`` about the antenna's horizontal axis
    (see the module notes). NaN tilt counts as 0.
    """
    phi = np.radians(np.asarray(bearing_deg, float) - np.asarray(azimuth_deg, float))
    e = -np.radians(np.asarray(elevation_down_deg, float))  # elevation, up positive
    b = np.radians(np.nan_to_num(np.asarray(mtilt_deg, float)))
    x, y, z = np.cos(e) * np.cos(phi), np.cos(e) * np.sin(phi), np.sin(e)
    xr = x * np.cos(b) - z * np.sin(b)
    zr = x * np.sin(b) + z * np.cos(b)
    phi_r = np.degrees(np.arctan2(y, xr))
    theta_r = -np.degrees(np.arcsin(np.clip(zr, -1.0, 1.0)))
    return phi_r, theta_r


def gain_db(antenna: Antenna, bearing_deg, azimuth_deg, elevation_down_deg=0.0,
            mtilt_deg=0.0, etilt_deg=None) -> np.ndarray:
    """Gain relative to boresight towards receivers, dB (≤ 0).

    Parameters
    ----------
    antenna : Antenna
        Pattern.
    bearing_deg : array_like
        Bearing from the antenna to the receiver, degrees clockwise from north.
    azimuth_deg : array_like
        Boresight azimuth, degrees (NaN = omni: horizontal attenuation 0).
    elevation_down_deg : array_like
        Receiver angle below the horizontal at the antenna, degrees.
    mtilt_deg, etilt_deg : array_like
        Mechanical and electrical downtilt, degrees (NaN = 0 / the pattern's own tilt).

    Returns
    -------
    numpy.ndarray
        ``−A(φ', θ')`` by the antenna's combination rule, dB.
    """
    if antenna.rule not in COMBINATION_RULES:
        raise ModelError(f"antenna {antenna.name!r}: rule {antenna.rule!r} unknown; use "
                         f"{' or '.join(COMBINATION_RULES)}")
    b, az, el, mt = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, float)) for v in (
        bearing_deg, azimuth_deg, elevation_down_deg, mtilt_deg)))
    omni = np.isnan(az)
    phi, theta = antenna_angles(b, np.where(omni, 0.0, az), el, mt)
    et = None if etilt_deg is None else np.broadcast_to(np.asarray(etilt_deg, float), b.shape)
    ah = np.where(omni, 0.0, antenna.horizontal_attenuation_db(phi))
    av = antenna.vertical_attenuation_db(theta, et)
    total = ah + av
    if antenna.rule == "3gpp":
        total = np.minimum(total, antenna.front_to_back_db)
    return -total
