"""Asset bundling without Docker: our code is pure Python, so bundling is a copy."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

ROOT = Path(__file__).resolve().parents[2]
_IGNORED = ("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


@jsii.implements(cdk.ILocalBundling)
class CopyInto:
    """Copies `source` to `<asset>/<target>`, leaving out `exclude` (glob patterns)."""

    def __init__(self, source: Path, target: str, exclude: tuple[str, ...] = ()) -> None:
        self.source = source
        self.target = target
        self.exclude = exclude

    def try_bundle(self, output_dir: str, *, image: Any = None, **_: Any) -> bool:
        shutil.copytree(
            self.source,
            Path(output_dir) / self.target,
            ignore=shutil.ignore_patterns(*_IGNORED, *self.exclude),
            dirs_exist_ok=True,
        )
        return True


def copied_asset(source: Path, target: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword arguments for `Code.from_asset` that bundle by copying, never with Docker."""
    return {
        "path": str(source),
        "exclude": [*_IGNORED, *exclude],
        "bundling": cdk.BundlingOptions(
            # Required by the API but never pulled: local bundling always succeeds.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=CopyInto(source, target, exclude),
        ),
    }
