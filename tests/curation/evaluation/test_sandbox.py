"""The HumanEval sandbox really limits what model-written code can do."""

import time

from curation.evaluation.sandbox import SandboxLimits, run_sandboxed

FAST = SandboxLimits(timeout_s=3, cpu_s=2, memory_mb=256)


def test_passing_and_failing_programs():
    assert run_sandboxed("def f(x):\n    return x + 1\nassert f(1) == 2", FAST).passed
    result = run_sandboxed("assert 1 + 1 == 3", FAST)
    assert result.status == "failed" and "AssertionError" in result.stderr_tail


def test_infinite_loop_is_killed_at_the_limit():
    t0 = time.perf_counter()
    result = run_sandboxed("while True:\n    pass", FAST)
    assert result.status in {"timeout", "killed"} and not result.passed
    assert time.perf_counter() - t0 < 10


def test_network_is_blocked_even_below_the_socket_module():
    # the python guard stops socket.socket; the network namespace stops the C-level _socket too
    program = "import _socket\ns = _socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 53))"
    result = run_sandboxed(program, FAST)
    assert not result.passed and ("Network is unreachable" in result.stderr_tail or "Error" in result.stderr_tail)
    assert not run_sandboxed("import socket\nsocket.create_connection(('127.0.0.1', 9))", FAST).passed


def test_memory_bomb_fails_instead_of_eating_the_machine():
    assert not run_sandboxed("x = bytearray(2 << 30)", FAST).passed
