"""Asset bundling without Docker: our code is pure Python, so bundling it is a copy (and its
bytecode); the few third-party packages are installed from wheels built for the Lambda
platform."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NotRequired, TypedDict

import aws_cdk as cdk
import jsii

ROOT = Path(__file__).resolve().parents[2]
_IGNORED = ("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


class AssetOptions(TypedDict):
    """Keyword arguments for `Code.from_asset`."""

    path: str
    bundling: cdk.BundlingOptions
    exclude: NotRequired[list[str]]
    asset_hash_type: NotRequired[cdk.AssetHashType]
    asset_hash: NotRequired[str]


@functools.cache
def interpreter(version: str) -> str:
    """A Python of `version` ("3.13") on this machine: this one, `python3.13` on the path, or
    one that pyenv installed."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [
        sys.executable,
        shutil.which(f"python{version}"),  # a pyenv shim is here too, and may refuse
        *sorted(str(path) for path in pyenv.glob(f"versions/{version}.*/bin/python{version}")),
    ]
    for candidate in filter(None, candidates):
        answer = subprocess.run(  # noqa: S603 (a Python interpreter, our own arguments)
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    raise RuntimeError(
        f"bytecode for the Lambda runtime needs Python {version} to compile it: none found "
        f"(python{version} on the PATH, or under {pyenv}/versions)"
    )


def compile_bytecode(directory: Path, python: str) -> None:
    """Writes `__pycache__/*.pyc` beside every module under `directory`, as Python `python`
    ("3.13") reads them. Lambda's file system is read-only, so without them every cold start
    compiles the modules it imports again. The pycs are checked by nothing (unchecked-hash):
    a deployment package's timestamps are not the sources', so timestamp-checked pycs would
    be ignored, and the package never changes under them."""
    subprocess.run(  # noqa: S603 (a Python interpreter, our own arguments)
        [interpreter(python), "-m", "compileall", "-q", "--invalidation-mode",
         "unchecked-hash", str(directory)],
        check=True,
    )  # fmt: skip


@jsii.implements(cdk.ILocalBundling)
class CopyInto:
    """Copies `source` to `<asset>/<target>`, leaving out `exclude` (glob patterns), with the
    bytecode of Python `python` ("3.13")."""

    def __init__(
        self, source: Path, target: str, exclude: tuple[str, ...] = (), *, python: str
    ) -> None:
        self.source = source
        self.target = target
        self.exclude = exclude
        self.python = python

    def try_bundle(
        self, output_dir: str, *, image: cdk.DockerImage | None = None, **_: object
    ) -> bool:
        copied = Path(output_dir) / self.target
        shutil.copytree(
            self.source,
            copied,
            ignore=shutil.ignore_patterns(*_IGNORED, *self.exclude),
            dirs_exist_ok=True,
        )
        compile_bytecode(copied, self.python)
        return True


def copied_asset(
    source: Path, target: str, exclude: tuple[str, ...] = (), *, python: str
) -> AssetOptions:
    """Keyword arguments for `Code.from_asset` that bundle by copying and compiling for Python
    `python` ("3.13"), never with Docker."""
    excluded = [*_IGNORED, *exclude]
    # The sources and the Python the bytecode is for: another runtime is another asset.
    sources = cdk.FileSystem.fingerprint(str(source), exclude=excluded)
    return {
        "path": str(source),
        "exclude": excluded,
        "asset_hash_type": cdk.AssetHashType.CUSTOM,
        "asset_hash": hashlib.sha256(f"{sources} bytecode {python}".encode()).hexdigest(),
        "bundling": cdk.BundlingOptions(
            # Required by the API but never pulled: local bundling always succeeds.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=CopyInto(source, target, exclude, python=python),
        ),
    }


@jsii.implements(cdk.ILocalBundling)
class PipInstall:
    """Installs `requirements` for the Lambda platform into `<asset>/python`, with pip's
    `--platform` and `--only-binary` (wheels built for Linux; no Docker, no compiler). The
    result is kept under `.build/`, so that repeated synths do not download again."""

    def __init__(
        self,
        requirements: Path,
        *,
        python_version: str,
        architecture: str,
        prune: tuple[str, ...] = (),
    ) -> None:
        self.requirements = requirements
        self.python_version = python_version
        # Glob patterns (below `python/`) removed after the install: what the functions never
        # load, and packages another layer or the runtime already provides.
        self.prune = prune
        machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
        self.arguments = [
            "--only-binary=:all:",
            "--implementation=cp",
            f"--python-version={python_version}",
            *(f"--platform={tag}_{machine}" for tag in _MANYLINUX),
            "--no-compile",  # pip's Python is not the runtime's: compiled below
            "--quiet",
        ]

    @property
    def fingerprint(self) -> str:
        text = self.requirements.read_text() + " ".join(self.arguments) + " bytecode"
        if self.prune:  # (without it, the fingerprints of the layers built before stay)
            text += " prune " + " ".join(self.prune)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def built(self) -> Path:
        return ROOT / ".build" / f"lambda-dependencies-{self.fingerprint}"

    def try_bundle(
        self, output_dir: str, *, image: cdk.DockerImage | None = None, **_: object
    ) -> bool:
        built = self.built
        if not built.is_dir():
            # A staging directory of its own: parallel synths (pytest -n) may build at once.
            built.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{built.name}.", dir=built.parent))
            staging.chmod(0o755)  # mkdtemp's 0700 would be copied into the asset
            subprocess.run(  # noqa: S603 (our own interpreter, our own arguments)
                [sys.executable, "-m", "pip", "install", *self.arguments,
                 "--target", str(staging / "python"), "-r", str(self.requirements)],
                check=True,
            )  # fmt: skip
            shutil.rmtree(staging / "python" / "bin", ignore_errors=True)
            for pattern in self.prune:
                for path in sorted((staging / "python").glob(pattern)):  # parents first
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:  # (or gone with its parent)
                        path.unlink(missing_ok=True)
            compile_bytecode(staging / "python", self.python_version)
            try:
                staging.rename(built)
            except OSError:  # another synth finished first: its result is the same
                shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(built, output_dir, dirs_exist_ok=True)
        return True


# Wheel tags the Lambda runtimes accept (Amazon Linux 2023: glibc 2.34).
_MANYLINUX = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")


def installed_asset(installer: PipInstall) -> AssetOptions:
    """Keyword arguments for `Code.from_asset`: the requirements installed by `installer`."""
    return {
        "path": str(installer.requirements.parent),
        "asset_hash_type": cdk.AssetHashType.CUSTOM,
        "asset_hash": installer.fingerprint,
        "bundling": cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry("local-bundling-only"), local=installer
        ),
    }
