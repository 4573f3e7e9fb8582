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


def dilate(words, rects, cols: int) -> np.ndarray:
    """Binary dilation of a packed grid of ``cols`` columns by a disc given as centred rectangles
    [(half_height, half_width), ...] (``circle_raster._disc_rects``); cells beyond the grid stay 0,
    as in ``scipy.ndimage.binary_dilation`` of the unpacked grid."""
    words = np.asarray(words, dtype=_U)
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
    z = np.zeros((1, nw), _U)
    lr = np.concatenate([z, words])             # framed row i: the grid's row i - 1
    ur = np.concatenate([words, z])             # framed row i + 1: the grid's row i
    one = np.uint64(1)
    ll = _toward_high(lr, 1)                    # the cell left of each (framed column j - 1 ... )
    ul = _toward_high(ur, 1)
    mixed = (ll ^ lr) | (ll ^ ur) | (ll ^ ul)
    # the set bits: nonzero words, their nonzero bytes, then each byte's bits from a table
    flat = mixed.reshape(-1)
    wat = np.flatnonzero(flat)
    byt = flat[wat].view(np.uint8)
    at = np.flatnonzero(byt)
    val = byt[at]
    word = wat[at >> 3]
    row, col = np.divmod(word, nw)
    col = col * WORD + (at & 7) * 8
    cnt = _POPCOUNT[val]
    tot = int(cnt.sum())
    rank = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    bit = _BIT_OF.reshape(-1)[np.repeat(val.astype(np.int64) * 8, cnt) + rank]
    pb = np.repeat(word * 8 + (at & 7), cnt)

    def corner(x):
        return (x.view(np.uint8).reshape(-1)[pb] >> bit) & np.uint8(1)

    case = corner(ll)
    case |= corner(lr) << np.uint8(1)
    case |= corner(ur) << np.uint8(2)
    case |= corner(ul) << np.uint8(3)
    out = np.repeat(row, cnt), np.repeat(col, cnt) + bit, case
    if not locator:
        return out
    before = np.zeros(flat.size + 1, np.int64)
    before[wat + 1] = _popcount(flat[wat])
    np.cumsum(before, out=before)                  # boundary quads before each word

    def locate(i, j):
        w = i * nw + (j >> 6)
        low = flat[w] & ((np.uint64(1) << (j & 63).astype(_U)) - np.uint64(1))
        return before[w] + _popcount(low)

    return out, locate


# per byte value: how many bits are set, and which (ascending; 8 = none)
_POPCOUNT = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1).astype(np.int64)
_BIT_OF = np.full((256, 8), 8, np.uint8)
for _v in range(256):
    _b = [k for k in range(8) if _v >> k & 1]
    _BIT_OF[_v, : len(_b)] = _b
