"""`make screenshots` works: against a fresh `cdp dev` it seeds its data set, signs in as each
role and takes each view; a second picture of a view whose content did not change keeps the
file as it was (times and profile ids left out of its fingerprint)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tools.screenshots import VIEWS, WIDTH, fingerprint_of, take, with_fingerprint

pytestmark = pytest.mark.e2e


def test_the_main_views_are_taken_and_kept_when_unchanged(tmp_path: Path) -> None:
    # given an earlier run's pictures
    wanted = [view for view in VIEWS if view.name in ("search", "profile-masked", "audit")]
    take(wanted, tmp_path)
    before = {view.name: (tmp_path / f"{view.name}.png").read_bytes() for view in wanted}

    # when the views are taken again from a fresh cdp dev (new profile ids, later times)
    outcomes = take(wanted, tmp_path)

    # then every picture is there, 1280 pixels wide, and none was written again
    assert all(outcome.startswith("unchanged") for outcome in outcomes.values()), outcomes
    for name, png in before.items():
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        (width,) = struct.unpack(">I", png[16:20])  # the header chunk's first field
        assert width == WIDTH
        assert fingerprint_of(png) is not None
        assert (tmp_path / f"{name}.png").read_bytes() == png


def test_a_fingerprint_travels_in_the_png() -> None:
    png = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 0)
        + b"IHDR"
        + struct.pack(">I", 0)
        + struct.pack(">I", 0)
        + b"IEND"
        + struct.pack(">I", 0xAE426082)
    )
    assert fingerprint_of(png) is None
    marked = with_fingerprint(png, "abc123")
    assert fingerprint_of(marked) == "abc123"
    assert marked.endswith(b"IEND" + struct.pack(">I", 0xAE426082))
