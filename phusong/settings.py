"""Defaults in one place: CRS, radio bands and thresholds, costs, targets.

Every figure here is an engineering assumption or a published target (``FACTS.md`` §2 and §6)
and is configurable: these module constants are the *defaults* of the one settings object,
:class:`phusong.config.Settings`, which a scenario TOML and ``--set key=value`` override
(:func:`phusong.planning.scenario.load_scenario`); code reads that object, not these names.

Examples
--------
>>> from phusong import settings
>>> settings.WORK_CRS
'EPSG:32648'
>>> settings.THRESHOLDS_DBM["4G"]
-110.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "STORE_CRS",
    "WORK_CRS",
    "VN2000_CRS",
    "EXPORT_CRS",
    "PROVINCE_CODE",
    "PROVINCE_NAME",
    "OPERATORS",
    "TECHS",
    "BANDS_MHZ",
    "THRESHOLDS_DBM",
    "GOOD_THRESHOLDS_DBM",
    "MAX_RADIUS_KM",
    "DEFAULT_MODEL",
    "FIBRE_REACH_M",
    "Radio",
    "RADIO",
    "P1812Settings",
    "P1812",
    "Costs",
    "COSTS",
    "PlanningCosts",
    "PLANNING_COSTS",
    "Target",
    "TARGETS",
    "PLAN785_BUDGET_VND",
    "PROVINCE_BBOX",
    "PERSONS_PER_HOUSEHOLD",
    "CENSUS_EXCESS_FACTOR",
    "BANDS_5G_BY_OPERATOR",
    "SWITCH_OFF_YEAR",
    "on_air",
    "ROAD_CLASSES",
    "ROAD_COST_FACTOR",
    "LOCATION_SIGMA_DB",
    "RELIABILITY_PCT",
    "INDOOR",
    "Indoor",
    "INTERFERENCE",
    "Interference",
    "MAX_VOID_BRIDGE_M",
    "DEM_MIN_COMMUNE_SHARE",
    "MAX_RASTER_BYTES",
    "LOCAL_MEMORY_SHARE",
    "MILP_REL_GAP",
    "MILP_NODE_LIMIT",
    "SITING_RESTARTS",
    "Dask",
    "DASK",
]

#: Storage and exchange CRS (lon, lat order, always).
STORE_CRS = "EPSG:4326"
#: The one metric CRS for distances, areas and profiles (UTM 48N, no datum shift from 4326).
WORK_CRS = "EPSG:32648"
#: VN-2000 CRSs met at the edges (FACTS §5), code → name.
VN2000_CRS = {
    "EPSG:9211": "VN-2000 / TM-3 106-00 (Hòa Bình provincial grid)",
    "EPSG:3405": "VN-2000 / UTM 48N",
    "EPSG:9208": "VN-2000 / TM-3 104-45 (former Phú Thọ)",
    "EPSG:5897": "VN-2000 / TM-3 zone 482 (former Vĩnh Phúc)",
    "EPSG:4756": "VN-2000 geographic",
}
#: CRSs ``phusong export`` offers.
EXPORT_CRS = ("EPSG:4326", "EPSG:32648", "EPSG:3405", "EPSG:9211")

PROVINCE_CODE = "17"
PROVINCE_NAME = "Hòa Bình"
#: Lon/lat box that holds the province with a margin (min lon, min lat, max lon, max lat), degrees.
PROVINCE_BBOX = (104.8, 20.25, 106.0, 21.2)
#: Persons per household of the province, 2019 census (FACTS §1: 854,131 people, ≈ 221,000
#: households, 3.86): households of a village whose population comes from a population raster.
PERSONS_PER_HOUSEHOLD = 3.86
#: Villages whose households exceed their commune's census this many times over are warned
#: about at import (wrong commune code, or a count of persons in the households column).
CENSUS_EXCESS_FACTOR = 3.0

#: Mobile operators, canonical spelling.
OPERATORS = ("Viettel", "VNPT", "MobiFone", "Vietnamobile")
TECHS = ("2G", "3G", "4G", "5G")

#: Typical downlink centre frequencies per technology and band label, MHz (FACTS §6).
BANDS_MHZ: dict[str, dict[str, float]] = {
    "2G": {"GSM900": 947.5, "DCS1800": 1842.5},
    "3G": {"B1": 2140.0},
    "4G": {"B3": 1842.5, "B8": 947.5, "B28": 780.0},
    "5G": {"n28": 780.0, "n41": 2595.0, "n78": 3750.0},
}

#: 5G band of each operator's licence (FACTS §6: Viettel 2500–2600 MHz, VNPT 3700–3800 MHz,
#: MobiFone 3800–3900 MHz); ``"shared"`` is a new tower built for every operator, modelled with
#: the highest (shortest-reaching) licensed band. An operator without an entry has no 5G band.
#: ``n28`` (700 MHz) is licensed to nobody: a scenario may add it as an assumed low band.
BANDS_5G_BY_OPERATOR: dict[str, str] = {"Viettel": "n41", "VNPT": "n78", "MobiFone": "n78",
                                        "shared": "n78"}

#: Year each network is switched off (FACTS §6 and §8): GSM to 15 Sept 2026, 3G Sept 2028. A
#: report year describes the network on 31 December, so a technology is on air in report year
#: ``y`` only when ``y < SWITCH_OFF_YEAR[tech]`` (:func:`on_air`).
SWITCH_OFF_YEAR: dict[str, int] = {"2G": 2026, "3G": 2028}

def on_air(tech: str, year: int) -> bool:
    """True when ``tech`` still runs on 31 December of ``year`` (:data:`SWITCH_OFF_YEAR`).

    >>> on_air("2G", 2025), on_air("2G", 2026), on_air("3G", 2027), on_air("4G", 2040)
    (True, False, True, True)
    """
    return year < SWITCH_OFF_YEAR.get(tech, 10_000)


#: Covered thresholds, dBm: RxLev (2G), RSCP (3G), RSRP (4G), SS-RSRP (5G) (FACTS §6).
THRESHOLDS_DBM: dict[str, float] = {"2G": -100.0, "3G": -105.0, "4G": -110.0, "5G": -105.0}
#: "Good" thresholds, dBm.
GOOD_THRESHOLDS_DBM: dict[str, float] = {"2G": -90.0, "3G": -95.0, "4G": -100.0, "5G": -95.0}
#: Maximum transmitter–receiver distance considered per technology, km (keeps work sparse).
MAX_RADIUS_KM: dict[str, float] = {"2G": 25.0, "3G": 15.0, "4G": 20.0, "5G": 8.0}
#: Propagation model used when none is named (coverage, calibration of the twin, planning).
DEFAULT_MODEL = "itm"
#: Fibre counts as available to a household within this distance along roads, m.
FIBRE_REACH_M = 500.0


#: Longest stretch of a terrain profile without DEM heights (voids, or off the DEM) that is
#: bridged by straight interpolation, m. A longer one could hide a ridge: the path is flagged,
#: not interpolated, and a receiver it leaves without coverage is ``unknown`` (engineering
#: assumption: 500 m ≈ 5 SRTM3 pixels, narrower than the ridges that shadow a valley).
MAX_VOID_BRIDGE_M = 500.0
#: The importer warns when the DEM covers less than this share of a commune's area, and names
#: those communes: villages off the DEM are scored ``unknown``, not uncovered.
DEM_MIN_COMMUNE_SHARE = 0.99
#: Memory guard of the raster readers: a band whose header claims more than this many bytes
#: (as float64) is refused before any pixel is read, bytes (2 GiB; Hòa Bình at 30 m is ~40 MB).
MAX_RASTER_BYTES = 2 * 1024**3
#: Share of the machine's physical memory the local coverage executor may need for its
#: whole-grid arrays (``coverage._grid_mask.local_bytes_per_cell``: ≈ 0.9 kB per cell on the
#: twin with 2 threads); a larger grid is refused up front and pointed to dask.
LOCAL_MEMORY_SHARE = 0.8

#: Deterministic stopping rules of the siting optimisers (issue 18): the answer depends on the
#: instance only, never on the machine's speed or load. The exact MILP stops at this relative
#: gap (HiGHS ``mip_rel_gap``) ...
MILP_REL_GAP = 1e-7
#: ... or after this many branch-and-bound nodes (HiGHS ``node_limit``), keeping the best
#: answer and reporting its certified gap. A wall-clock ``time_limit_s`` is only a guard the
#: user sets; when it acts, the result says ``stopped_by_time_limit``.
MILP_NODE_LIMIT = 2000
#: Seeded perturbation restarts of the swap local search (always all of them).
SITING_RESTARTS = 8


@dataclass(frozen=True)
class Radio:
    """Macro-site and receiver defaults (FACTS §6).

    Attributes
    ----------
    tower_height_m : float
        Default antenna height above ground, m.
    tx_power_dbm : float
        Transmitter power, dBm.
    antenna_gain_dbi : float
        Antenna gain, dBi.
    eirp_dbm : float
        Default EIRP, dBm (per reference signal for 4G/5G after the RS offset).
    rx_height_m : float
        Receiver height above ground, m.
    k_factor : float
        Effective earth-radius factor for profiles.
    sector_beamwidth_deg : float
        Horizontal 3 dB beamwidth of the standard sector pattern, degrees.
    front_to_back_db : float
        Maximum attenuation of the sector pattern, dB.
    rs_offset_db : float
        Power per reference signal below total EIRP for 4G/5G (RSRP-equivalent), dB.
    reliability_pct : float
        Percentage of locations the levels and covered flags hold for (50 = medians), %
        (:data:`RELIABILITY_PCT`).
    """

    tower_height_m: float = 30.0
    tx_power_dbm: float = 43.0
    antenna_gain_dbi: float = 16.0
    eirp_dbm: float = 57.0
    rx_height_m: float = 1.5
    k_factor: float = 4.0 / 3.0
    sector_beamwidth_deg: float = 65.0
    front_to_back_db: float = 25.0
    rs_offset_db: float = 27.8
    reliability_pct: float = 50.0


RADIO = Radio()


@dataclass(frozen=True)
class P1812Settings:
    """Inputs of ITU-R P.1812 in the engine (``--model p1812``) for Việt Nam's northern
    uplands.

    The ITU's digital maps (DN50, N050 of P.1812 / P.453) may not be redistributed and are
    not here, so ``delta_n`` and ``n0`` are round planning values for a humid tropical inland
    climate (ΔN 50 N-units/km, N0 375 N-units), **not** read from those maps for Hòa Bình;
    a user with the maps should replace them with the path-centre values of their copy (the
    loss moves little with N0, which enters troposcatter only, and more with ΔN through the
    effective Earth radius).

    Attributes
    ----------
    delta_n : float
        Average radio-refractivity lapse rate through the lowest 1 km, N-units/km (ΔN).
    n0 : float
        Sea-level surface refractivity, N-units (used by troposcatter only).
    time_pct, location_pct : float
        p (1–50 %, ``--time-pct``) and pL (1–99 %): 50/50 gives the median the other models
        give. Coverage runs set pL to their ``reliability_pct`` (``--reliability-pct``, the
        one location percentage of every model; :meth:`EngineOptions.p1812_params`).
    sigma_l_db : float or None
        Location-variability standard deviation σL, dB. None (default): §4.10 eq. (68) per
        receiver, ``(0.52 + 0.024 f_GHz) · wa^0.28 · uh`` with ``wa`` =
        ``location_area_m`` and ``uh`` from the receiver height and the clutter height R at
        the receiver (1 dB to 2.5 dB for mobile bands); 0 turns location variability off.
        The location percentage pL is the run's ``--reliability-pct`` (one location
        percentage for every model); at 50 % Lloc = 0 whatever σL.
    location_area_m : float
        ``wa`` of eq. (68): the side of the square over which location variability applies, m
        (the Recommendation's own example resolution, 100 m).
    clutter_height_m : float
        Representative clutter height R of every intermediate profile point, m (§3.2), where
        the bundle has no ``landcover.tif`` (or off it). Default 0 m: P.1812's "open/rural"
        category (Table 2); set 15 m for "urban/trees/forest". With a land-cover raster R
        comes from its classes per profile point (:mod:`phusong.coverage.p1812._surface`).
    zone : int
        Radio-climatic zone of every profile point without land cover: 4 inland (Hòa Bình
        lies > 100 km from the sea), 3 coastal land, 1 sea.
    polarization : str
        ``vertical`` (mobile base stations) or ``horizontal``.
    coast_km : float
        Distance over land from either terminal to the coast, km (dct = dcr; 500 = far), for a
        path that crosses no sea point (with sea points on the path, dct and dcr are measured
        along it).
    sea_min_area_km2 : float
        With land cover: a connected body of "permanent water" becomes zone 1 (sea) when it
        covers at least this area, km²; smaller water is inland (zone 4). P.1812 Table 3
        counts as sea "seas, oceans and other large bodies of water (i.e. covering a circle of
        at least 100 km in diameter)": π·50² ≈ 7,854 km². Set 0 on a coastal bundle whose
        raster clips the sea.
    coastal_km, coastal_height_m : float
        Coastal land (zone 3): land within ``coastal_km`` of a sea pixel and at most
        ``coastal_height_m`` above mean sea level (Table 3: 50 km, 100 m).
    maps : object or None
        :class:`phusong.coverage.p1812.RefractivityMaps` read from the user's copy of the ITU
        maps (``--p1812-maps DIR``): ΔN and N0 are then interpolated at each path centre and
        ``delta_n``/``n0`` are not used.
    """

    delta_n: float = 50.0
    n0: float = 375.0
    time_pct: float = 50.0
    location_pct: float = 50.0
    sigma_l_db: float | None = None
    location_area_m: float = 100.0
    clutter_height_m: float = 0.0
    zone: int = 4
    polarization: str = "vertical"
    coast_km: float = 500.0
    sea_min_area_km2: float = 7854.0
    coastal_km: float = 50.0
    coastal_height_m: float = 100.0
    maps: object = None


P1812 = P1812Settings()

USD_VND = 25_500.0


@dataclass(frozen=True)
class Costs:
    """Unit costs, VND (FACTS §6, converted at 25,500 VND/USD).

    Attributes
    ----------
    new_site_vnd : float
        New rural macro site (tower, power, equipment), VND.
    upgrade_site_vnd : float
        5G/4G upgrade of an existing tower, VND.
    fibre_aerial_vnd_per_km, fibre_buried_vnd_per_km : float
        Fibre build cost per route-km, VND.
    ftth_vnd_per_home : float
        Access network (distribution, drop and CPE) per home newly passed, VND; added to the
        route cost of every household a fibre extension brings within reach.
    low_band_radio_vnd : float
        An extra low-band radio (e.g. n28 at 700 MHz) on a 5G site, VND (≈ 15,000 USD).
    small_cell_vnd : float
        A fallback small cell on a light mast with its power (solar + battery), VND
        (≈ 30,000 USD).
    microwave_hop_vnd : float
        One point-to-point microwave link (both ends, licence) as a small cell's backhaul, VND
        (≈ 15,000 USD).
    satellite_vnd_per_household : float
        A satellite broadband terminal installed in one household (capex only), VND
        (≈ 600 USD).
    usd_vnd : float
        Exchange rate, VND per USD.
    """

    new_site_vnd: float = 150_000 * USD_VND
    upgrade_site_vnd: float = 40_000 * USD_VND
    fibre_aerial_vnd_per_km: float = 5_000 * USD_VND
    fibre_buried_vnd_per_km: float = 13_000 * USD_VND
    ftth_vnd_per_home: float = 700 * USD_VND
    low_band_radio_vnd: float = 15_000 * USD_VND
    small_cell_vnd: float = 30_000 * USD_VND
    microwave_hop_vnd: float = 15_000 * USD_VND
    satellite_vnd_per_household: float = 600 * USD_VND
    usd_vnd: float = USD_VND


COSTS = Costs()


@dataclass(frozen=True)
class PlanningCosts:
    """Costs the plan adds to :class:`Costs` (engineering assumptions, VND); a scenario's
    ``[costs]`` table sets them beside the unit costs.

    Attributes
    ----------
    power_line_vnd_per_km : float
        Medium-voltage line to a new site far from roads, VND per km (≈ 15,000 USD/km).
    power_free_m : float
        A new site within this distance of a road is fed from the road's line at no extra
        cost, m.
    backhaul_missing_vnd_per_km : float
        Backhaul priced per km when no road path to the fibre exists (microwave-equivalent),
        VND per km.
    sharing_markup : float
        A new tower shared by every operator costs this fraction more than a single operator's
        (their radios, power and rent; :mod:`phusong.planning.siting`), fraction.
    """

    power_line_vnd_per_km: float = 15_000 * USD_VND
    power_free_m: float = 500.0
    backhaul_missing_vnd_per_km: float = 10_000 * USD_VND
    sharing_markup: float = 0.2


PLANNING_COSTS = PlanningCosts()


@dataclass(frozen=True)
class Dask:
    """The dask.distributed executor of ``--workers`` / ``--scheduler``
    (:class:`phusong.coverage.DaskExecutor`).

    Attributes
    ----------
    connect_timeout_s : float
        How long to wait for a ``--scheduler`` to answer, or for the LocalCluster of
        ``--workers`` to start, before the run stops with "cannot connect", s (a scheduler
        across a slow network may need more; a scheduler that is down is reported after this
        long).
    """

    connect_timeout_s: float = 10.0


DASK = Dask()

#: Plan 785 budget lines 2022–2025, VND (FACTS §3).
PLAN785_BUDGET_VND = {"fibre": 45_000e6, "mobile": 440_000e6}


@dataclass(frozen=True)
class Target:
    """One coverage target (FACTS §2).

    Attributes
    ----------
    indicator : str
        What is measured: ``fibre_available``, ``mobile_4G``, ``mobile_5G``, ``fibre_commune``…
    denominator : str
        ``households``, ``population``, ``villages`` or ``communes``.
    threshold_pct : float
        Share to reach, percent.
    year : int
        Year the target applies to.
    origin : str
        Where the target was published.
    """

    indicator: str
    denominator: str
    threshold_pct: float
    year: int
    origin: str = ""


TARGETS: tuple[Target, ...] = (
    Target("fibre_available", "households", 80.0, 2025, "Plan 785 §II.2.d"),
    Target("fibre_commune", "communes", 100.0, 2025, "Plan 785 §II.2.d"),
    Target("mobile_4G", "population", 100.0, 2025, "Plan 785 (universal 4G/5G)"),
    Target("fibre_available", "households", 100.0, 2030, "Plan 785 §II.3.c"),
    Target("mobile_5G", "population", 100.0, 2030, "Plan 785 §II.3.c"),
    Target("mobile_5G", "population", 99.0, 2030, "QĐ 805/QĐ-TTg (national)"),
)


#: Road classes of the bundle's roads layer, from main to minor.
ROAD_CLASSES = ("national", "provincial", "district", "commune", "track")
#: Multiplier on the aerial fibre cost per km by road class: main roads have poles and
#: right-of-way along them; commune roads and tracks in the mountains need new poles and clearing
#: (engineering assumption, configurable).
ROAD_COST_FACTOR: dict[str, float] = {
    "national": 1.0,
    "provincial": 1.0,
    "district": 1.1,
    "commune": 1.25,
    "track": 1.6,
}


# ---- radio realism (issue 17) ----------------------------------------------------------------
#: Default reliability: percentage of locations where the predicted level must be reached.
RELIABILITY_PCT = RADIO.reliability_pct
#: Lognormal location variability (shadow fading) σ per environment for the empirical models,
#: dB: 3GPP TR 38.901 Table 7.4.1-1 (RMa NLOS 8 dB, UMa NLOS 6 dB); suburban and open take
#: the rural value. Margin at p % of locations: z(p) σ.
LOCATION_SIGMA_DB: dict[str, float] = {"rural": 8.0, "open": 8.0, "suburban": 8.0,
                                       "urban": 6.0, "large_city": 6.0}


@dataclass(frozen=True)
class Indoor:
    """Indoor coverage: ITU-R P.2109 building entry loss.

    Attributes
    ----------
    building_class : str
        ``traditional`` (Hòa Bình's brick and wood houses) or ``thermally-efficient``.
    probability_pct : float
        Probability that the entry loss is not exceeded, % (50 = median building).
    elevation_deg : float
        Path elevation at the façade, degrees (0 for terrestrial links).
    """

    building_class: str = "traditional"
    probability_pct: float = 50.0
    elevation_deg: float = 0.0


INDOOR = Indoor()


@dataclass(frozen=True)
class Interference:
    """Downlink SINR from co-channel cells of the same operator and band.

    Attributes
    ----------
    load_factor : float
        Fraction of the interferers' resource elements occupied (0–1).
    noise_figure_db : float
        UE noise figure, dB (TR 38.901-style link budgets use 7–9 dB).
    sinr_min_db : dict
        SINR a 4G/5G cell needs to count as covered when the scenario asks for it, dB.
    """

    load_factor: float = 0.5
    noise_figure_db: float = 7.0
    sinr_min_db: dict = field(default_factory=lambda: {"4G": -3.0, "5G": -3.0})


INTERFERENCE = Interference()
