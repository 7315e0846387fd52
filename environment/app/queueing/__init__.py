"""Queues against noisy neighbours: a seeded discrete-event model and a short run on real SQS.

Lab 4 compares where a tenant's messages go (one shared queue, a queue per tenant, cells,
shuffle shards, an SQS fair queue) by what the *quiet* tenants feel while one tenant floods:
how long their messages wait before a consumer takes them. The model is deterministic (seeded
arrivals, fixed service times, no wall clock), so a notebook shows the same numbers on every
machine and a check can compare them. ``live`` replays a small load on real queues of the
emulator to show the same ordering of strategies.

Modules: ``load`` (who sends what, when), ``model`` (queues and consumers), ``strategies``
(where each message goes, built from the learner's functions), ``measure`` (percentiles of
quiet tenants' delays), ``experiment`` (the runs a notebook shows), ``plot``, ``live``.
"""
