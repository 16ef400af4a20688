"""The hostile-request list of `tests/server/hostile.py` (the "server" row of the reliability table): all clean."""
from tests.server.hostile import server_cases


def test_every_hostile_request_gets_a_clean_answer():
    n, clean, failures = server_cases()
    assert n >= 60 and clean == n, failures
