"""Configuration as code: `cdp segments apply segments/*.yaml` makes the deployment match the
files in your repository. It shows a diff first, changes only what differs, and running it
again changes nothing."""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.cli.client import Api, CliError


@dataclass(frozen=True)
class Kind:
    """A kind of definition the admin API keeps."""

    name: str  # for messages
    path: str  # /v1/segments
    key: str  # the id field: "id" or "source"
    wrapped: str | None  # GET /v1/segments/{id} answers {"segment": ...}
    # A file may name an environment variable holding the definition's secret (`secret_env`):
    # sent, never shown, when the definition changes or has no secret yet.
    has_secret: bool = False
    # Fields compared whole (a key taken out of the file is a change), not only as far as the
    # file speaks of them.
    whole: tuple[str, ...] = ()

    def current(self, api: Api, definition_id: str) -> dict[str, Any] | None:
        status, answer = api.send("GET", f"{self.path}/{definition_id}")
        if status == 404:
            return None
        if status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise CliError(f"GET {self.path}/{definition_id}: {status} {message}")
        found: dict[str, Any] = answer[self.wrapped] if self.wrapped else answer
        return found

    def deployed_ids(self, api: Api) -> list[str]:
        answer = api.get(self.path)
        items: list[dict[str, Any]] = next(iter(answer.values()))
        return [(item[self.wrapped] if self.wrapped else item)[self.key] for item in items]


SEGMENTS = Kind("segment", "/v1/segments", "id", "segment")
FORMS = Kind("form", "/v1/forms", "id", None)
COMPUTED = Kind("computed trait", "/v1/computed-traits", "id", None)
DESTINATIONS = Kind(
    "destination",
    "/v1/destinations",
    "id",
    None,
    has_secret=True,
    whole=("settings", "audiences", "traits", "events"),
)


def load(paths: list[str]) -> list[dict[str, Any]]:
    """Definitions from YAML or JSON files; a file holds one definition or a list of them."""
    definitions: list[dict[str, Any]] = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise CliError(f"{name}: no such file")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as error:
            raise CliError(f"{name}: cannot be read: {error}") from None
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict):
                raise CliError(f"{name}: a definition must be an object")
            definitions.append(item)
    return definitions


def apply(api: Api, kind: Kind, paths: list[str], *, dry_run: bool, prune: bool = False) -> int:
    """Print the diff of every definition that differs, then PUT those (unless dry run);
    with `prune`, delete what the files do not name. Answers how many changed."""
    changed = 0
    definitions = load(paths)
    for definition in definitions:
        definition_id = definition.get(kind.key)
        if not isinstance(definition_id, str):
            raise CliError(f"a {kind.name} needs its {kind.key!r}")
        secret = _secret(definition) if kind.has_secret else None
        current = kind.current(api, definition_id)
        deployed = _as_written(current, definition, kind.whole) if current is not None else None
        missing_secret = secret is not None and not (current or {}).get("has_secret")
        if deployed == definition and not missing_secret:
            print(f"= {kind.name} {definition_id}: unchanged")
            continue
        changed += 1
        print(f"{'~' if current else '+'} {kind.name} {definition_id}")
        before = _text(deployed) if deployed is not None else []
        for line in difflib.unified_diff(
            before, _text(definition), "deployed", "file", lineterm=""
        ):
            print("    " + line)
        if missing_secret and deployed == definition:
            print("    the secret is set")
        if not dry_run:
            body = {**definition, **({"secret": secret} if secret is not None else {})}
            stored = api.put(f"{kind.path}/{definition_id}", body)
            _say_what_counts(kind, current, stored)
    named = {definition[kind.key] for definition in definitions}
    for extra in sorted(set(kind.deployed_ids(api)) - named):
        if not prune:
            print(f"  {kind.name} {extra}: deployed, not in the files (--prune deletes it)")
            continue
        changed += 1
        print(f"- {kind.name} {extra}")
        if not dry_run:
            api.delete(f"{kind.path}/{extra}")
    verb = "would change" if dry_run else "changed"
    print(f"{changed} {kind.name}(s) {verb}")
    return changed


def _say_what_counts(kind: Kind, before: dict[str, Any] | None, stored: Any) -> None:
    """A computed trait that counts anew (added, or its rule changed) has its past added from
    the data lake: say so, and how to follow it."""
    if kind is not COMPUTED or not isinstance(stored, dict) or not stored.get("counts_from"):
        return
    if before is not None and before.get("counts_from") == stored["counts_from"]:
        return
    print(
        f"    counts the events received from {stored['counts_from']}; those before come "
        f"from the data lake (cdp computed backfill {stored['id']} follows it)"
    )


def _secret(definition: dict[str, Any]) -> str | None:
    """The value of the variable the definition's `secret_env` names (taken out of it)."""
    variable = definition.pop("secret_env", None)
    if variable is None:
        return None
    value = os.environ.get(str(variable))
    if not value:
        raise CliError(
            f"{definition.get('id')}: secret_env names {variable}, which is not set: "
            "export it before applying"
        )
    return value


def _as_written(deployed: Any, wanted: Any, whole: tuple[str, ...] = ()) -> Any:
    """The deployed definition, limited to what the file speaks of (fields the file leaves
    out keep their defaults), at every depth but for the `whole` fields: equal to the file
    when nothing is to change."""
    if isinstance(deployed, dict) and isinstance(wanted, dict):
        return {
            k: deployed[k] if k in whole else _as_written(deployed[k], v)
            for k, v in wanted.items()
            if k in deployed
        }
    if isinstance(deployed, list) and isinstance(wanted, list) and len(deployed) == len(wanted):
        return [_as_written(d, w) for d, w in zip(deployed, wanted, strict=True)]
    return deployed


def _text(definition: dict[str, Any]) -> list[str]:
    return json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
