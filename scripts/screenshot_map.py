"""Screenshot a generated map page in headless Chromium (offline; nothing is downloaded).

    python scripts/screenshot_map.py MAP.html OUT.png [--width 1400 --height 900]

Needs the Debian packages ``chromium`` and ``chromium-driver`` (/usr/bin/chromium,
/usr/bin/chromedriver) and the Python package ``selenium``. Selenium Manager is never used:
the driver path is given explicitly and SE_OFFLINE is set. Tile and CDN requests fail when
the machine is offline; Leaflet itself is inlined in the page, so the vector layers still draw.
tests/test_map_browser.py uses the helpers below.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = "install Debian packages chromium chromium-driver (apt-get install -y chromium chromium-driver)"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")

# Finds the folium map object (a global named map_<id>) and reports whether it has loaded.
FIND_MAP_JS = """
window.__lcMap = window.__lcMap || (function () {
  if (typeof L === 'undefined') { return null; }
  for (const k of Object.keys(window)) {
    if (k.startsWith('map_') && window[k] instanceof L.Map) { return window[k]; }
  }
  return null;
})();
"""


def missing_browser() -> str | None:
    """Why the browser cannot run here (None if it can)."""
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not (Path(exe).is_file() and os.access(exe, os.X_OK)):
            return f"{exe} not found: {INSTALL_HINT}"
    return None


def open_browser(profile_dir: str | Path, width: int = 1400, height: int = 900):
    """Start headless Chromium through /usr/bin/chromedriver with a fresh profile in `profile_dir`.

    The viewport is forced to exactly width x height CSS pixels at device scale 1, and the
    browser console log is kept (driver.get_log("browser")).
    """
    os.environ["SE_OFFLINE"] = "true"          # Selenium Manager must never try the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={Path(profile_dir).resolve()}")
    opts.add_argument(f"--window-size={width},{height}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        driver.set_page_load_timeout(60)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    except Exception:
        driver.quit()
        raise
    return driver


def load_map(driver, html: str | Path, timeout: float = 30.0) -> None:
    """Open the map page via file:// and wait until Leaflet has loaded the map and finished the
    zoom animation of fitBounds (before that the canvas layer is a CSS-scaled, blurred bitmap)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(html).resolve().as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
        FIND_MAP_JS + "return document.readyState === 'complete' && "
        "!!window.__lcMap && window.__lcMap._loaded === true && !window.__lcMap._animatingZoom;"))
    # two animation frames: the canvas/SVG renderer draws on the frame after the last add
    driver.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));")


def screenshot(html: str | Path, out_png: str | Path, width: int = 1400, height: int = 900) -> Path:
    """Render `html` in headless Chromium and write a width x height PNG to `out_png`."""
    why = missing_browser()
    if why:
        raise RuntimeError(why)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="lc-chromium-")
    driver = open_browser(profile, width, height)
    try:
        load_map(driver, html)
        if not driver.save_screenshot(str(out_png)):
            raise RuntimeError(f"Chromium could not write the screenshot {out_png}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return out_png


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", help="map.html written by `python -m coverage run`")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    a = ap.parse_args(argv)
    if not Path(a.html).is_file():
        print(f"{a.html}: no such file; make it with `python -m coverage run --config ... --out DIR`",
              file=sys.stderr)
        return 2
    try:
        out = screenshot(a.html, a.out, a.width, a.height)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
