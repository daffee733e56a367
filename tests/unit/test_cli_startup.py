"""Every `cdp` command starts in a fresh interpreter: the daily commands talk HTTP and must not
pay for the local runtime (moto, boto3, the handlers), which took a second of every command
before (the parser read `cdp dev`'s default keys from the module that runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from workbench.cli import _parser
_parser().parse_args(["profiles", "get", "user_id:someone"])
print(json.dumps(sorted(sys.modules)))
"""


def test_a_daily_command_loads_no_aws_library_and_no_local_runtime() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "workbench.cli" in loaded  # the probe ran what it says
    packages = {name.partition(".")[0] for name in loaded}
    assert not packages & {"moto", "boto3", "botocore", "pydantic", "cdp", "infra"}
    assert not [name for name in loaded if name.startswith("workbench.local")]
