"""Input checks and canonical forms shared by the siting models.

Input convention (built by the network module, never dense):

* ``cover`` — ``scipy.sparse`` matrix, n_candidates × n_demand. A stored entry means "demand point j
  is within the walking threshold of candidate i"; its value is the walking distance in metres
  (explicit zeros are allowed and mean distance 0). Duplicate stored (i, j) pairs keep the shortest.
* ``weights`` — population (or households) per demand point, finite and ≥ 0.
* ``already_covered`` — demand points covered by existing facilities. Existing facilities always
  stay; their population counts in the rates but gives no credit to a new site.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from coverage.errors import InputError


def _canonical(matrix, name: str):
    """Return (indptr, indices, data, shape) of a CSR copy: sorted indices, duplicates -> min."""
    if not sp.issparse(matrix):
        raise InputError(
            f"{name} must be a scipy.sparse matrix (candidates × demand), got {type(matrix).__name__}",
            field=name,
            fix="build it sparsely, e.g. scipy.sparse.csr_array((dist, (cand, dem)), shape=...); "
                "never pass a dense matrix (the models' from_cost_matrix accepts dense arrays)")
    if matrix.ndim != 2:
        raise InputError(f"{name} must be 2-dimensional", field=name, fix="pass candidates × demand")
    csr = sp.csr_array(matrix)
    n_rows, n_cols = csr.shape
    data = np.asarray(csr.data, dtype=np.float64)
    if data.size and (not np.all(np.isfinite(data)) or data.min() < 0):
        raise InputError(f"{name} stores distances that are negative, NaN or infinite", field=name,
                         fix="store only reachable pairs, with their walking distance in metres (≥ 0)")
    indptr = np.asarray(csr.indptr, dtype=np.int64)
    indices = np.asarray(csr.indices, dtype=np.int64)
    if csr.has_canonical_format:
        return indptr, indices, data, (n_rows, n_cols)
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
    order = np.lexsort((data, indices, rows))
    rows, indices, data = rows[order], indices[order], data[order]
    keep = np.ones(rows.size, dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (indices[1:] != indices[:-1])
    rows, indices, data = rows[keep], indices[keep], data[keep]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, indices, data, (n_rows, n_cols)


def _check_weights(weights, n: int, name: str = "weights") -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise InputError(f"{name} has {w.size} values but the matrix has {n} demand columns",
                         field=name, fix="pass one weight per demand point, in column order")
    if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
        raise InputError(f"{name} must be finite and ≥ 0", field=name,
                         fix="replace missing population with 0 and check for negative values")
    return w


def _check_covered(already_covered, n: int) -> np.ndarray:
    if already_covered is None:
        return np.zeros(n, dtype=bool)
    a = np.asarray(already_covered)
    if a.shape != (n,):
        raise InputError(f"already_covered has shape {a.shape}, expected ({n},)",
                         field="already_covered", fix="pass one boolean per demand point")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise InputError("already_covered must be boolean (or 0/1)", field="already_covered",
                             fix="pass True where an existing facility already covers the point")
        a = a.astype(bool)
    return a


def _check_method(method: str) -> str:
    if method not in ("auto", "exact", "greedy"):
        raise InputError(f"unknown method {method!r}", field="method",
                         fix="use 'auto', 'exact' or 'greedy'")
    return method


def _check_count(value, name: str, minimum: int, what: str) -> int:
    """A whole number ≥ ``minimum`` (bools refused)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise InputError(f"{name} must be a whole number ≥ {minimum}, got {value!r}", field=name,
                         fix=f"pass the number of {what}")
    return int(value)


def _check_sites(sites, n_cand: int, name: str) -> np.ndarray:
    """Candidate indices (or a boolean mask over candidates) -> sorted unique int64 indices."""
    if sites is None:
        return np.zeros(0, dtype=np.int64)
    a = np.asarray(sites).reshape(-1)
    if a.dtype == bool:
        if a.size != n_cand:
            raise InputError(f"{name} is a mask of {a.size} values for {n_cand} candidates",
                             field=name, fix="pass one boolean per candidate, or candidate indices")
        return np.flatnonzero(a).astype(np.int64)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise InputError(f"{name} must hold candidate indices (whole numbers)", field=name,
                         fix="pass the row positions of the existing facilities among the candidates")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= n_cand):
        raise InputError(f"{name} contains indices outside 0..{n_cand - 1}", field=name,
                         fix="pass candidate row positions (add existing facilities as candidates)")
    if np.unique(a).size != a.size:
        raise InputError(f"{name} lists a candidate twice", field=name, fix="remove duplicates")
    return np.sort(a)


def _int_scale(total: float) -> float:
    """Scale turning population into integers whose sums stay exact in float64 (< 2**52)."""
    if total <= 0:
        return 1.0
    return float(min(1e6, 10.0 ** math.floor(math.log10(2.0 ** 52 / total))))


def _segment_sums(values_at_entries: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sum per CSR row of an array aligned with the stored entries (empty rows -> 0)."""
    n = indptr.size - 1
    out = np.zeros(n, dtype=values_at_entries.dtype)
    nonempty = np.flatnonzero(indptr[1:] > indptr[:-1])
    if nonempty.size:
        out[nonempty] = np.add.reduceat(values_at_entries, indptr[nonempty])
    return out


@dataclass
class _Instance:
    """A checked coverage instance: CSR pattern, weights and what is already covered."""

    indptr: np.ndarray
    indices: np.ndarray
    n_cand: int
    n_dem: int
    weights: np.ndarray
    covered: np.ndarray
    w_eff: np.ndarray       # float weight still to cover
    w_int: np.ndarray       # integer-valued (float64) micro-units of w_eff
    scale: float
    total: float
    before: float
    reach: np.ndarray       # demand reached by at least one candidate
    existing: np.ndarray    # candidate rows already built (their demand is in ``covered``)


def _prepare(cover, weights, already_covered, existing=None) -> _Instance:
    """Check a coverage instance. ``existing``: candidate rows already built — the demand they
    reach joins ``already_covered``."""
    indptr, indices, _, (n_c, n_d) = _canonical(cover, "cover")
    w = _check_weights(weights, n_d)
    cov = _check_covered(already_covered, n_d).copy()
    ex = _check_sites(existing, n_c, "existing")
    if ex.size:
        lens = np.diff(indptr)[ex]
        offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        cov[indices[np.repeat(indptr[ex], lens) + offs]] = True
    total = float(w.sum())
    if total <= 0:
        raise InputError("all demand weights are zero: there is no population to cover",
                         field="weights", fix="attach population (or households) to demand points")
    w_eff = np.where(cov, 0.0, w)
    scale = _int_scale(total)
    w_int = np.round(w_eff * scale)
    reach = np.zeros(n_d, dtype=bool)
    reach[indices] = True
    return _Instance(indptr, indices, n_c, n_d, w, cov, w_eff, w_int, scale, total,
                     float(w[cov].sum()), reach, ex)
