"""Point ``aws-embedded-metrics`` at the lab's EMF agent, and wait for what it was sent.

The library reads its configuration once, at import, from ``AWS_EMF_*`` variables, and caches
the environment it detects; a notebook kernel has usually imported it before the lab's settings
are known. ``use_agent`` sets the same configuration on the library's config object (agent
mode, the settings' endpoint) and forgets the cached environment, so the next
``create_metrics_logger()`` or ``@metric_scope`` writes to the agent as on an EC2 host with
the CloudWatch agent. ``settled`` returns once the agent has stored and published everything
sent so far (read CloudWatch after it; no sleeping).
"""

from __future__ import annotations

from typing import Any

from .settings import Settings


def use_agent(settings: Settings, log_group: str | None = None,
              service_name: str | None = None, namespace: str | None = None) -> None:
    """Send the library's metrics to the agent at ``settings.emf_endpoint`` (agent mode).

    ``log_group`` defaults to the library's own ``<service_name>-metrics``.
    """
    from aws_embedded_metrics.config import get_config
    from aws_embedded_metrics.environment.environment_detector import EnvironmentCache

    config = get_config()
    config.agent_endpoint = settings.emf_endpoint
    config.environment = "Default"  # the agent sink, not stdout (Local) or Lambda's
    if log_group is not None:
        config.log_group_name = log_group
    if service_name is not None:
        config.service_name = service_name
    if namespace is not None:
        config.namespace = namespace
    EnvironmentCache.environment = None


def settled(settings: Settings) -> dict[str, Any]:
    """The agent's counters once everything sent to it so far is stored and published."""
    from .emulator.emf.status import agent_status

    return agent_status(settings, settle=True)
