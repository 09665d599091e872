"""CLI commands of the coverage area: ``phusong coverage BUNDLE`` and ``phusong coverage site``.

``coverage`` is a click group that also runs on a bundle when given one (``invoke_without_
command``), so both ``phusong coverage BUNDLE --out DIR`` and ``phusong coverage site …`` work.
"""

from __future__ import annotations

import click

from phusong import settings
from phusong.cli._cluster import cluster_options, open_executor
from phusong.cli._common import (
    command_errors,
    emit,
    json_option,
    progress,
    quiet_option,
    resolve_threads,
    run_settings,
    settings_options,
    skip_exit_collection,
    threads_option,
)

__all__ = ["COMMANDS", "coverage", "p1812_maps_option", "with_p1812_maps"]

_MODELS = click.Choice(["itm", "hata", "cost231", "38901", "fspl", "p1812"])
_DIFF = click.Choice(["deygout", "bullington", "none"])
#: ``--reliability-pct`` of ``coverage`` and ``coverage site`` (it sets radio.reliability_pct)
_reliability_option = click.option(
    "--reliability-pct", type=float, default=None,
    help="Percentage of locations the levels and covered flags hold for (ITM's time and "
    "location %, the lognormal margin of empirical models, P.1812's pL); in (0, 100), 1–99 "
    "for P.1812. Default the "
    f"settings' radio.reliability_pct ({settings.RELIABILITY_PCT:g}); given, it wins over "
    "--set.")


def p1812_maps_option(f):
    """``--p1812-maps DIR``: the user's ITU maps for P.1812 (coverage, gaps, plan)."""
    return click.option("--p1812-maps", "p1812_maps", default=None,
                        type=click.Path(file_okay=False),
                        help="P.1812: folder with your copy of the ITU maps DN50.TXT and "
                        "N050.TXT (not shipped); ΔN and N0 are then read at each path centre "
                        "instead of the settings' p1812.delta_n/p1812.n0.")(f)


def p1812_options(f):
    """``--time-pct``, ``--polarization``, ``--p1812-maps`` (``--model p1812`` only)."""
    f = p1812_maps_option(f)
    f = click.option("--polarization", type=click.Choice(["vertical", "horizontal"]),
                     default=None,
                     help="P.1812 polarisation; sets p1812.polarization (default "
                     f"{settings.P1812.polarization}) and wins over --set.")(f)
    f = click.option("--time-pct", type=float, default=None,
                     help="P.1812: percentage of time p the loss is not exceeded, 1–50; sets "
                     f"p1812.time_pct (default {settings.P1812.time_pct:g}) and wins over "
                     "--set. The location percentage is --reliability-pct (1–99 for "
                     "P.1812).")(f)
    return f


def _refuse_for_model(given: list[str], model: str, how: str = "add --model p1812") -> None:
    """P.1812 options given with another model: a one-line :class:`ModelError`."""
    if given and model != "p1812":
        from phusong.errors import ModelError

        raise ModelError(f"{', '.join(given)}: only for --model p1812 (this run's model is "
                         f"{model!r}); {how} or drop the option")


def with_p1812_maps(config, maps_dir, model: str, how: str = "add --model p1812"):
    """``config`` with the user's ITU maps of ``maps_dir`` in ``config.p1812.maps`` (read and
    checked now, before any heavy work); unchanged when ``maps_dir`` is None. Refused (one
    line) when the run's model is not P.1812."""
    if maps_dir is None:
        return config
    from dataclasses import replace

    from phusong.coverage.p1812._maps import read_p1812_maps

    _refuse_for_model(["--p1812-maps"], model, how)
    return replace(config, p1812=replace(config.p1812, maps=read_p1812_maps(maps_dir)))


def _run_config(scenario_path, sets, reliability_pct, model, time_pct, polarization, maps_dir):
    """The run's settings: defaults → ``--scenario`` → ``--set`` → the command's own options.

    ``--reliability-pct`` sets ``radio.reliability_pct``; ``--time-pct`` and ``--polarization``
    set ``p1812.time_pct`` and ``p1812.polarization`` (so the settings record says they came
    from the command line); ``--p1812-maps`` puts the user's ITU maps in ``config.p1812.maps``.
    The P.1812 options are refused for another model.
    """
    _refuse_for_model([k for k, v in (("--time-pct", time_pct), ("--polarization", polarization),
                                      ("--p1812-maps", maps_dir)) if v is not None], model)
    extra = [f"{k}={v!r}" for k, v in (("radio.reliability_pct", reliability_pct),
                                        ("p1812.time_pct", time_pct)) if v is not None]
    if polarization is not None:
        extra.append(f"p1812.polarization={polarization}")
    return with_p1812_maps(run_settings(scenario_path, (*sets, *extra)), maps_dir, model)


class _BundleOrSite(click.Group):
    """A group whose first argument is either the ``site`` subcommand or a bundle folder."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            ctx.meta["coverage_bundle"] = args[0]
            args = args[1:]
        return super().parse_args(ctx, args)


@click.group(cls=_BundleOrSite, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder.")
@click.option("--model", type=_MODELS, default=settings.DEFAULT_MODEL, show_default=True)
@click.option("--diffraction", type=_DIFF, default="bullington", show_default=True,
              help="Knife-edge method added to empirical models.")
@click.option("--resolution-m", type=float, default=100.0, show_default=True,
              help="Raster cell size, m (0 = villages only).")
@threads_option
@click.option("--itm-profile-cap", type=click.IntRange(min=0), default=None,
              help="ITM raster: resample longer paths to this many profile intervals for Δh "
              "(default 32; 0 = full profiles, slower).")
@click.option("--screen-margin-db", type=click.FloatRange(min=0), default=None,
              help="Raster: compute a site only where, on a 4× coarser grid, it came within "
              "this many dB of its operator's best site nearby (default 15; 0 = every site at "
              "every cell, slower).")
@_reliability_option
@click.option("--require-sinr", is_flag=True,
              help="4G/5G count as covered only where the SINR also reaches the settings' "
              "minimum (interference.sinr_min_db.4G/5G).")
@click.option("--no-sinr", is_flag=True,
              help="Skip the 4G/5G SINR and best-server margin rasters (faster).")
@click.option("--no-clutter", is_flag=True,
              help="Ignore the bundle's landcover.tif (ITU-R P.2108 terminal clutter; with "
              "--model p1812, its clutter heights and zones per profile point).")
@p1812_options
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@settings_options
@cluster_options
@json_option
@quiet_option
@click.pass_context
@command_errors
def coverage(ctx, out_dir, model, diffraction, resolution_m, threads, itm_profile_cap,
             screen_margin_db, reliability_pct, require_sinr, no_sinr, no_clutter, p1812_maps,
             polarization, time_pct, overwrite, scenario_path, sets, workers, scheduler,
             shared_dir, as_json, quiet):
    """Coverage of a bundle: phusong coverage BUNDLE --out DIR [options].

    Writes villages.csv (best signal per tech and operator, indoor, SINR), communes.csv
    (villages, households and population covered), best_dbm_/serving_site_/operators_/
    coverage_prob_{tech}.tif, sinr_db_/margin_db_{4G,5G}.tif and coverage.json (with the
    settings used and where each came from). See also: phusong coverage site --help (one
    site on any DEM), phusong settings (the keys of --set).
    """
    if ctx.invoked_subcommand is not None:
        return
    bundle_path = ctx.meta.get("coverage_bundle")
    if bundle_path is None:
        raise click.UsageError("give a bundle folder: phusong coverage BUNDLE --out DIR")
    if not out_dir:
        raise click.UsageError("missing --out DIR")
    from phusong.bundle import load_bundle
    from phusong.coverage import run_bundle

    config = _run_config(scenario_path, sets, reliability_pct, model, time_pct, polarization,
                         p1812_maps)
    bundle = load_bundle(bundle_path)
    n_sites = 0 if bundle.sites is None else len(bundle.sites)
    with open_executor(workers, scheduler, quiet=quiet or as_json,
                       shared_dir=shared_dir, config=config) as ex, \
            progress("coverage raster (sites)", n_sites, quiet=quiet or as_json or ex is not None
                     ) as advance:
        report = run_bundle(bundle, out_dir, model=model, diffraction=diffraction,
                            resolution_m=resolution_m or None, threads=resolve_threads(threads),
                            overwrite=overwrite, progress=advance, clutter=not no_clutter,
                            sinr=not no_sinr, require_sinr=require_sinr, executor=ex,
                            config=config,
                            **_cap(itm_profile_cap),
                            **({} if screen_margin_db is None
                               else {"screen_margin_db": screen_margin_db}))
    report["out"] = str(out_dir)
    lines = [f"coverage of {bundle.name!r} with {model}: {report['villages_covered_any']} of "
             f"{report['villages']['receivers']} villages covered by some operator",
             f"written to {out_dir} in {report['seconds']} s"]
    emit(report, as_json=as_json, lines=lines)


@coverage.command("site")
@click.option("--dem", "dem_path", required=True, type=click.Path(dir_okay=False),
              help="Elevation GeoTIFF (any CRS).")
@click.option("--lon", type=float, required=True, help="Site longitude, degrees.")
@click.option("--lat", type=float, required=True, help="Site latitude, degrees.")
@click.option("--height-m", type=float, required=True, help="Antenna height above ground, m.")
@click.option("--freq-mhz", type=float, required=True)
@click.option("--eirp-dbm", type=float, required=True)
@click.option("--radius-km", type=float, required=True)
@click.option("--resolution-m", type=float, required=True)
@click.option("--rx-height-m", type=float, default=None,
              help=f"Receiver height, m (default the settings' radio.rx_height_m, "
              f"{settings.RADIO.rx_height_m:g}).")
@click.option("--model", type=_MODELS, default=settings.DEFAULT_MODEL, show_default=True)
@click.option("--diffraction", type=_DIFF, default="bullington", show_default=True)
@threads_option
@click.option("--itm-profile-cap", type=click.IntRange(min=0), default=None,
              help="ITM raster: resample longer paths to this many profile intervals for Δh "
              "(default 32; 0 = full profiles, slower).")
@click.option("--antenna", "antenna_path", default=None,
              help="Antenna pattern: an MSI/Planet file, or 3gpp-65 (parametric sector). "
              "--eirp-dbm is then the boresight EIRP. Default: omni.")
@click.option("--azimuth-deg", type=float, default=None,
              help="Boresight azimuth, degrees clockwise from north (with --antenna).")
@click.option("--tilt-deg", type=float, default=None,
              help="Mechanical downtilt, degrees (with --antenna).")
@click.option("--etilt-deg", type=float, default=None,
              help="Electrical downtilt, degrees (with --antenna; default the file's TILT).")
@click.option("--landcover", "landcover_path", default=None, type=click.Path(dir_okay=False),
              help="ESA WorldCover GeoTIFF (any CRS): adds ITU-R P.2108 terminal clutter per "
              "receiver, as a bundle's landcover.tif does. Default: none.")
@_reliability_option
@p1812_options
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Output GeoTIFF of received power, dBm (WORK_CRS).")
@settings_options
@json_option
@command_errors
def site(dem_path, lon, lat, height_m, freq_mhz, eirp_dbm, radius_km, resolution_m,
         rx_height_m, model, diffraction, threads, itm_profile_cap, antenna_path, azimuth_deg,
         tilt_deg, etilt_deg, landcover_path, reliability_pct, p1812_maps, polarization,
         time_pct, out_path, scenario_path, sets,
         as_json):
    """Predict received power around one site on any DEM (for RF engineers)."""
    from phusong.coverage._site import predict_site, write_site_tif
    from phusong.raster import read_raster

    config = _run_config(scenario_path, sets, reliability_pct, model, time_pct, polarization,
                         p1812_maps)
    landcover = None if landcover_path is None else read_raster(landcover_path)
    rx, transform, report = predict_site(
        dem_path, lon, lat, height_m=height_m, freq_mhz=freq_mhz, eirp_dbm=eirp_dbm,
        radius_km=radius_km, resolution_m=resolution_m, model=model, diffraction=diffraction,
        rx_height_m=rx_height_m, threads=resolve_threads(threads), **_cap(itm_profile_cap),
        landcover=landcover, **_antenna(antenna_path, azimuth_deg, tilt_deg, etilt_deg),
        config=config)
    write_site_tif(out_path, rx, transform)
    skip_exit_collection()  # written and closed: exit without collecting numba's objects
    report["out"] = str(out_path)
    pl = report["path_loss_db"]
    emit(report, as_json=as_json, lines=[
        f"{report['receivers_evaluated']} receivers in {report['seconds']} s; path loss median "
        f"{pl['median']:.1f} dB (p05 {pl['p05']:.1f}, p95 {pl['p95']:.1f}) → {out_path}"])


def _antenna(path, azimuth_deg, tilt_deg, etilt_deg) -> dict:
    """``predict_site`` antenna keywords from the site options (issue 17)."""
    if path is None:
        if any(v is not None for v in (azimuth_deg, tilt_deg, etilt_deg)):
            raise click.UsageError("--azimuth-deg/--tilt-deg/--etilt-deg need --antenna "
                                   "(an MSI file or 3gpp-65)")
        return {}
    from pathlib import Path

    from phusong.coverage.msi import antenna_by_name, read_msi

    p = Path(path)
    ant = read_msi(p) if p.is_file() else antenna_by_name(path, p.parent)
    nan = float("nan")
    return {"antenna": ant, "azimuth_deg": nan if azimuth_deg is None else azimuth_deg,
            "tilt_deg": nan if tilt_deg is None else tilt_deg,
            "etilt_deg": nan if etilt_deg is None else etilt_deg}


def _cap(value) -> dict:
    """``itm_profile_cap`` keyword when given (the engine default otherwise)."""
    return {} if value is None else {"itm_profile_cap": value}


COMMANDS: list = [coverage]
