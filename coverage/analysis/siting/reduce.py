"""Reductions that shrink a coverage instance without changing its optimum.

Before the integer programme is built: demand that is already covered, weightless or out of reach
of every candidate is dropped; candidates that reach nothing are dropped; candidates with an
identical catchment keep only the lowest index; demand points with an identical set of candidates
(and group) are merged, weights summed; demand reached by a single candidate is folded into that
candidate's coefficient (``x_weight``) instead of getting a variable and a row.

Identical rows are found by two random 64-bit hashes per row and then verified entry by entry, so
a hash collision can only cost a missed merge, never a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .inputs import _Instance, _segment_sums

_HASH_SEED = 20240611


def _hash_rows(indptr, indices, n_cols):
    rng = np.random.default_rng(_HASH_SEED)
    r1 = rng.integers(0, np.iinfo(np.int64).max, size=n_cols, dtype=np.int64).astype(np.uint64)
    r2 = rng.integers(0, np.iinfo(np.int64).max, size=n_cols, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h1 = _segment_sums(r1[indices], indptr)
        h2 = _segment_sums(r2[indices] * np.uint64(2654435761), indptr)
    return h1, h2


def _identical_rows(indptr, indices, n_cols, extra=None) -> np.ndarray:
    """For each CSR row, the lowest-index row with exactly the same stored columns (and ``extra``)."""
    n = indptr.size - 1
    cnt = np.diff(indptr)
    h1, h2 = _hash_rows(indptr, indices, n_cols)
    extra = np.zeros(n, dtype=np.int64) if extra is None else np.asarray(extra, dtype=np.int64)
    order = np.lexsort((np.arange(n), h2, h1, cnt, extra))
    ks = (extra[order], cnt[order], h1[order], h2[order])
    start = np.ones(n, dtype=bool)
    if n > 1:
        start[1:] = np.any([k[1:] != k[:-1] for k in ks], axis=0)
    gid = np.cumsum(start) - 1
    rep = np.empty(n, dtype=np.int64)
    rep[order] = order[np.flatnonzero(start)][gid]
    # verify (hash collisions): members whose columns differ from their representative stay alone
    m = np.flatnonzero(rep != np.arange(n))
    if m.size:
        c = cnt[m]
        offs = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
        a = indices[np.repeat(indptr[m], c) + offs]
        b = indices[np.repeat(indptr[rep[m]], c) + offs]
        bad = np.zeros(m.size, dtype=bool)
        diff = (a != b).astype(np.int64)
        nz = np.flatnonzero(c > 0)
        if nz.size:
            bad[nz] = np.add.reduceat(diff, (np.cumsum(c) - c)[nz]) > 0
        rep[m[bad]] = m[bad]
    return rep


@dataclass
class _Reduced:
    cand: np.ndarray        # original candidate index of each reduced candidate
    R: sp.csr_array         # reduced candidates × merged demand (pattern), only multi-covered
    col_weight: np.ndarray  # float weight of each merged demand column
    col_group: np.ndarray   # group code of each merged demand column
    x_weight: np.ndarray    # (n_reduced_cand, G) weight folded from demand reached by one candidate
    nnz: int


def _reduce(inst: _Instance, codes: np.ndarray, G: int) -> _Reduced:
    n_c, n_d = inst.n_cand, inst.n_dem
    P = sp.csr_array((np.ones(inst.indices.size, dtype=np.int8), inst.indices, inst.indptr),
                     shape=(n_c, n_d))
    cols = np.flatnonzero((inst.w_int > 0) & inst.reach)
    Pc = P[:, cols].tocsr()
    Pc.sort_indices()
    ip, ix = Pc.indptr.astype(np.int64), Pc.indices.astype(np.int64)
    nonempty = np.flatnonzero(np.diff(ip) > 0)
    rep = _identical_rows(ip, ix, cols.size)
    keep = nonempty[rep[nonempty] == nonempty]
    Rk = Pc[keep].tocsc()
    Rk.sort_indices()
    # merge demand with an identical set of candidates (and group)
    cip, cix = Rk.indptr.astype(np.int64), Rk.indices.astype(np.int64)
    ccodes = codes[cols]
    crep = _identical_rows(cip, cix, keep.size, extra=ccodes)
    cnt = np.diff(cip)
    w = inst.w_eff[cols]
    single = cnt == 1
    x_weight = np.zeros((keep.size, G))
    if single.any():
        np.add.at(x_weight, (cix[cip[:-1][single]], ccodes[single]), w[single])
    multi_rep = np.flatnonzero((crep == np.arange(cols.size)) & ~single)
    agg = np.zeros(cols.size)
    np.add.at(agg, crep[~single], w[~single])
    R = Rk[:, multi_rep].tocsr()
    return _Reduced(keep, R, agg[multi_rep], ccodes[multi_rep], x_weight, int(Rk.nnz))


def _start_from(inst, red, order, pos, n_x):
    """A MIP start (x over reduced candidates, then y over merged demand) from original sites."""
    x = np.zeros(n_x)
    if order.size:
        # a greedy site dropped as a duplicate maps to its lowest-index twin, which is in red.cand
        P = pos[order]
        x[P[P >= 0]] = 1.0
    cov = (red.R.T @ x) > 0 if red.R.shape[1] else np.zeros(0, dtype=bool)
    return np.concatenate([x, cov.astype(np.float64)])
