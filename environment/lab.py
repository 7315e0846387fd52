"""What a notebook's first cell calls: ``lab = connect()``.

It starts the embedded emulator when needed, makes sure the account is
provisioned, and hands back one object with everything an exercise needs
(settings, identity URLs, tenants, tables). Inside IPython it also makes the
kit's own errors print as two plain sentences instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from . import emulator
from .account import infrastructure, provision
from .account.identity import Identity, TokenCache
from .account.tenants import PASSWORD, TENANTS, Tenant
from .errors import LabError
from .kit_api import kit_request
from .settings import EndpointSession, Settings, load_settings
from .why import Explanation, explain


@dataclass
class Lab:
    settings: Settings
    identity: Identity
    tenants: tuple[Tenant, ...] = TENANTS
    password: str = PASSWORD

    def client(self, service: str):
        return self.settings.client(service)

    def table(self, short_name: str):
        """A boto3 Table resource for one of the lab's tables (``orders``, ``products``)."""
        return self.settings.resource("dynamodb").Table(self.settings.name(short_name))

    def session(self, credentials: Mapping[str, str]) -> EndpointSession:
        """A boto3 session of vended credentials (``sts.assume_role(...)["Credentials"]``):
        AccessKeyId, SecretAccessKey and SessionToken, on the lab's endpoint and region."""
        return self.settings.session(credentials)

    @cached_property
    def account(self) -> str:
        return provision.account_id(self.settings)

    def table_arn(self, short_name: str) -> str:
        return (f"arn:aws:dynamodb:{self.settings.region}:{self.account}:table/"
                f"{self.settings.name(short_name)}")

    def role_arn(self, short_name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.settings.name(short_name)}"

    @property
    def bucket(self) -> str:
        return self.settings.name(infrastructure.BUCKET)

    def audit(self, since: int = 0, action: str | None = None, decision: str | None = None,
              **fields: str) -> list[dict]:
        """The IAM gate's record of decisions (embedded emulator only), newest last.

        Other fields narrow it down too: ``principal=arn``, ``principal_key=access key id``.
        """
        return self._audit(since=since, action=action, decision=decision, **fields)["events"]

    def why(self, subject: object) -> Explanation:
        """Why the account allowed or refused a call: pass the ClientError you caught, an event
        of ``lab.audit()``, or a boto3 session (its latest call)."""
        return explain(self, subject)

    def audit_mark(self) -> int:
        """The number of the latest audit event, to ask later for what came after it."""
        return self._audit(events=0)["last"]

    def _audit(self, **query: object) -> dict:
        if not self.settings.embedded:
            raise LabError("The audit trail belongs to the embedded emulator's IAM gate.",
                           "on AWS, look at CloudTrail's AssumeRole and AccessDenied events.")
        params = {k: v for k, v in query.items() if v is not None}
        response = kit_request(self.settings, "GET", "/_lab/audit", params)
        response.raise_for_status()
        return response.json()

    @cached_property
    def tokens(self) -> TokenCache:
        return TokenCache(self.settings, self.identity)

    def id_token(self, username: str) -> str:
        """A fresh-enough ID token of a lab user (signed in once, then cached)."""
        return self.tokens.tokens(username, self.password)["IdToken"]

    def access_token(self, username: str) -> str:
        return self.tokens.tokens(username, self.password)["AccessToken"]

    def describe(self) -> str:
        lines = [
            f"Lab account: {self.settings.target}",
            f"User pool:   {self.settings.name('users')} ({self.identity.pool_id})",
            f"App client:  {self.identity.client_id}",
            "Tenants:",
        ]
        for t in self.tenants:
            lines.append(f"  {t.id:<9} {t.tier:<9} {t.deployment:<5} {', '.join(t.users)}")
        lines.append(f"Every user's password: {self.password}")
        return "\n".join(lines)


_CONNECTED: dict[Settings, Lab] = {}


def connect(quiet: bool = False, settings: Settings | None = None, fresh: bool = False) -> Lab:
    """Start (or reuse) the lab environment and return it, printing a short summary.

    ``fresh=True`` first resets the embedded account to its provisioned state,
    so a lab starts from the same data on every machine and every rerun (its
    outputs depend on it). On LocalStack or AWS it only makes sure the
    resources exist: a teardown there is slow and deliberate (`make env-reset`).
    """
    install_notebook_errors()
    settings = settings or load_settings()
    if settings.embedded:
        emulator.ensure_running(settings, lambda: provision.prepare_clients(settings))
        if fresh:
            provision.reset(settings)
            _CONNECTED.pop(settings, None)
    lab = _CONNECTED.get(settings)
    if lab is None:
        lab = Lab(settings, provision.ensure(settings))
        _CONNECTED[settings] = lab
    if not quiet:
        print(lab.describe())
        if fresh and settings.embedded:
            print("The account was reset: it holds only the provisioned tenants, users and tables.")
    return lab


def current() -> Lab:
    """The connected lab, connecting quietly if no cell has done it yet (used by checks)."""
    return connect(quiet=True)


def reset(quiet: bool = False) -> Lab:
    """Back to the freshly provisioned account: everything written by the labs is deleted."""
    settings = load_settings()
    if settings.embedded:
        return connect(quiet=quiet, settings=settings, fresh=True)
    provision.reset(settings)
    _CONNECTED.pop(settings, None)
    return connect(quiet=quiet, settings=settings)


def install_notebook_errors() -> None:
    """In IPython, show the kit's errors as advice, not tracebacks (see environment.notebook)."""
    from .notebook import install

    install()
