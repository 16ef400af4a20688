"""The case harness of `benchmarks/reliability.py`: a family of cases counts how many were tried and which did not
end cleanly (an escaped exception, a hang past CASE_SECONDS, a message that is not one sentence)."""
from __future__ import annotations

import signal

CASE_SECONDS = 20  # a case that takes longer is a hang


class Hang(Exception):
    pass


class Family:
    """Counts of one class: `check(name, fn)` runs a case; fn returns None (clean) or a failure description."""

    def __init__(self, name: str):
        self.name, self.tried, self.failures = name, 0, []

    def check(self, case: str, fn) -> None:
        self.tried += 1

        def alarm(*_):
            raise Hang()
        old = signal.signal(signal.SIGALRM, alarm)
        signal.alarm(CASE_SECONDS)
        try:
            problem = fn()
        except Hang:
            problem = f"no answer within {CASE_SECONDS} s (a hang)"
        except Exception as e:  # noqa: BLE001 - an escaped exception is the failure being counted
            problem = f"{type(e).__name__}: {str(e)[:160]}"
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        if problem:
            self.failures.append(f"{case[:80]}: {problem}"[:300])

    def row(self) -> dict:
        return {"class": self.name, "tried": self.tried, "clean": self.tried - len(self.failures),
                "failures": len(self.failures), "examples": self.failures[:5]}


def sentence_problem(msg: str) -> str | None:
    from tests.core.trust_strategies import check_sentence

    try:
        check_sentence(msg)
    except AssertionError as e:
        return str(e)
    return None


def run_generated(strategy, n: int, fn) -> None:
    """Run fn on n generated examples (no shrinking: every example is counted once)."""
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(max_examples=max(1, n), deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(x):
        fn(x)
    run()
