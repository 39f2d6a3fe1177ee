"""A real browser for the plan's review page (issue 20): headless Chromium (Debian's ``chromium`` package) loads a
file and gives back its DOM after the scripts ran, what it logged to the console, or a screenshot.

Each call starts its own Chromium with a fresh, throw-away profile and everything that would reach the network
switched off (updates, sync, QUIC), so runs never clash and a page that asked for anything remote would show it as
a console error. One call takes about a second. ``samples/make_samples.py`` takes the README's screenshot with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["REQUIRE_ENV", "Loaded", "chromium", "load", "screenshot"]

REQUIRE_ENV = "BULKIO_REQUIRE_CHROMIUM"
"""When set (``.ci/run`` sets it), a missing Chromium fails the tests that need it instead of skipping them."""

_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars", "--enable-logging=stderr", "--v=0")
_TIMEOUT = 120.0


class BrowserError(RuntimeError):
    """Chromium is missing or did not finish."""


@dataclass(frozen=True)
class Loaded:
    """A page as Chromium left it: the DOM after its scripts ran, and every console message it logged."""

    dom: str
    console: list[str]


def chromium() -> str | None:
    """The Chromium executable on PATH (``chromium``, Debian's name, or ``chromium-browser``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(page: Path, *args: str, fragment: str = "") -> subprocess.CompletedProcess[str]:
    program = chromium()
    if program is None:
        raise BrowserError("Chromium is not on PATH: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="bulkio-chromium-") as profile:
        command = [program, *_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri() + fragment]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT,
                              env={**os.environ, "TZ": "UTC"})
    if done.returncode != 0:
        raise BrowserError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done


def _console(stderr: str) -> list[str]:
    """The console's messages in Chromium's log (``INFO:CONSOLE(12)] "message", source: ...``), uncaught errors
    included."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def load(page: Path, *, fragment: str = "") -> Loaded:
    """Open `page` (at `fragment`, ``#q=...``: already quoted) and return its DOM (``--dump-dom``) and console
    messages."""
    done = _run(page, "--dump-dom", fragment=fragment)
    return Loaded(done.stdout, _console(done.stderr))


def screenshot(page: Path, png: Path, *, width: int = 1100, height: int = 1200) -> Path:
    """A PNG of `page` as a `width` x `height` window shows it; returns `png`."""
    png.unlink(missing_ok=True)
    _run(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if not png.exists():
        raise BrowserError(f"chromium wrote no screenshot of {page.name}")
    return png
