"""Run model-written code in a sandbox: a child process with CPU, memory, file-size and wall-clock limits
and no network.

HumanEval (Chen et al. 2021) scores a completion by executing its unit tests, and its own harness warns
that the code is untrusted. The child gets: ``RLIMIT_CPU`` / ``RLIMIT_AS`` / ``RLIMIT_FSIZE`` /
``RLIMIT_NPROC`` limits, its own session (the whole process group is killed at the wall-clock limit),
an empty temporary working directory, a minimal environment, an isolated interpreter (``python -I``),
and a new network namespace with no interfaces (``unshare --net`` as an unprivileged user namespace)
where the kernel allows it. Where it does not, a prelude removes socket creation from the child's
Python; ``NETWORK_ISOLATION`` says which one is in force.
"""

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

# The child's first lines: no socket can be created from Python even without a network namespace.
_PRELUDE = """\
import socket as _s
def _no_network(*a, **k):
    raise PermissionError("network access is disabled in the sandbox")
_s.socket = _no_network
_s.create_connection = _no_network
_s.socketpair = _no_network
del _s
"""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 5.0  # wall clock (HumanEval's harness: 3 s a problem)
    cpu_s: int = 5
    memory_mb: int = 512
    max_file_mb: int = 16
    max_processes: int = 64


@dataclass(frozen=True)
class SandboxResult:
    status: str  # passed | failed | timeout | killed
    returncode: int | None
    stderr_tail: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@functools.cache
def _netns_prefix() -> tuple[str, ...]:
    """``unshare`` arguments for a private network namespace when this kernel permits one, else ()."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    try:
        probe = subprocess.run([unshare, "--user", "--map-root-user", "--net", "true"], capture_output=True, timeout=10,
                               check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return (unshare, "--user", "--map-root-user", "--net") if probe.returncode == 0 else ()


def network_isolation() -> str:
    return "network namespace (unshare --net)" if _netns_prefix() else "python socket guard only"


def _limit(limits: SandboxLimits):
    def apply() -> None:
        mb = 1 << 20
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb * mb, limits.max_file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run_sandboxed(program: str, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Execute ``program`` (Python source) under ``limits``; passed = exit status 0 within the limits."""
    with tempfile.TemporaryDirectory(prefix="cf-sandbox-") as workdir:
        path = os.path.join(workdir, "program.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(_PRELUDE + program + "\n")
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "PYTHONHASHSEED": "0",
               "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
        proc = subprocess.Popen([*_netns_prefix(), sys.executable, "-I", path], cwd=workdir, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=_limit(limits),  # noqa: PLW1509 - only setrlimit calls run in the child
                                start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
            return SandboxResult("timeout", None, stderr.decode(errors="replace")[-500:])
        finally:
            try:  # children the program forked die with it
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    tail = stderr.decode(errors="replace")[-500:]
    if proc.returncode == 0:
        return SandboxResult("passed", 0, tail)
    status = "killed" if proc.returncode < 0 else "failed"  # a signal: CPU (SIGXCPU/SIGKILL) or memory
    return SandboxResult(status, proc.returncode, tail)
