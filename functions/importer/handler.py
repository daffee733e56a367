"""Importer: files dropped into the import bucket, imported server-side."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.intake.bulk import MappingError, claim, finish, mapping_for, run
from cdp.intake.collector import screen
from cdp.intake.messages import Intake
from cdp.profiles.identity import Placeholders
from cdp.runtime.clock import utc_now
from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings.importer import ImporterSettings
from cdp.storage import clients
from cdp.storage.intake import IntakeStore
from cdp.storage.objects import Bucket
from cdp.storage.suppressions import SuppressionList

logger, tracer, metrics = powertools("importer")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[ImporterSettings, IntakeStore, SuppressionList]:
    settings = ImporterSettings.from_env()
    client = clients.dynamodb()
    return (
        settings,
        IntakeStore.from_settings(settings, client=client),
        SuppressionList.from_settings(settings, client=client),
    )


def import_object(bucket: Bucket, key: str, context: LambdaContext) -> dict[str, Any]:
    work = claim(bucket, key, run_id=context.aws_request_id, now=utc_now())
    if isinstance(work, str):
        metrics.add_metric("ImportNotificationsSkipped", MetricUnit.Count, 1)
        return {"key": key, "skipped": work}
    settings, store, suppressions = _dependencies()
    source = work.file.source

    def save(intake: Intake, now: datetime) -> None:
        kept, _ = screen(
            intake, consent_required=settings.consent_required, suppressed=suppressions.suppressed
        )
        store.save(kept, source=source, received_at=now, request_id=context.aws_request_id)

    try:
        mapping = mapping_for(bucket, work.file)
    except MappingError as error:
        finish(bucket, work, str(error), utc_now())
        metrics.add_metric("ImportsFailed", MetricUnit.Count, 1)
        logger.warning("import refused: no usable mapping", extra={"source": source})
        return {"key": work.file.key, "failed": True}
    outcome = run(
        bucket,
        work.file,
        mapping,
        start_after=work.start_after,
        save=save,
        clock=utc_now,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        placeholders=Placeholders.configured(settings.identity_blocklist),
    )
    finish(bucket, work, outcome, utc_now())
    metrics.add_metric("RowsImported", MetricUnit.Count, outcome.stored)
    metrics.add_metric("RowsRejected", MetricUnit.Count, outcome.rejected)
    return {"key": work.file.key, "rows_done": outcome.rows_done, "finished": outcome.finished}


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


end_of_init()
