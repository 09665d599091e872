"""Cells' antennas: names in the cells table resolved to patterns of the bundle's antennas/."""

from __future__ import annotations

import numpy as np
import pandas as pd

from phusong.errors import DataError

__all__ = ["attach_antennas", "antenna_folder"]


def antenna_folder(bundle):
    """The bundle's ``antennas/`` folder, or None (in-memory bundle or no folder)."""
    path = getattr(bundle, "path", None)
    if path is None:
        return None
    folder = path / "antennas"
    return folder if folder.is_dir() else None


def attach_antennas(tx: pd.DataFrame, bundle) -> None:
    """Resolve ``tx["antenna"]`` into ``tx.attrs["antennas"]`` (name → Antenna), in place.

    Empty names keep the legacy sector pattern (``tilt_deg`` then tilts its vertical beam);
    other names are files of ``antennas/`` beside the bundle or parametric (``3gpp-65``).

    Raises
    ------
    DataError
        A cell names an antenna the bundle lacks (row and name in the message).
    """
    from phusong.coverage.msi import antenna_by_name

    names = tx["antenna"].fillna("").astype(str).str.strip()
    tx["antenna"] = names
    found = {}
    folder = antenna_folder(bundle)
    for name in pd.unique(names[names != ""]):
        try:
            found[name] = antenna_by_name(name, folder)
        except DataError as exc:
            row = int(np.flatnonzero((names == name).to_numpy())[0])
            raise DataError(f"cells: row {row + 1} ({tx['cell_id'].iloc[row]}): {exc}") from None
    tx.attrs["antennas"] = found
