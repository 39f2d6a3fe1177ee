"""Settings: precedence (arguments > environment > config file > defaults), https off loopback, a masked key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkio.config import (
    DEFAULT_BASE_URL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_URL_BUDGET,
    Settings,
    is_loopback,
)
from bulkio.errors import ConfigError

KEY = "sk_live_Secret-Key-0123456789"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real config file or variable leaks into these tests."""
    for name in ("BULKIO_BASE_URL", "BULKIO_API_KEY", "BULKIO_AUTH", "BULKIO_CONFIG", "BULKIO_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    s = Settings.load()
    assert (s.base_url, s.api_key, s.auth) == (DEFAULT_BASE_URL, None, "bearer")
    assert DEFAULT_BASE_URL == "https://rest.carbon.ms"
    assert s.batch_size == DEFAULT_BATCH_SIZE and s.url_budget == DEFAULT_URL_BUDGET == 6000
    assert s.timeout > 0 and s.concurrency >= 1 and s.max_retries >= 1


def test_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        Settings("https://x.example")  # type: ignore[misc]
    s = Settings(api_key=KEY)
    with pytest.raises(AttributeError):
        s.api_key = "other"  # type: ignore[misc]


def test_precedence_arguments_then_environment_then_file_then_defaults(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _config(tmp_path, 'base_url = "https://file.example"\napi_key = "file-key"\nauth = "carbon-key"\n'
                             "batch_size = 50\ntimeout = 7\n")
    monkeypatch.setenv("BULKIO_CONFIG", str(path))
    s = Settings.load()
    assert (s.base_url, s.api_key, s.auth, s.batch_size, s.timeout) == (
        "https://file.example", "file-key", "carbon-key", 50, 7)

    monkeypatch.setenv("BULKIO_BASE_URL", "https://env.example")
    monkeypatch.setenv("BULKIO_API_KEY", "env-key")
    monkeypatch.setenv("BULKIO_AUTH", "bearer")
    s = Settings.load()
    assert (s.base_url, s.api_key, s.auth, s.batch_size) == ("https://env.example", "env-key", "bearer", 50)

    s = Settings.load(base_url="https://arg.example", api_key="arg-key", batch_size=None, concurrency=2)
    assert (s.base_url, s.api_key, s.batch_size, s.concurrency) == ("https://arg.example", "arg-key", 50, 2)


def test_default_config_file_in_home(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".config" / "bulkio" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('api_key = "home-key"\n', encoding="utf-8")
    assert Settings.load().api_key == "home-key"


def test_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path, 'api_key = "main"\n[profiles.local]\nbase_url = "http://127.0.0.1:8080"\n'
                             'api_key = "local"\n')
    assert Settings.load(config_file=path).api_key == "main"
    s = Settings.load(config_file=path, profile="local")
    assert (s.base_url, s.api_key) == ("http://127.0.0.1:8080", "local")
    monkeypatch.setenv("BULKIO_PROFILE", "local")
    assert Settings.load(config_file=path).api_key == "local"
    with pytest.raises(ConfigError, match=r"no \[profiles\.staging\]; it has: local"):
        Settings.load(config_file=path, profile="staging")


@pytest.mark.parametrize(("text", "message"), [
    ("api_key = ", "cannot read config file"),
    ('colour = "blue"\n', "unknown setting.*colour"),
    ('auth = "basic"\n', "auth must be one of bearer, carbon-key"),
    ('timeout = "soon"\n', "timeout must be a number"),
    ("batch_size = 0\n", "batch_size must be positive"),
    ("max_retries = -1\n", "max_retries must be 0 or more"),
    ("profiles = 3\n", "profiles must be tables"),
])
def test_bad_config_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load(config_file=_config(tmp_path, text))


def test_missing_explicit_config_file_and_profile_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(config_file=tmp_path / "nope.toml")
    monkeypatch.setenv("BULKIO_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load()
    monkeypatch.delenv("BULKIO_CONFIG")
    with pytest.raises(ConfigError, match="no config file"):
        Settings.load(profile="prod")


def test_auth_is_normalised() -> None:
    assert Settings(auth=" Carbon-Key ").auth == "carbon-key"


@pytest.mark.parametrize("url", [
    "https://rest.carbon.ms", "https://carbon.example.com:8443/rest/v1",
    "http://127.0.0.1:3000", "http://127.8.9.10", "http://localhost:54321", "http://LOCALHOST", "http://[::1]:8000",
])
def test_allowed_urls(url: str) -> None:
    assert Settings(base_url=url, api_key=KEY).base_url == url


@pytest.mark.parametrize("url", [
    "http://rest.carbon.ms", "http://10.0.0.5:3000", "http://192.168.1.2", "http://128.0.0.1",
    "http://127.0.0.1.evil.example", "http://localhost.evil.example", "http://sub.localhost",
    "http://[::2]", "http://2130706433",
])
def test_plain_http_refused_off_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="https"):
        Settings(base_url=url, api_key=KEY)


@pytest.mark.parametrize("url", ["ftp://example.com", "rest.carbon.ms", "https://", "https://h:port"])
def test_not_a_url(url: str) -> None:
    with pytest.raises(ConfigError, match="URL"):
        Settings(base_url=url)


def test_checks_run_on_every_construction_path(monkeypatch: pytest.MonkeyPatch) -> None:
    ok = Settings(base_url="https://a.example", api_key=KEY)
    with pytest.raises(ConfigError):
        ok.with_(base_url="http://a.example")
    monkeypatch.setenv("BULKIO_BASE_URL", "http://a.example")
    with pytest.raises(ConfigError):
        Settings.load()


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.255.0.9") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("localhost") and is_loopback("localhost.")
    assert not is_loopback("example.com") and not is_loopback("0.0.0.0") and not is_loopback("")


def test_key_masked_in_repr_and_str() -> None:
    s = Settings(base_url="https://rest.carbon.ms", api_key=KEY)
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert KEY not in text
        assert "api_key='***'" in text
    assert "api_key=None" in repr(Settings())


@pytest.mark.parametrize("url", [f"http://user:{KEY}@example.com", f"https://{KEY}@example.com",
                                 f"ftp://x:{KEY}@example.com", f"http://x:{KEY}@h:badport"])
def test_key_in_a_url_never_echoed(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings(base_url=url)
    assert KEY not in str(info.value) and KEY not in repr(info.value)


def test_key_never_in_errors_about_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Settings(api_key=KEY + "\n")
    assert KEY not in str(info.value)
    path = _config(tmp_path, f'api_key = "{KEY}"\nbatch_size = "many"\n')
    with pytest.raises(ConfigError) as info:
        Settings.load(config_file=path)
    assert KEY not in str(info.value)


def test_require_key_says_where_to_put_one() -> None:
    with pytest.raises(ConfigError, match="BULKIO_API_KEY"):
        Settings().require_key()
    assert Settings(api_key=KEY).require_key() == KEY
