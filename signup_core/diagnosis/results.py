"""What a check of `signupctl doctor` finds: passed, failed (with the fix) or skipped."""

from __future__ import annotations

from dataclasses import asdict, dataclass

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Result:
    name: str
    status: str
    detail: str
    fix: str | None = None
    # More lines under the first: every configuration error, not only the first.
    more: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def passed(name: str, detail: str) -> Result:
    return Result(name, PASS, detail)


def failed(name: str, detail: str, fix: str, more: tuple[str, ...] = ()) -> Result:
    return Result(name, FAIL, detail, fix, more)


def skipped(name: str, detail: str, fix: str | None = None) -> Result:
    return Result(name, SKIP, detail, fix)
