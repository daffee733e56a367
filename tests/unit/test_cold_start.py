"""What importing a handler loads, in a fresh interpreter as Lambda starts one: the cold start
(issue 16) stays near `import boto3` only while nothing a first request does not need is
imported. (`make bench` measures the times; this keeps the gains from quietly going.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from infra.wiring import FUNCTIONS, RUNTIME_ENV, FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = [spec.handler.rsplit(".", 1)[0] for spec in FUNCTIONS]


def run(*modules: str, probe: str, tracing: bool) -> str:
    """What `probe` prints after importing `modules` in a new interpreter, with a deployed
    function's environment (tracing active as in Lambda) or a test's (tracing disabled)."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "cold_start",  # creating a client looks for credentials
        "AWS_SECRET_ACCESS_KEY": "cold_start",
        **RUNTIME_ENV,
        "POWERTOOLS_SERVICE_NAME": "cold_start",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if tracing:
        environment |= {"LAMBDA_TASK_ROOT": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "cold_start"}
    else:
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    paths = [str(ROOT), str(ROOT / "layers"), sysconfig.get_paths()["purelib"]]
    script = (
        f"import json, sys; sys.path[:0] = {paths!r}\n"
        + "".join(f"import {module}\n" for module in modules)
        + probe
    )
    answer = subprocess.run(
        [sys.executable, "-S", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd="/",
    )
    return answer.stdout.strip().splitlines()[-1]


def loaded_modules(*modules: str, tracing: bool) -> set[str]:
    return set(
        json.loads(run(*modules, probe="print(json.dumps(sorted(sys.modules)))", tracing=tracing))
    )


def test_traced_handlers_patch_only_botocore() -> None:
    # when every handler is imported as deployed
    loaded = loaded_modules(*HANDLERS, tracing=True)

    # then the X-Ray SDK is there, and patched botocore, without importing other client
    # libraries to patch them
    assert "aws_xray_sdk.core" in loaded
    assert "aws_xray_sdk.ext.botocore.patch" in loaded
    assert not {"requests", "sqlite3", "httpx"} & loaded


def test_untraced_handlers_do_not_load_the_xray_sdk() -> None:
    loaded = loaded_modules(*HANDLERS, tracing=False)

    assert "aws_xray_sdk.core" not in loaded
    assert "wrapt" not in loaded


def test_clients_are_made_without_boto3() -> None:
    # given every handler imported and every client made, as their first requests make them
    probe = "from cdp.storage import clients\n"
    probe += "[factory() for factory in (clients.dynamodb, clients.events, clients.sqs, "
    probe += "clients.s3, clients.secretsmanager)]\n"
    probe += "print(json.dumps('boto3' in sys.modules))"

    # then boto3 was never imported: botocore makes the clients (boto3 would add resources and
    # S3 transfers, which nothing uses, for tens of milliseconds of every cold start)
    assert json.loads(run(*HANDLERS, probe=probe, tracing=True)) is False


@pytest.mark.parametrize(
    ("handler", "rare"),
    [
        # a changed segment or computed trait starts a backfill; nothing else needs it
        ("functions.admin_api.handler", "cdp.segments.backfill"),
        # ... and a computed trait's past is added by its own worker, with the builder's code
        ("functions.admin_api.handler", "cdp.profiles.builder"),
        # the collector stores events; folding them into profiles is the builder's work
        ("functions.collector.handler", "cdp.profiles.profile"),
        ("functions.collector.handler", "cdp.segments.conditions"),
    ],
)
def test_rare_routes_load_their_code_when_used(handler: str, rare: str) -> None:
    assert rare not in loaded_modules(handler, tracing=True)


def models_built_at_import(module: str, base: str) -> tuple[int, list[str]]:
    """Once every handler is imported: how many pydantic models derive from `module.base`,
    and the names of those that have built their validator."""
    probe = f"from {module} import {base}\n"
    probe += "def below(model):\n"
    probe += "    return [m for s in model.__subclasses__() for m in (s, *below(s))]\n"
    probe += f"models = below({base})\n"
    probe += "print(json.dumps([len(models), [m.__name__ for m in models "
    probe += "if m.__pydantic_complete__]]))"
    count, built = json.loads(run(*HANDLERS, probe=probe, tracing=True))
    return count, built


def test_settings_models_are_built_when_first_read() -> None:
    # given every handler imported, then no settings model has built its validator: each
    # function reads its own at its first invocation (pydantic's defer_build)
    count, built = models_built_at_import("cdp.runtime.settings", "FunctionSettings")
    assert count >= len(HANDLERS)
    assert built == []


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_a_function_defines_only_its_own_settings_model(spec: FunctionSpec) -> None:
    # (defining the eighteen took about 30 ms of every cold start)
    handler = spec.handler.rsplit(".", 1)[0]
    settings = {
        name for name in loaded_modules(handler, tracing=True)
        if name.startswith("cdp.runtime.settings.")
    }  # fmt: skip
    assert settings == {spec.settings.__module__}


def test_domain_models_are_built_when_first_used() -> None:
    # given every handler imported, then none of the domain's and the APIs' models has built
    # its validator: a function's cold start serves one route, which builds the few it reads
    # (pydantic's defer_build; those that set a model_config of their own too)
    count, built = models_built_at_import("cdp.runtime.models", "Model")
    assert count >= 30  # the probe saw them
    assert built == []


def test_message_models_are_built_when_a_message_first_needs_one() -> None:
    # plainly valid messages are read without them (cdp.intake.spec.read_fields)
    probe = "print(json.dumps([model.__pydantic_complete__ for model in MODELS.values()]))"
    modules = ("functions.collector.handler", "cdp.intake.spec")
    loaded = run(*modules, probe="from cdp.intake.spec import MODELS\n" + probe, tracing=True)

    assert json.loads(loaded) == [False] * 6


def test_the_trackers_manifest_is_read_when_first_served() -> None:
    # most collector requests carry events; only a script request reads the built files
    probe = "print(json.dumps(cdp.intake.assets.BuiltFile.__pydantic_complete__))"

    loaded = run("functions.collector.handler", "cdp.intake.assets", probe=probe, tracing=True)

    assert json.loads(loaded) is False


@pytest.mark.parametrize("handler", HANDLERS)
def test_the_garbage_collector_is_on_once_a_handler_is_imported(handler: str) -> None:
    # given a handler imported as Lambda imports it (with the collector off meanwhile)
    probe = "import gc; print(json.dumps([gc.isenabled(), gc.get_freeze_count() > 0]))"

    # then the collector is on again, and what the import made is left out of its work
    assert json.loads(run(handler, probe=probe, tracing=True)) == [True, True]
