"""The IAM gate: authentication and policy evaluation that the emulator does not do.

moto accepts almost any request; AWS does not. Lab 2 needs the account to deny
a tenant's credentials access to another tenant's rows, so this package
verifies every request's SigV4 signature and session token (``signing``,
``principals``), evaluates identity policies, session policies and session
tags the way AWS documents its evaluation logic (``policy``), decides inside
moto's own dispatch on exactly the operation and parameters moto will execute
(``hook``, ``calls``, ``requests``), fails closed on anything it cannot
classify, and answers in each service's own error format (``responses``).
The WSGI half in front of moto is ``gate``; what it reads inside moto goes
through ``emulator.moto_adapter``.
"""
