"""Cold start: how long importing each handler module takes in a fresh interpreter, against
`import boto3` alone in the same run, and how big the deployed code is.

Each import runs in a new `python -S` process whose path holds what a Lambda function's does:
the function code (`functions/`), the domain layer (`layers/`) and the installed packages, and
not this checkout's editable-install hook. The environment is a deployed function's: Powertools
configured, and X-Ray tracing active (the stack sets `Tracing.ACTIVE`; Powertools' Tracer then
patches botocore when the module is imported). Rounds alternate boto3 and the handlers, after
one warm-up round (so the files are in the page cache, as on a warm Lambda host); the figure is
the median of the rounds. Times are the process's CPU time (user and system) spent importing:
with the files cached that is what the wall clock shows on an idle machine, and unlike the
wall clock it does not grow when other work shares the machine.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import sysconfig
import zipfile
from collections import defaultdict
from io import BytesIO
from pathlib import Path
from typing import Any

from infra.wiring import RUNTIME_ENV

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 7

_TIMER = """
import sys, time
sys.path[:0] = {paths!r}
start = time.process_time()
import {module}
print(time.process_time() - start)
"""


def _environment(service: str, *, tracing: bool) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment |= {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        **RUNTIME_ENV,
        "POWERTOOLS_SERVICE_NAME": service,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if tracing:
        # What Powertools looks at to know it runs in Lambda (and so traces).
        environment["LAMBDA_TASK_ROOT"] = str(ROOT)
        environment["AWS_LAMBDA_FUNCTION_NAME"] = service
    else:
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    return environment


def _paths() -> list[str]:
    return [str(ROOT), str(ROOT / "layers"), sysconfig.get_paths()["purelib"]]


def import_seconds(module: str, *, service: str = "bench", tracing: bool = True) -> float:
    script = _TIMER.format(paths=_paths(), module=module)
    answer = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-S", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=_environment(service, tracing=tracing),
        cwd="/",
    )
    return float(answer.stdout.strip().splitlines()[-1])


def import_times(
    handlers: dict[str, str], *, untraced: tuple[str, ...], rounds: int = ROUNDS
) -> dict[str, Any]:
    """Median import time of boto3 and of each handler module (name -> module), as deployed
    (tracing on) and, for the `untraced` ones, as tests and `cdp dev` import them, in
    milliseconds, with the ratio to boto3; and of the libraries alone (`bench.libraries`),
    so that each handler's own share shows as what it takes beyond them."""
    variants = [(name, module, True) for name, module in handlers.items()]
    variants += [(name, handlers[name], False) for name in untraced]
    samples: dict[tuple[str, bool], list[float]] = {}
    boto3_samples: list[float] = []
    library_samples: list[float] = []
    for round_number in range(rounds + 1):
        boto3_time = import_seconds("boto3")
        library_time = import_seconds("bench.libraries", service="floor")
        timed = [
            (name, tracing, import_seconds(module, service=name, tracing=tracing))
            for name, module, tracing in variants
        ]
        if round_number == 0:
            continue  # warm-up: the page cache
        boto3_samples.append(boto3_time)
        library_samples.append(library_time)
        for name, tracing, seconds in timed:
            samples.setdefault((name, tracing), []).append(seconds)
    boto3_ms = statistics.median(boto3_samples) * 1000
    libraries_ms = statistics.median(library_samples) * 1000
    results: dict[str, Any] = {
        "boto3_ms": round(boto3_ms, 1),
        "libraries_ms": round(libraries_ms, 1),
        "libraries_ratio": round(libraries_ms / boto3_ms, 2),
        "rounds": rounds,
        "handlers": {},
    }
    for name, module in handlers.items():
        traced = statistics.median(samples[(name, True)]) * 1000
        entry: dict[str, Any] = {
            "module": module,
            "ms": round(traced, 1),
            "ratio": round(traced / boto3_ms, 2),
            "beyond_libraries_ms": round(traced - libraries_ms, 1),
        }
        if (name, False) in samples:
            untraced_ms = statistics.median(samples[(name, False)]) * 1000
            entry["ms_tracing_off"] = round(untraced_ms, 1)
            entry["ratio_tracing_off"] = round(untraced_ms / boto3_ms, 2)
        results["handlers"][name] = entry
    return results


def import_breakdown(module: str, *, service: str) -> dict[str, float]:
    """Where one handler's import time goes, as deployed (tracing on): the cumulative
    `-X importtime` of each module the handler's own imports load, grouped by package (ms).
    What two packages share counts for the one imported first; work a module does while it is
    imported (pydantic building models, the X-Ray SDK configuring itself) counts for it."""
    script = f"import sys; sys.path[:0] = {_paths()!r}; import {module}"
    answer = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-S", "-X", "importtime", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=_environment(service, tracing=True),
        cwd="/",
    )
    return _attributed(answer.stderr, module)


# One line of `-X importtime`: the module, its own and cumulative microseconds, and the imports
# it made.
_Import = tuple[str, int, int, list["_Import"]]


def _attributed(importtime: str, module: str) -> dict[str, float]:
    """Our modules' own time to us; everything else by package, cumulatively, at the point
    where our code (or the handler) first imported it."""
    pending: dict[int, list[_Import]] = {}
    root = None
    for line in importtime.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not found:
            continue
        depth = (len(found.group(3)) - 1) // 2
        node = (
            found.group(4),
            int(found.group(1)),
            int(found.group(2)),
            pending.pop(depth + 1, []),
        )
        pending.setdefault(depth, []).append(node)
        if depth == 0 and node[0] == module:
            root = node
    totals: defaultdict[str, float] = defaultdict(float)

    def visit(node: _Import) -> None:
        name, own, cumulative, children = node
        package = _package(name)
        if package != OURS:
            totals[package] += cumulative / 1000
            return
        totals[OURS] += own / 1000
        for child in children:
            visit(child)

    if root is not None:
        visit(root)
    by_time = sorted(totals.items(), key=lambda total: total[1], reverse=True)
    return {name: round(ms, 1) for name, ms in by_time}


OURS = "our code (cdp, functions)"


def _package(module: str) -> str:
    top = module.split(".", maxsplit=1)[0]
    if top in ("cdp", "functions"):
        return OURS
    if top in ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"):
        return "boto3 and its dependencies"
    if top in ("pydantic", "pydantic_core", "annotated_types", "typing_extensions"):
        return "pydantic"
    if top in ("aws_xray_sdk", "wrapt"):
        return "aws_xray_sdk (X-Ray)"
    if top == "aws_lambda_powertools":
        return "aws_lambda_powertools"
    return "Python standard library and others"


# -- package sizes ----------------------------------------------------------------------

_SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def directory_size(path: Path, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    """Bytes and files of a directory as an asset holds it, and its zip (deflated) size."""
    files = [
        file
        for file in sorted(path.rglob("*"))
        if file.is_file()
        and not _SKIPPED_PARTS & set(file.relative_to(path).parts)
        and file.suffix != ".pyc"
        and not any(file.relative_to(path).parts[0] == part for part in exclude)
    ]
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.relative_to(path))
    return {
        "files": len(files),
        "bytes": sum(file.stat().st_size for file in files),
        "zipped_bytes": buffer.tell(),
    }


def package_sizes() -> dict[str, Any]:
    """The function code asset, the domain layer as deployed (without `local/` and `cli/`)
    and, when a synth has built it, the third-party dependencies layer."""
    sizes: dict[str, Any] = {
        "functions/ (code asset)": directory_size(ROOT / "functions"),
        "layers/cdp (domain layer, without local/ and cli/)": directory_size(
            ROOT / "layers" / "cdp", exclude=("local", "cli")
        ),
    }
    built = sorted((ROOT / ".build").glob("lambda-dependencies-*"))
    built = [path for path in built if path.is_dir() and not path.name.endswith(".partial")]
    if built:
        sizes["dependencies layer (.build/, cryptography for arm64)"] = directory_size(built[-1])
    else:
        sizes["dependencies layer (.build/, cryptography for arm64)"] = None
    return sizes
