"""A helper of the study tests: the claims of the results of record read a study's report."""

from __future__ import annotations

from typing import Any

from experiments._record import CLAIMS


def assert_claims_read(study: str, report: dict[str, Any]) -> None:
    """Every claim of the results of record that ``study`` settles reads ``report``: the rule
    gets all its numbers (a verdict, held or not) and names a figure the run wrote."""
    claims = [c for c in CLAIMS if c.study == study]
    assert claims, f"no claim reads {study}"
    for claim in claims:
        outcome = claim.read(report)
        assert outcome.held in (True, False) and outcome.value, claim.id
        assert claim.figure in report["figures"], claim.id
