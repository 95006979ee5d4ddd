"""Render reports/index.html in headless Chromium and save a PNG, to see the page as a person does.

    python -m scripts.screenshot_report [--html reports/index.html] [--png reports/index.png]

Needs Debian's `chromium` package (apt-get install chromium).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common.cli import positive_int, run_main
from common.console import log
from common.errors import UserError

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 4000, timeout: float = 60) -> Path:
    """Render ``html`` (a local file) to ``png``; raises UserError when Chromium is missing or fails."""
    browser = find_chromium()
    if browser is None:
        raise UserError("no Chromium found; install it (apt-get install chromium) to take screenshots.")
    with tempfile.TemporaryDirectory() as profile:
        command = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                   f"--screenshot={png.resolve()}", html.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 or not png.is_file():
        raise UserError(f"Chromium could not render {html}: {result.stderr.strip()[-300:]}")
    return png


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.screenshot_report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html", default="reports/index.html")
    parser.add_argument("--png", default="reports/index.png")
    parser.add_argument("--width", type=positive_int, default=1280)
    parser.add_argument("--height", type=positive_int, default=4000)
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> int:
    png = screenshot(Path(args.html), Path(args.png), args.width, args.height)
    log.info("wrote %s", png)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
