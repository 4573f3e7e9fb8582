"""What kind of network file a path holds (sniffed from its first bytes, not its name) and whether a
.pbf extract is complete: the checks :func:`coverage.io.network.load_network` runs before reading,
so a wrong ``network.source``, a saved error page or a download that stopped early gets a message
naming the file and the fix instead of a parser's traceback."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


#: what each sniffed file kind is, and the network.source that reads it
_KINDS = {"pbf": ("an OSM .pbf extract", "pbf"), "osm": ("an OSM XML file", "osm"),
          "graphml": ("a GraphML network", "graphml"), "shapefile": ("a shapefile", "roads"),
          "gpkg": ("a GeoPackage", "roads"), "geojson": ("a GeoJSON file", "roads"),
          "gzip": ("a gzip-compressed file", None), "bzip2": ("a bzip2-compressed file", None),
          "zip": ("a zip archive", None), "html": ("a web page (an error page saved instead of the data?)", None),
          "empty": ("an empty file (0 bytes)", None), "unknown": ("a file of unknown format", None)}
#: the file kinds each source can read
_READS = {"pbf": {"pbf"}, "osm": {"osm", "gzip", "bzip2"}, "graphml": {"graphml"},
          "roads": {"shapefile", "gpkg", "geojson", "zip", "unknown"}}


def sniff_network_file(path) -> str:
    """The kind of a network file from its first bytes (not its name): pbf, osm, graphml, shapefile,
    gpkg, geojson, gzip, bzip2, zip, html, empty or unknown."""
    path = Path(path)
    if path.is_dir():
        return "unknown"
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head:
        return "empty"
    if len(head) > 16 and head[4:15] == b"\n\tOSMHeader":
        return "pbf"
    if head[:4] == b"\x00\x00\x27\x0a":
        return "shapefile"
    if head[:16] == b"SQLite format 3\x00":
        return "gpkg"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n").lower()
    if "<graphml" in text:
        return "graphml"
    if "<osm" in text:
        return "osm"
    if text.startswith("<!doctype html") or text.startswith("<html") or "<html" in text[:300]:
        return "html"
    if text.startswith("{") and '"type"' in text and ("featurecollection" in text or '"features"' in text):
        return "geojson"
    return "unknown"


def _varint(buf, i):
    shift = value = 0
    while True:
        if i >= len(buf):
            raise ValueError("varint past the end")
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def pbf_truncation(path) -> str | None:
    """Why an .osm.pbf file is cut short (None when its blocks add up to its size).

    The file is a chain of blocks: a 4-byte header length, a BlobHeader (whose field 3 is the size
    of the data that follows), then the data. A download that stopped early ends inside a block."""
    path = Path(path)
    size = path.stat().st_size
    pos = blocks = 0
    with open(path, "rb") as fh:
        while pos < size:
            head = fh.read(4)
            if len(head) < 4:
                return f"it ends inside the header of block {blocks + 1} (byte {pos:,} of {size:,})"
            n = int.from_bytes(head, "big")
            if n <= 0 or n > 64 * 1024:
                return f"block {blocks + 1} has an impossible header size ({n}) at byte {pos:,}"
            hdr = fh.read(n)
            if len(hdr) < n:
                return f"it ends inside the header of block {blocks + 1} (byte {pos:,} of {size:,})"
            datasize, i = None, 0
            try:
                while i < len(hdr):
                    key, i = _varint(hdr, i)
                    field, wire = key >> 3, key & 7
                    if wire == 0:
                        val, i = _varint(hdr, i)
                        if field == 3:
                            datasize = val
                    elif wire == 2:
                        ln, i = _varint(hdr, i)
                        i += ln
                    else:
                        return f"block {blocks + 1} has an unreadable header at byte {pos:,}"
            except ValueError:
                return f"block {blocks + 1} has an unreadable header at byte {pos:,}"
            if datasize is None:
                return f"block {blocks + 1} has no data size at byte {pos:,}"
            end = pos + 4 + n + datasize
            if end > size:
                return (f"its last block needs {end - size:,} more bytes: the file has {size:,} bytes, its blocks "
                        f"{end:,}")
            fh.seek(end)
            pos = end
            blocks += 1
    return None


def _check_kind(source, path):
    """Stop when the file is not what network.source says, naming the source that reads it."""
    kind = sniff_network_file(path)
    if kind == "pbf" and source == "pbf":
        why = pbf_truncation(path)
        if why:
            raise InputError(f"the .osm.pbf file is truncated: {why}", file=str(path), field="network.path",
                             fix="download the extract again (the download stopped early) and check its size "
                                 "against the one on the download page")
    if kind in _READS.get(source, {kind}):
        return kind
    what, right = _KINDS[kind]
    if kind == "empty":
        raise InputError("the network file is empty (0 bytes)", file=str(path), field="network.path",
                         fix="download or export the network again (an interrupted download leaves an empty file)")
    if right is not None:
        raise InputError(f"network.source is '{source}' but the file is {what}", file=str(path),
                         field="network.source", fix=f"set network.source: {right}"
                         + (" (a road centreline layer)" if right == "roads" else ""))
    raise InputError(f"network.source is '{source}' but the file is {what}", file=str(path), field="network.path",
                     fix={"pbf": "give the .osm.pbf extract (e.g. from download.geofabrik.de or BBBike)",
                          "osm": "give an OSM XML export (.osm)", "graphml": "give a GraphML file saved by osmnx",
                          "roads": "give a shapefile, GeoPackage or GeoJSON of road centrelines"}.get(
                              source, "give a network file") + ("; unzip the archive first" if kind == "zip" else ""))
