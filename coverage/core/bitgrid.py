"""Boolean rasters packed 64 cells to a word, for the life-circle raster
(:mod:`coverage.core.circle_raster`): the marks are dilated by a disc and the quads of their
outline found (:mod:`coverage.core.trace`) by bitwise operations on whole words, 64 cells at a
time, so a raster costs little more than its outline whatever its size.

Layout: row i of a (rows, cols) grid is ``words[i]``, a row of uint64; cell j is bit ``j % 64``
(least significant first) of word ``j // 64`` (``np.packbits(..., bitorder="little")`` read as
little-endian uint64); bits beyond ``cols`` are 0. Every function gives exactly what the same
operation on the unpacked boolean array gives (tested against it and against scipy.ndimage).
"""

from __future__ import annotations

import numpy as np

__all__ = ["WORD", "pack", "unpack", "dilate", "quads"]

WORD = 64
_U = np.dtype("<u8")


def n_words(cols: int) -> int:
    return -(-int(cols) // WORD)


def pack(mask) -> np.ndarray:
    """(rows, cols) booleans -> (rows, n_words(cols)) words. No copy of the mask when ``cols`` is a
    multiple of 64 (allocate masks that wide to save one)."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = mask.shape
    if cols % WORD:
        wide = np.zeros((rows, n_words(cols) * WORD), bool)
        wide[:, :cols] = mask
        mask = wide
    return np.packbits(mask, axis=1, bitorder="little").view(_U)


def unpack(words, cols: int) -> np.ndarray:
    """The (rows, cols) booleans of packed rows."""
    w = np.ascontiguousarray(words, dtype=_U)
    return np.unpackbits(w.view(np.uint8), axis=1, bitorder="little")[:, :cols].astype(bool)


def _toward_high(x, s):
    """Each cell takes the value of the cell ``s`` columns lower (0 from beyond the row)."""
    q, r = divmod(s, WORD)
    out = np.zeros_like(x)
    if q >= x.shape[1]:
        return out
    src = x[:, : x.shape[1] - q]
    if r == 0:
        out[:, q:] = src
        return out
    out[:, q:] = src << np.uint64(r)
    out[:, q + 1:] |= src[:, :-1] >> np.uint64(WORD - r)
    return out


def _toward_low(x, s):
    """Each cell takes the value of the cell ``s`` columns higher (0 from beyond the row)."""
    q, r = divmod(s, WORD)
    out = np.zeros_like(x)
    if q >= x.shape[1]:
        return out
    src = x[:, q:]
    if r == 0:
        out[:, : x.shape[1] - q] = src
        return out
    out[:, : x.shape[1] - q] = src >> np.uint64(r)
    out[:, : x.shape[1] - q - 1] |= src[:, 1:] << np.uint64(WORD - r)
    return out


def _vertical(x, h):
    """OR of the rows within ``h`` rows of each row (rows beyond the grid are 0)."""
    out = x.copy()
    n = x.shape[0]
    for s in range(1, min(h, n - 1) + 1):
        out[s:] |= x[:-s]
        out[:-s] |= x[s:]
    return out


#: Rows of words handled at once: a band and its temporaries stay in the processor's cache
#: (whole-array passes were two to three times slower on a county-wide raster).
BAND = 512


def dilate(words, rects, cols: int) -> np.ndarray:
    """Binary dilation of a packed grid of ``cols`` columns by a disc given as centred rectangles
    [(half_height, half_width), ...] (``circle_raster._disc_rects``); cells beyond the grid stay 0,
    as in ``scipy.ndimage.binary_dilation`` of the unpacked grid. In bands of rows (each with the
    rows within the disc's reach above and below it)."""
    words = np.asarray(words, dtype=_U)
    rows = words.shape[0]
    if rows <= BAND:
        return _dilate_block(words, rects, cols)
    reach = max((h for h, _ in rects), default=0)
    out = np.empty_like(words)
    for r0 in range(0, rows, BAND):
        r1 = min(r0 + BAND, rows)
        a0, a1 = max(r0 - reach, 0), min(r1 + reach, rows)
        out[r0:r1] = _dilate_block(words[a0:a1], rects, cols)[r0 - a0:r1 - a0]
    return out


def _dilate_block(words, rects, cols: int) -> np.ndarray:
    """:func:`dilate` of a whole block of rows."""
    horiz, cur, done = {}, words, 0
    for w in sorted({w for _, w in rects}):
        if w > done:
            cur = cur.copy()
            for s in range(done + 1, min(w, cols - 1) + 1):
                cur |= _toward_high(words, s)
                cur |= _toward_low(words, s)
            done = w
        horiz[w] = cur
    out = None
    for h, w in rects:
        part = _vertical(horiz[w], h) if h else horiz[w]
        out = part.copy() if out is None else np.bitwise_or(out, part, out=out)
    out = words.copy() if out is None else out
    last = n_words(cols)
    if cols % WORD and out.shape[1] >= last:
        out[:, last - 1] &= np.uint64((1 << (cols % WORD)) - 1)   # nothing beyond the last column
    out[:, last:] = 0
    return out


def _popcount(x):
    """Set bits of each uint64."""
    if hasattr(np, "bitwise_count"):                         # numpy >= 2.0
        return np.bitwise_count(x).astype(np.int64)
    return _POPCOUNT[np.ascontiguousarray(x, dtype=_U).view(np.uint8)].reshape(-1, 8).sum(axis=1)


def quads(words, cols: int, locator=False):
    """The boundary quads of a packed grid of ``cols`` columns, framed by one empty cell on every
    side (as ``trace.rings`` frames its grid): (i, j, case) row by row, quad (i, j) having the
    framed cells (i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j) as corners, i.e. the grid's cells
    (i - 1, j - 1) ... ; ``case`` has bit 0 = lower-left, 1 = lower-right, 2 = upper-right,
    3 = upper-left, and is neither 0 nor 15. With ``locator``, also a function giving the position
    in that list of boundary quads (i, j) (popcounts of the words before them, no search)."""
    words = np.asarray(words, dtype=_U)
    rows, nw = words.shape
    if nw * WORD < cols + 1 and nw and (words[:, -1] >> np.uint64(WORD - 1)).any():
        words = np.concatenate([words, np.zeros((rows, 1), _U)], axis=1)   # room for the last quad
        nw += 1
    mixed = np.empty((rows + 1, nw), _U)
    parts = []
    for i0 in range(0, rows + 1, BAND):             # framed rows i0..i1 - 1, a band at a time
        i1 = min(i0 + BAND, rows + 1)
        parts.append(_band_quads(words, i0, i1, mixed[i0:i1]))
    ii, jj, case = (np.concatenate([p[k] for p in parts]) for k in range(3))
    if not locator:
        return ii, jj, case
    flat = mixed.reshape(-1)
    wat = np.flatnonzero(flat)
    before = np.zeros(flat.size + 1, np.int64)
    before[wat + 1] = _popcount(flat[wat])
    np.cumsum(before, out=before)                  # boundary quads before each word

    def locate(i, j):
        w = i * nw + (j >> 6)
        low = flat[w] & ((np.uint64(1) << (j & 63).astype(_U)) - np.uint64(1))
        return before[w] + _popcount(low)

    return (ii, jj, case), locate


def _band_quads(words, i0, i1, mixed):
    """The boundary quads of framed rows i0..i1 - 1 (see :func:`quads`); their words of
    ``mixed`` (a set bit for each boundary quad) are written into ``mixed``."""
    rows, nw = words.shape
    z = np.zeros((1, nw), _U)
    lr = words[max(i0 - 1, 0):i1 - 1]           # framed row i: the grid's row i - 1
    if i0 == 0:
        lr = np.concatenate([z, lr])
    ur = words[i0:min(i1, rows)]                # framed row i + 1: the grid's row i
    if i1 == rows + 1:
        ur = np.concatenate([ur, z])
    ll = _toward_high(lr, 1)                    # the cell left of each (framed column j - 1 ... )
    ul = _toward_high(ur, 1)
    np.bitwise_xor(ll, lr, out=mixed)
    mixed |= ll ^ ur
    mixed |= ll ^ ul
    # the set bits: nonzero words, their nonzero bytes, then each byte's bits
    flat = mixed.reshape(-1)
    wat = np.flatnonzero(flat)
    byt = flat[wat].view(np.uint8)
    at = np.flatnonzero(byt)
    p = np.flatnonzero(np.unpackbits(byt[at], bitorder="little"))
    a = at[p >> 3]
    pb = wat[a >> 3] * 8 + (a & 7)              # the byte of each quad in the band
    bit = (p & 7).astype(np.uint8)

    def corner(x):
        return (x.view(np.uint8).reshape(-1)[pb] >> bit) & np.uint8(1)

    case = corner(ll)
    case |= corner(lr) << np.uint8(1)
    case |= corner(ur) << np.uint8(2)
    case |= corner(ul) << np.uint8(3)
    ii, jj = np.divmod(pb * 8 + bit, nw * WORD)
    return ii + i0, jj, case


# set bits of each byte value (for numpy < 2.0, which has no bitwise_count)
_POPCOUNT = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1).astype(np.int64)
