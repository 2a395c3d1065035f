"""Settings read once from the environment, and the command line failing early and quietly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from toggl_groups_mcp.config import DEFAULT_API_URL, ConfigError, Settings

TOKEN = "tok-5e1f0c9a7b3d"


def test_a_missing_token_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="TOGGL_API_TOKEN"):
        Settings.from_env({})


def test_a_blank_token_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="TOGGL_API_TOKEN"):
        Settings.from_env({"TOGGL_API_TOKEN": "   "})


def test_defaults_apply_when_only_the_token_is_set() -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": TOKEN})
    assert settings.api_token.get_secret_value() == TOKEN
    assert settings.api_url == DEFAULT_API_URL == "https://api.track.toggl.com/api/v9"
    assert settings.timeout == 20.0
    assert settings.organization_id is None and settings.workspace_id is None
    assert settings.read_only is False


def test_the_environment_sets_ids_url_timeout_and_read_only() -> None:
    settings = Settings.from_env(
        {
            "TOGGL_API_TOKEN": TOKEN,
            "TOGGL_API_URL": "http://127.0.0.1:9999/api/v9/",
            "TOGGL_TIMEOUT": "7.5",
            "TOGGL_ORGANIZATION_ID": " 12 ",
            "TOGGL_WORKSPACE_ID": "34",
            "TOGGL_MCP_READ_ONLY": "true",
        }
    )
    assert settings.api_url == "http://127.0.0.1:9999/api/v9"
    assert settings.timeout == 7.5
    assert (settings.organization_id, settings.workspace_id) == (12, 34)
    assert settings.read_only is True


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
@pytest.mark.parametrize("variable", ["TOGGL_ORGANIZATION_ID", "TOGGL_WORKSPACE_ID"])
def test_an_invalid_id_is_an_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({"TOGGL_API_TOKEN": TOKEN, variable: value})


def test_an_invalid_timeout_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="TOGGL_TIMEOUT"):
        Settings.from_env({"TOGGL_API_TOKEN": TOKEN, "TOGGL_TIMEOUT": "soon"})


def test_the_token_never_shows_in_repr_or_str() -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": TOKEN, "TOGGL_MCP_HTTP_TOKEN": "http-secret-42"})
    for text in (repr(settings), str(settings), repr(settings.with_(read_only=True))):
        assert TOKEN not in text
        assert "http-secret-42" not in text


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": TOKEN})
    with pytest.raises(AttributeError):
        settings.timeout = 1.0  # type: ignore[misc]


def test_the_server_without_a_token_exits_at_once_with_one_line_on_stderr_and_nothing_on_stdout() -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TOGGL_") and key not in ("PYTHONSTARTUP",)
    }
    completed = subprocess.run(
        [sys.executable, "-m", "toggl_groups_mcp"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode != 0
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "TOGGL_API_TOKEN" in lines[0]
