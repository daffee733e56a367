"""Importer: files dropped into the import bucket, imported server-side."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.bulk import CONTINUE, ImportFile, MappingError, continuation, mapping_for, report, run
from cdp.clock import iso, utc_now
from cdp.collector import screen
from cdp.observability import powertools
from cdp.settings import ImporterSettings
from cdp.storage import clients
from cdp.storage.intake import IntakeStore
from cdp.storage.objects import Bucket
from cdp.storage.secrets import secret
from cdp.storage.suppressions import SuppressionList

logger, tracer, metrics = powertools("importer")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[ImporterSettings, IntakeStore, SuppressionList]:
    settings = ImporterSettings.from_env()
    client = clients.dynamodb()
    return (
        settings,
        IntakeStore(
            settings.events_table,
            settings.quarantine_table,
            client=client,
            event_retention=timedelta(days=settings.event_retention_days),
            quarantine_retention=timedelta(days=settings.quarantine_retention_days),
        ),
        SuppressionList(
            settings.suppressions_table,
            client=client,
            pepper=secret(settings.suppression_pepper_name),
        ),
    )


def import_object(bucket: Bucket, key: str, context: LambdaContext) -> dict[str, Any]:
    start_after = 0
    if key.endswith(CONTINUE):
        marker = json.loads(bucket.text(key) or "{}")
        key, start_after = marker["key"], int(marker["rows_done"])
    file = ImportFile.of(key)
    if file is None:
        metrics.add_metric("ImportFilesSkipped", MetricUnit.Count, 1)
        return {"skipped": key}
    settings, store, suppressions = _dependencies()

    def save(intake: Any, now: Any) -> None:
        kept, _ = screen(
            intake, consent_required=settings.consent_required, suppressed=suppressions.suppressed
        )
        store.save(kept, source=file.source, received_at=now, request_id=context.aws_request_id)

    progress_key = key + ".progress.json"
    try:
        mapping = mapping_for(bucket, file)
    except MappingError as error:
        failed = {"status": "failed", "error": str(error), "updated_at": iso(utc_now())}
        bucket.write(progress_key, json.dumps(failed))
        metrics.add_metric("ImportsFailed", MetricUnit.Count, 1)
        logger.warning("import refused: no usable mapping", extra={"source": file.source})
        return {"key": key, "failed": True}
    previous = json.loads(bucket.text(progress_key) or "null") if start_after else None
    outcome = run(
        bucket,
        file,
        mapping,
        start_after=start_after,
        save=save,
        clock=utc_now,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    if outcome.rejects:
        earlier = bucket.text(key + ".rejected.jsonl") if start_after else None
        bucket.write(key + ".rejected.jsonl", (earlier or "") + "".join(outcome.rejects))
    bucket.write(progress_key, json.dumps(report(outcome, previous, iso(utc_now()))))
    if not outcome.finished:
        bucket.write(*continuation(file, outcome.rows_done))
    metrics.add_metric("RowsImported", MetricUnit.Count, outcome.stored)
    metrics.add_metric("RowsRejected", MetricUnit.Count, outcome.rejected)
    return {"key": key, "rows_done": outcome.rows_done, "finished": outcome.finished}


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, _, _ = _dependencies()
    bucket = Bucket(settings.import_bucket, client=clients.s3())
    results = [
        import_object(bucket, unquote_plus(record.s3.get_object.key), context)
        for record in S3Event(event).records
    ]
    return {"imports": results}
