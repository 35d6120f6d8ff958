"""What is running: the package version and the git commit it was built from."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from importlib import metadata

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from signup_core.settings import Settings


@functools.cache
def version() -> str:
    try:
        return metadata.version("signet-signup")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


class BuildInfo(Collector):
    """signup_build_info{version, git_sha, component} 1: joins any series to the code behind it.
    A collector, not a Gauge: in the worker's multiprocess mode a Gauge would be a file too."""

    def __init__(self, settings: Settings, component: str) -> None:
        self.labels = [version(), settings.git_sha[:40], component]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "signup_build_info",
            "Always 1; the labels say which build runs.",
            labels=["version", "git_sha", "component"],
        )
        info.add_metric(self.labels, 1)
        yield info


def register_info(registry: CollectorRegistry, settings: Settings, component: str) -> None:
    registry.register(BuildInfo(settings, component))
