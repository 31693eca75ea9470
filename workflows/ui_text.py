"""What the Temporal UI shows of a case beside its live line: the one-line summary and the fixed
details. Coded facts only (site, setting, referral source, age band, cohorts), never the person or
the external reference, so anyone who can see the UI may read them.

The service sets them on the case's first run (`static_summary`, `static_details` at start); the
workflow imports this module passed through to show them again on the runs after a continue-as-new,
which start without them: the SDK's `continue_as_new` takes no summary or details, and the server
(1.32) does not copy a run's user metadata to the run that continues it.

Each text is a `PublicText`: the one kind of value the payload converter (workers/payload_converter.py)
marks public, so the codec leaves it unencrypted and the Temporal UI shows it without the codec.
"""

from typing import Protocol

from domain.model import AgeBand, Cohort, ReferralSource, Setting


class PublicText(str):
    """Text any operator may read in the Temporal UI: codes, counts, times and opaque ids only, never
    anything of the person. Only this type travels unencrypted; a plain `str` is always encrypted."""

    __slots__ = ()


# The last line of the fixed details: where the live facts are.
LIVE_POINTER = "Live stage, open tasks and next due time: see the current details."


class CaseFacts(Protocol):
    """What both the command that opens a case and the case's state know of how it came in."""

    @property
    def site(self) -> str: ...

    @property
    def setting(self) -> Setting | None: ...

    @property
    def source(self) -> ReferralSource | None: ...

    @property
    def age_band(self) -> AgeBand | None: ...

    @property
    def cohorts(self) -> tuple[Cohort, ...]: ...


def case_summary(case: CaseFacts) -> PublicText:
    """The case's one-line summary in the Temporal UI: coded facts only, never the person."""
    return PublicText(f"L&D case at {case.site} ({case.setting})")


def case_details(case: CaseFacts) -> PublicText:
    """The case's fixed details in the Temporal UI: how it came in, as codes. The external reference
    and everything about the person are personal data and stay out."""
    return PublicText("\n".join([*_fixed_facts(case), LIVE_POINTER]))


def continued_details(case: CaseFacts, live: str) -> PublicText:
    """The current details of a run that continued as new: the summary and fixed details the run
    started without, then the live line (`live`)."""
    return PublicText("\n".join([case_summary(case), *_fixed_facts(case), live]))


def _fixed_facts(case: CaseFacts) -> list[str]:
    # The state keeps cohorts without repeats; the command may repeat one: both read the same.
    cohorts = ", ".join(str(cohort) for cohort in dict.fromkeys(case.cohorts)) or "none"
    return [
        f"Site: {case.site}",
        f"Setting: {case.setting}",
        f"Referral source: {case.source}",
        f"Age band: {case.age_band}",
        f"Cohorts: {cohorts}",
    ]
