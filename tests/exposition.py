"""Reading Prometheus expositions the way Prometheus does: prometheus-client's own parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from signup_core import tls


class Exposition:
    """The samples of one scrape, looked up by name and a subset of their labels."""

    def __init__(self, text: str) -> None:
        self.families = list(text_string_to_metric_families(text))
        self.samples: list[Sample] = [s for f in self.families for s in f.samples]

    def names(self) -> set[str]:
        return {s.name for s in self.samples} | {f.name for f in self.families}

    def matching(self, name: str, **labels: str) -> list[Sample]:
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum over the matching samples; 0 when there are none (a counter not yet seen)."""
        return sum(s.value for s in self.matching(name, **labels))

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.matching(name) if label in s.labels}


def scrape(url: str) -> Exposition:
    response = httpx.get(url, timeout=5, verify=tls.client_context())
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    return Exposition(response.text)
