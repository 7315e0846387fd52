"""Everything that runs in, or starts and stops, the emulator process.

``server`` is the process itself (moto's server app behind the kit's front door), ``iam`` the
IAM gate inside it, ``moto_adapter`` the one module that reaches into moto's internals, and
``process`` the manager that starts, finds, reuses and stops it. The
manager's functions are this package's interface: ``emulator.ensure_running(settings)``.
"""

from .process import (
    START_TIMEOUT_S,
    Probe,
    ensure_running,
    free_port,
    log_file,
    pid_file,
    probe,
    stop,
)

__all__ = ["START_TIMEOUT_S", "Probe", "ensure_running", "free_port", "log_file", "pid_file",
           "probe", "stop"]
