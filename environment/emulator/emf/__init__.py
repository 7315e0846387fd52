"""The emulator's EMF agent: the CloudWatch agent's embedded-metric-format endpoint.

On AWS, a service that uses ``aws-embedded-metrics`` in agent mode writes one JSON line per
event to the CloudWatch agent at ``tcp://127.0.0.1:25888``; the agent writes the line to its log
group and stream, and CloudWatch extracts the metrics it declares. moto stores log events and
metrics but extracts nothing, so the emulator runs this agent in its own process:

- ``event``: one line -> the log event and the metric data CloudWatch would extract (or why not);
- ``publish``: writes batches of events to CloudWatch Logs and their metrics to CloudWatch, as
  the account (the real agent writes with its instance role, not the learner's credentials);
- ``listener``: the TCP (and UDP) sockets, the agent's log of malformed events, its counters,
  and ``settle``, which answers once every byte already sent has been processed;
- ``status``: ``/_lab/emf``, the administrator's view of the agent (read by ``agent_status``).
"""

from .event import DEFAULT_LOG_STREAM, MAX_EVENT_BYTES, Malformed, parse
from .listener import Agent

__all__ = ["DEFAULT_LOG_STREAM", "MAX_EVENT_BYTES", "Agent", "Malformed", "parse"]
