"""The functions' metrics in `cdp dev`, where AWS would have them: Powertools writes each
invocation's metrics as one line of the embedded metric format (EMF) to standard output, and
CloudWatch Logs turns those lines into CloudWatch metrics. Here the same lines are taken off
standard output and put into the local CloudWatch (moto), which the console's overview reads
as it reads CloudWatch in AWS. Every other line passes through unchanged."""

from __future__ import annotations

import io
import json
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

from cdp.runtime import clock

MAX_VALUES = 150  # PutMetricData takes up to 150 values per datum


class EmfToCloudWatch(io.TextIOBase):
    def __init__(self, cloudwatch: Any, passthrough: TextIO) -> None:
        self.cloudwatch = cloudwatch
        self.passthrough = passthrough
        self._partial = ""
        self._lock = threading.Lock()

    @classmethod
    def install(cls, cloudwatch: Any) -> EmfToCloudWatch:
        bridge = cls(cloudwatch, sys.stdout)
        sys.stdout = bridge
        return bridge

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
        for line in lines:
            if line.startswith('{"_aws"'):
                self.put(line)
            else:
                self.passthrough.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.passthrough.flush()

    def put(self, line: str) -> None:
        """One EMF document as PutMetricData calls, one per namespace."""
        try:
            document = json.loads(line)
            directives = document["_aws"]["CloudWatchMetrics"]
            # Stamped with the machine's time; the platform's clock may have been moved on
            # (`POST /_dev/clock`), and the overview asks for the last hour by that clock.
            stamped = datetime.fromtimestamp(document["_aws"]["Timestamp"] / 1000, tz=UTC)
            at = stamped + clock.offset()
        except (ValueError, KeyError, TypeError):
            self.passthrough.write(line + "\n")
            return
        for directive in directives:
            data = []
            for dimensions in directive.get("Dimensions", [[]]):
                named = [{"Name": name, "Value": str(document[name])} for name in dimensions]
                for metric in directive["Metrics"]:
                    values = document.get(metric["Name"])
                    values = values if isinstance(values, list) else [values]
                    data.append(
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": named,
                            "Timestamp": at,
                            "Values": [float(v) for v in values[:MAX_VALUES]],
                            "Unit": metric.get("Unit", "None"),
                        }
                    )
            for start in range(0, len(data), 1000):
                self.cloudwatch.put_metric_data(
                    Namespace=directive["Namespace"], MetricData=data[start : start + 1000]
                )
