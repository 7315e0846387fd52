"""One settings object that every part of the kit reads.

The same notebooks run against the embedded emulator (default), LocalStack or a
real AWS account. Only this object knows which: the endpoint, the region, the
credentials and the prefix that keeps our resources apart from anything else in
the account. Everything else asks it for boto3 clients.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader, create_loader

DEFAULT_PORT = 4566  # LocalStack's edge port, so localstack-client works unchanged.
DEFAULT_REGION = "us-east-1"
DEFAULT_PREFIX = "saas-lab-"
DEFAULT_EMF_PORT = 25888  # the CloudWatch agent's EMF port, which aws-embedded-metrics targets
EMULATOR_ACCOUNT = "123456789012"  # moto's default account, where everything embedded lives
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where the lab's AWS account is, and how to talk to it.

    ``endpoint`` is None for real AWS (boto3 then uses its usual credential
    chain and endpoints). ``embedded`` says whether the kit itself runs the
    emulator on that endpoint, which is what allows starting, resetting and
    seeding it.
    """

    endpoint: str | None = f"http://127.0.0.1:{DEFAULT_PORT}"
    region: str = DEFAULT_REGION
    access_key: str | None = "test"
    secret_key: str | None = "test"
    prefix: str = DEFAULT_PREFIX
    embedded: bool = True
    state_dir: Path = field(default=REPO_ROOT / ".lab")
    emf_port: int = DEFAULT_EMF_PORT

    @property
    def host(self) -> str:
        return urlparse(self.endpoint or "").hostname or ""

    @property
    def port(self) -> int:
        return urlparse(self.endpoint or "").port or DEFAULT_PORT

    @property
    def emf_endpoint(self) -> str:
        """The EMF agent's address, as ``AWS_EMF_AGENT_ENDPOINT`` wants it.

        On real AWS this is the CloudWatch agent on the same host; on the embedded emulator it
        is the emulator's own agent listener (``environment.emulator.emf``).
        """
        return f"tcp://127.0.0.1:{self.emf_port}"

    def emf_environ(self) -> dict[str, str]:
        """The variables that point ``aws-embedded-metrics`` at the agent (agent mode, not
        stdout): set them before the library is imported, or copy them into its config."""
        return {"AWS_EMF_AGENT_ENDPOINT": self.emf_endpoint, "AWS_EMF_ENVIRONMENT": "Default"}

    @property
    def target(self) -> str:
        """A short human name for where requests go, for messages and notebook headers."""
        if self.endpoint is None:
            return f"real AWS ({self.region})"
        kind = "embedded emulator" if self.embedded else "custom endpoint"
        return f"{kind} at {self.endpoint}"

    def name(self, short: str) -> str:
        """The full name of one of our resources (tables, pools, queues)."""
        return f"{self.prefix}{short}"

    def session(self, credentials: Mapping[str, str] | None = None) -> EndpointSession:
        """A boto3 session bound to the lab's endpoint and region.

        Without ``credentials`` it carries the kit's own keys (or, on real AWS, boto3's usual
        chain). With the ``Credentials`` that STS returns, it is that role session: all three
        parts go in, because the session token is what carries the role, its session policy
        and its tags; a key id and secret without it are refused.
        """
        if credentials is not None:
            return EndpointSession(self.endpoint,
                                   aws_access_key_id=credentials["AccessKeyId"],
                                   aws_secret_access_key=credentials["SecretAccessKey"],
                                   aws_session_token=credentials["SessionToken"],
                                   region_name=self.region)
        if self.endpoint is None:
            return EndpointSession(None, region_name=self.region)
        return EndpointSession(self.endpoint, aws_access_key_id=self.access_key,
                               aws_secret_access_key=self.secret_key, region_name=self.region)

    def client(self, service: str):
        """A boto3 client pointed at the lab account, with the kit's own credentials.

        Clients are cached: building one costs tens of milliseconds, and provisioning and
        checks ask for the same few often.
        """
        return _cached_client(self, service)

    def _new_client(self, service: str):
        return self.session().client(
            service,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                          read_timeout=30),
        )

    def resource(self, service: str):
        return self.session().resource(service)


class EndpointSession(boto3.Session):
    """A boto3 Session whose clients and resources go to one endpoint (None: AWS's own).

    boto3 keeps the endpoint per client, not per session; binding it here means a session
    of the lab cannot by mistake talk to real AWS with the lab's credentials.
    """

    def __init__(self, endpoint: str | None, **kwargs: Any) -> None:
        if kwargs.get("botocore_session") is None:
            core = botocore.session.get_session()
            core.register_component("data_loader",
                                    _shared_loader(core.get_config_variable("data_path")))
            kwargs["botocore_session"] = core
        super().__init__(**kwargs)
        # boto3 adds its own data folder to the loader of every session it builds: once is enough.
        paths = self._loader.search_paths
        paths[:] = list(dict.fromkeys(paths))
        self.endpoint = endpoint

    def client(self, service_name: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        if kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint
        return super().client(service_name, *args, **kwargs)

    def resource(self, service_name: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        if kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint
        return super().resource(service_name, *args, **kwargs)


_LOADER: list[Loader] = []
_LOADER_LOCK = Lock()


def _shared_loader(data_path: str | None) -> Loader:
    """One botocore data loader for every session of the kit in this process.

    Each new boto3 session otherwise parses botocore's endpoint list and the service models
    again (JSON files of megabytes: tens of milliseconds each), and a check builds a session
    per set of vended credentials. The loader only reads files that ship with botocore and
    boto3 (and AWS_DATA_PATH, read once); credentials, config and clients stay per session.
    """
    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(create_loader(data_path))
        return _LOADER[0]


_CLIENTS: dict[tuple[Settings, str], object] = {}
_CLIENTS_LOCK = Lock()


def _cached_client(settings: Settings, service: str):
    with _CLIENTS_LOCK:
        key = (settings, service)
        if key not in _CLIENTS:
            _CLIENTS[key] = settings._new_client(service)
        return _CLIENTS[key]


def clear_clients() -> None:
    """Forget every cached client (benchmarks use it to measure a cold start honestly)."""
    with _CLIENTS_LOCK:
        _CLIENTS.clear()


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from environment variables.

    ``LAB_ENDPOINT`` wins, then the standard ``AWS_ENDPOINT_URL``; the value
    ``aws`` means a real account. Without either, the embedded emulator listens
    on ``LAB_PORT`` (default 4566). Its EMF agent listens on ``LAB_EMF_PORT`` (default 25888,
    the CloudWatch agent's port). An endpoint on loopback counts as embedded
    unless ``LAB_EMBEDDED=0`` says LocalStack (or another emulator) runs there.
    """
    env = os.environ if environ is None else environ
    region = env.get("LAB_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    prefix = env.get("LAB_PREFIX", DEFAULT_PREFIX)
    state_dir = Path(env.get("LAB_STATE_DIR") or REPO_ROOT / ".lab")
    emf_port = int(env.get("LAB_EMF_PORT") or DEFAULT_EMF_PORT)
    endpoint = (env.get("LAB_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or "").strip()
    if endpoint.lower() == "aws":
        return Settings(endpoint=None, region=region, access_key=None, secret_key=None,
                        prefix=prefix, embedded=False, state_dir=state_dir, emf_port=emf_port)
    if not endpoint:
        port = env.get("LAB_PORT") or str(DEFAULT_PORT)
        endpoint = f"http://127.0.0.1:{port}"
    endpoint = endpoint.rstrip("/")
    loopback = urlparse(endpoint).hostname in LOOPBACK_HOSTS
    embedded = loopback and env.get("LAB_EMBEDDED", "1") != "0"
    return Settings(
        endpoint=endpoint,
        region=region,
        # Emulators accept any key; fixed ones keep a developer's real keys off the wire.
        access_key="test",
        secret_key="test",
        prefix=prefix,
        embedded=embedded,
        state_dir=state_dir,
        emf_port=emf_port,
    )
