"""Settings: where the API is, how to authenticate, and how hard to push it.

Precedence: explicit arguments, then the environment (``BULKIO_BASE_URL``, ``BULKIO_API_KEY``, ``BULKIO_AUTH``,
``BULKIO_PROFILE``), then a TOML config file (``BULKIO_CONFIG`` or ``~/.config/bulkio/config.toml``), then defaults.
The key is sent only over https (loopback hosts excepted) and is masked in `repr`.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL_BUDGET",
    "Settings",
    "is_loopback",
]

DEFAULT_BASE_URL = "https://rest.carbon.ms"
DEFAULT_TIMEOUT = 30.0
DEFAULT_BATCH_SIZE = 500
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_RETRIES = 5
DEFAULT_PAGE_SIZE = 1000
DEFAULT_URL_BUDGET = 6000
"""Bytes a request URL may take: PostgREST accepts ~50 KiB, proxies in front of it often stop at 8 KiB."""
DEFAULT_CONFIG_FILE = Path("~/.config/bulkio/config.toml")
_AUTH_MODES = ("bearer", "carbon-key")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1): the only hosts plain http may carry a key to."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a `Client` needs. Build with `Settings.load()`; the key never shows in `repr`.

    :param base_url: the PostgREST root, e.g. ``https://rest.carbon.ms``.
    :param api_key: the Carbon API key.
    :param auth: ``bearer`` (``Authorization: Bearer``, the hosted API) or ``carbon-key`` (self-hosted).
    :param timeout: seconds for connect / read / write.
    :param max_retries: retries of a failed request (429, 502, 503, 504, connection errors) before giving up.
    :param rate_limit: requests per minute to stay under even before the server says (None: learn it from the
        ``X-RateLimit-*`` headers).
    :param page_size: rows asked per page when reading (the server may cap it, silently).
    :param batch_size: rows per write request.
    :param concurrency: requests in flight at once: pages read by an export, batches written by apply.
    :param url_budget: bytes a request URL may take (long ``in`` lists are split under it).
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    auth: str = "bearer"
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    rate_limit: int | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    url_budget: int = DEFAULT_URL_BUDGET

    def __post_init__(self) -> None:
        if isinstance(self.auth, str):
            object.__setattr__(self, "auth", self.auth.strip().lower())
        self.check()

    def __repr__(self) -> str:
        key = "'***'" if self.api_key else "None"
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "api_key")
        return f"Settings({shown}, api_key={key})"

    @classmethod
    def load(cls, *, config_file: str | Path | None = None, profile: str | None = None,
             environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from arguments (`overrides`, None meaning "not given"), environment, config file, defaults.

        :raises ConfigError: unreadable config file, unknown setting, unknown profile, or unsafe URL.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        file_values = _read_config(config_file or env.get("BULKIO_CONFIG"), profile or env.get("BULKIO_PROFILE"),
                                   explicit=config_file is not None or bool(env.get("BULKIO_CONFIG")))
        values.update(file_values)
        for name, variable in (("base_url", "BULKIO_BASE_URL"), ("api_key", "BULKIO_API_KEY"),
                               ("auth", "BULKIO_AUTH")):
            if env.get(variable):
                values[name] = env[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (checked again).

        :raises ConfigError: as `check`.
        """
        return replace(self, **changes)

    def check(self) -> None:
        """Refuse settings that would leak the key or cannot work.

        :raises ConfigError: a non-https URL to a non-loopback host, an unknown auth mode, or bad numbers.
        """
        if not isinstance(self.base_url, str):
            raise ConfigError(f"base_url must be text, not {type(self.base_url).__name__}")
        try:
            parts = urlsplit(self.base_url)
            parts.port  # noqa: B018 -- raises ValueError for a bad port
        except ValueError:
            raise ConfigError(f"base URL {_safe_url(self.base_url)!r} is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"base URL {_safe_url(self.base_url)!r} is not an http(s) URL, e.g. "
                              f"{DEFAULT_BASE_URL}")
        if parts.scheme != "https" and not is_loopback(parts.hostname):
            raise ConfigError(f"refusing to send the API key over plain http to {parts.hostname}: use https "
                              "(plain http is allowed only for loopback addresses such as the sandbox)")
        if parts.username or parts.password:
            raise ConfigError("put the API key in BULKIO_API_KEY or the config file, not in the URL")
        if self.auth not in _AUTH_MODES:
            raise ConfigError(f"auth must be one of {', '.join(_AUTH_MODES)}, not {self.auth!r}")
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key.strip()
                                         or any(c in self.api_key for c in "\r\n")):
            raise ConfigError("the API key must be one line of text")  # never shown
        numbers = {"timeout": (int, float), "page_size": (int,), "batch_size": (int,), "concurrency": (int,),
                   "url_budget": (int,), "max_retries": (int,), "rate_limit": (int, type(None))}
        for name, types in numbers.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, types):
                raise ConfigError(f"{name} must be a number, not {value!r}")
            if value is not None and (value < 0 if name == "max_retries" else value <= 0):
                raise ConfigError(f"{name} must be {'0 or more' if name == 'max_retries' else 'positive'}, "
                                  f"not {value!r}")

    def require_key(self) -> str:
        """The API key, or a ConfigError that says where to put one."""
        if not self.api_key:
            raise ConfigError("no API key: set BULKIO_API_KEY, or api_key in the config file "
                              f"({DEFAULT_CONFIG_FILE})")
        return self.api_key


def _safe_url(url: str) -> str:
    """`url` without any user-info part (which may hold a secret), for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return f"{scheme}{sep}{host}{slash}{path}"


def _read_config(path: str | Path | None, profile: str | None, *, explicit: bool) -> dict[str, Any]:
    """One profile's settings from the TOML config file ({} when there is none and none was named)."""
    file = Path(path).expanduser() if path else DEFAULT_CONFIG_FILE.expanduser()
    if not file.exists():
        if explicit:
            raise ConfigError(f"config file {file} does not exist")
        if profile is not None:
            raise ConfigError(f"profile {profile!r} was asked for, but there is no config file ({file})")
        return {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from None
    profiles = data.pop("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError(f"config file {file}: profiles must be tables, e.g. [profiles.staging]")
    if profile is not None:
        if profile not in profiles:
            raise ConfigError(f"config file {file} has no [profiles.{profile}]; it has: "
                              f"{', '.join(sorted(profiles)) or 'none'}")
        data.update(profiles[profile])
    return data
