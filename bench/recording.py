"""Recording every request our code sends to AWS, through botocore's event hooks.

`Recorder.install()` adds handlers to botocore's built-in handler list (as moto does for its
own stub), so every client of every session created afterwards carries them, including those
Powertools makes for itself. For each API call it notes:

- the service and operation (`dynamodb.BatchWriteItem`, `events.PutEvents`, ...), under the
  stage that was running (`collector`, `profile_builder`, ...);
- the thread CPU time spent inside the call, from `provide-client-params` (the first event of
  a call) to `after-call` (the last): botocore's own work (validation, serialisation,
  signing, parsing) plus moto answering in memory; moto's share is the time between the first
  and the last `before-send` handler, which wrap moto's stub;
- for DynamoDB, the capacity units it consumed (`bench.capacity`), from the request, the
  answer, and the items it replaced or updated, read before and after the call through a
  client whose calls are not recorded.

Time spent in the recorder itself is kept apart, so that a stage's CPU time minus the time
inside AWS calls minus the recorder's own is the CPU time of our code alone.

So is the time of the cyclic garbage collector's passes, wherever they fall: a pass walks the
whole heap of this process, and here the heap holds moto's in-memory AWS, which a Lambda
function's does not. Left in, a pass lands in our code or in botocore's by chance (it takes
as long as both together at the collector's batch size of 100).
"""

from __future__ import annotations

import gc
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import (
    Consumption,
    Item,
    ItemRef,
    TableSchema,
    consumed,
    key_id,
    write_actions,
)

EVENT_CHUNK_BYTES = 64 * 1024  # EventBridge and SQS bill each started 64 KB as one request


@dataclass
class Call:
    stage: str
    kind: str  # service.Operation
    cpu_ns: int  # inside the call: botocore and moto
    transport_ns: int  # of which moto answering (AWS's side)
    error: str | None
    usage: Consumption
    billed: int = 1  # requests as billed (EventBridge events, SQS 64 KB chunks)


@dataclass
class Invocation:
    """One run of a function: its thread CPU time, and how much of it was spent elsewhere."""

    stage: str
    total_ns: int = 0  # everything, from the handler's call to its return
    aws_ns: int = 0  # inside AWS calls: botocore and moto
    transport_ns: int = 0  # of which moto answering
    recorder_ns: int = 0  # the recorder's own work
    gc_ns: int = 0  # the garbage collector's passes, inside AWS calls or not
    thread: int = field(default_factory=threading.get_ident)  # the one it runs in
    requests: Counter[str] = field(default_factory=Counter)  # by service.Operation

    @property
    def ours_ns(self) -> int:
        """Our code alone: handler, Powertools, domain (what the AWS calls left)."""
        return self.total_ns - self.aws_ns - self.recorder_ns - self.gc_ns

    @property
    def botocore_ns(self) -> int:
        return self.aws_ns - self.transport_ns


@dataclass
class _InFlight:
    stage: str
    kind: str
    operation: str
    params: Mapping[str, Any]
    before: dict[ItemRef, Item | None]
    start: int = 0
    transport_ns: int = 0
    transport_start: int = 0
    gc_ns: int = 0  # passes of the garbage collector inside the call


@dataclass
class Recorder:
    """Collects `Call`s while a stage is set; between stages nothing is recorded."""

    measure_items: bool = True
    calls: list[Call] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    schemas: dict[str, TableSchema] = field(default_factory=dict)
    peek_client: Any = None  # reads items for the arithmetic; never recorded
    _current: Invocation | None = None
    _local: threading.local = field(default_factory=threading.local)

    def install(self) -> None:
        """Before any botocore session exists: sessions copy the built-in handlers."""
        from botocore import handlers

        handlers.BUILTIN_HANDLERS.extend(
            [
                ("provide-client-params", self._started),
                ("before-send", self._transport_started, handlers.REGISTER_FIRST),
                ("before-send", self._transport_ended, handlers.REGISTER_LAST),
                ("after-call", self._ended),
                ("after-call-error", self._failed),
            ]
        )
        gc.callbacks.append(self._collected)

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._local.gc_start = time.thread_time_ns()
            return
        invocation = self._current
        start = getattr(self._local, "gc_start", None)
        if invocation is None or start is None or invocation.thread != threading.get_ident():
            return
        spent = time.thread_time_ns() - start
        invocation.gc_ns += spent
        call = getattr(self._local, "current", None)
        if call is not None:
            call.gc_ns += spent
            if call.transport_start:  # in moto's answer: out of its time, not only botocore's
                call.transport_ns -= spent

    @property
    def stage(self) -> str | None:
        return self._current.stage if self._current else None

    @contextmanager
    def running(self, stage: str) -> Iterator[Invocation]:
        """Record what runs inside as one invocation of `stage`, with its CPU time."""
        if self._current is not None:
            raise RuntimeError("invocations do not nest")
        invocation = self._current = Invocation(stage)
        start = time.thread_time_ns()
        try:
            yield invocation
        finally:
            invocation.total_ns = time.thread_time_ns() - start
            self._current = None
            self.invocations.append(invocation)

    def reset(self) -> None:
        self.calls.clear()
        self.invocations.clear()

    # -- hooks --------------------------------------------------------------------------

    def _started(
        self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        invocation = self._current
        if invocation is None or getattr(self._local, "busy", False):
            return
        entered = time.thread_time_ns()
        service = model.service_model.service_name
        call = _InFlight(
            stage=invocation.stage,
            kind=f"{service}.{model.name}",
            operation=model.name,
            params=params,
            before={},
        )
        if self.measure_items and service == "dynamodb":
            refs = [
                (action.table, key_id(action.key))
                for action in write_actions(model.name, params, self.schemas)
            ]
            call.before = self._peek(refs)
        context["bench_call"] = call
        self._local.current = call
        call.start = time.thread_time_ns()
        invocation.recorder_ns += call.start - entered

    def _transport_started(self, **_: Any) -> None:
        call = getattr(self._local, "current", None)
        if call is not None:
            call.transport_start = time.thread_time_ns()

    def _transport_ended(self, **_: Any) -> None:
        call = getattr(self._local, "current", None)
        if call is not None and call.transport_start:
            call.transport_ns += time.thread_time_ns() - call.transport_start
            call.transport_start = 0

    def _ended(
        self, http_response: Any, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        call = context.pop("bench_call", None)
        if call is None:
            return
        now = time.thread_time_ns()
        ended = now - call.gc_ns
        self._local.current = None
        error = (
            parsed.get("Error", {}).get("Code", "Error")
            if http_response.status_code >= 300
            else None
        )
        usage = Consumption()
        if self.measure_items and call.kind.startswith("dynamodb."):
            usage = self._usage(call, parsed, error)
        self.calls.append(
            Call(
                stage=call.stage,
                kind=call.kind,
                cpu_ns=ended - call.start,
                transport_ns=call.transport_ns,
                error=error,
                usage=usage,
                billed=_billed(call.kind, call.params),
            )
        )
        invocation = self._current
        if invocation is not None:
            invocation.aws_ns += ended - call.start
            invocation.transport_ns += call.transport_ns
            invocation.requests[call.kind] += 1
            invocation.recorder_ns += time.thread_time_ns() - now

    def _failed(self, exception: Exception, context: dict[str, Any], **_: Any) -> None:
        call = context.pop("bench_call", None)
        if call is None:
            return
        ended = time.thread_time_ns() - call.gc_ns
        self._local.current = None
        self.calls.append(
            Call(
                call.stage,
                call.kind,
                ended - call.start,
                call.transport_ns,
                type(exception).__name__,
                Consumption(),
            )
        )
        if self._current is not None:
            self._current.aws_ns += ended - call.start
            self._current.transport_ns += call.transport_ns
            self._current.requests[call.kind] += 1

    # -- items --------------------------------------------------------------------------

    def _usage(self, call: _InFlight, parsed: Mapping[str, Any], error: str | None) -> Consumption:
        after: dict[ItemRef, Item | None] = {}
        response = parsed
        if error is None and call.operation in ("UpdateItem", "TransactWriteItems"):
            updated = [
                (action.table, key_id(action.key))
                for action in write_actions(call.operation, call.params, self.schemas)
                if action.kind == "update"
            ]
            after = self._peek(updated)
        if error is None and call.operation in ("Query", "Scan") and _projected(call.params):
            # Reads are billed by the whole items read, not the attributes returned.
            schema = self.schemas[call.params["TableName"]]
            full = self._peek([schema.ref(item) for item in parsed.get("Items", [])])
            response = {**parsed, "Items": [item for item in full.values() if item]}
        return consumed(
            call.operation,
            call.params,
            response,
            error=error,
            schemas=self.schemas,
            before=call.before,
            after=after,
        )

    def _peek(self, refs: list[ItemRef]) -> dict[ItemRef, Item | None]:
        """The items as they are now (None when absent), read without being recorded."""
        found: dict[ItemRef, Item | None] = dict.fromkeys(refs)
        unique = list(dict.fromkeys(refs))
        self._local.busy = True
        try:
            for begin in range(0, len(unique), 100):
                chunk = unique[begin : begin + 100]
                by_table: dict[str, list[dict[str, Any]]] = {}
                for table, key in chunk:
                    by_table.setdefault(table, []).append(json.loads(key))
                request: dict[str, Any] = {
                    table: {"Keys": keys, "ConsistentRead": True}
                    for table, keys in by_table.items()
                }
                while request:
                    answer = self.peek_client.batch_get_item(RequestItems=request)
                    for table, items in answer["Responses"].items():
                        for item in items:
                            found[self.schemas[table].ref(item)] = item
                    request = answer.get("UnprocessedKeys") or {}
        finally:
            self._local.busy = False
        return found


def _projected(params: Mapping[str, Any]) -> bool:
    return "ProjectionExpression" in params or params.get("Select") not in (None, "ALL_ATTRIBUTES")


def _billed(kind: str, params: Mapping[str, Any]) -> int:
    """Requests as billed: EventBridge per entry and started 64 KB, SQS per started 64 KB."""
    if kind == "events.PutEvents":
        return sum(
            math.ceil(len(json.dumps(entry, separators=(",", ":")).encode()) / EVENT_CHUNK_BYTES)
            for entry in params.get("Entries", [])
        )
    if kind.startswith("sqs.Send"):
        size = len(json.dumps(params, default=str).encode())
        return max(1, math.ceil(size / EVENT_CHUNK_BYTES))
    return 1


def schemas_for(names: Mapping[str, str]) -> dict[str, TableSchema]:
    """Table schemas from `cdp.runtime.tables`, keyed by the tables' names (env var ->
    name given)."""
    from cdp.runtime import tables

    schemas = {}
    for spec in tables.ALL_TABLES:
        name = names[spec.env_var]
        keys = (spec.partition_key.name, *([spec.sort_key.name] if spec.sort_key else []))
        indexes = []
        for index in spec.indexes:
            if index.projection != "KEYS_ONLY":
                raise NotImplementedError("only KEYS_ONLY indexes are priced")
            index_keys = (
                index.partition_key.name,
                *([index.sort_key.name] if index.sort_key else []),
            )
            indexes.append((index.name, index_keys))
        schemas[name] = TableSchema(name, spec.logical_name.lower(), keys, tuple(indexes))
    return schemas
