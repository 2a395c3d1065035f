"""Settings read once from the environment, and the command line failing early and quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

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
        cwd=Path(__file__).resolve().parents[1],
    )
    assert completed.returncode != 0
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "TOGGL_API_TOKEN" in lines[0]


# -- boolean settings: strict, failing closed -------------------------------------------------------

BOOLEANS = {"TOGGL_MCP_READ_ONLY": "read_only", "TOGGL_MCP_TRUST_CONFIRM": "trust_confirm"}
TRUE_SPELLINGS = ["1", "true", "yes", "on", "TRUE", "Yes", " on ", "\tOn\n"]
FALSE_SPELLINGS = ["", "   ", "0", "false", "no", "off", "FALSE", " Off "]
BAD_SPELLINGS = ["enabled", "y", "2", "read-only", "t", "-1", "truthy", "no way"]


def command_env(**settings: str) -> dict[str, str]:
    """The parent's environment without any TOGGL_ setting, plus `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TOGGL_") and key not in ("PYTHONSTARTUP",)
    }
    return {**env, **settings}


def run_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "toggl_groups_mcp", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )


@pytest.mark.parametrize("value", TRUE_SPELLINGS)
@pytest.mark.parametrize("variable", BOOLEANS)
def test_every_boolean_setting_reads_the_usual_spellings_of_true(variable: str, value: str) -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": TOKEN, variable: value})
    assert getattr(settings, BOOLEANS[variable]) is True


@pytest.mark.parametrize("value", FALSE_SPELLINGS)
@pytest.mark.parametrize("variable", BOOLEANS)
def test_every_boolean_setting_reads_the_usual_spellings_of_false_and_blank_as_false(
    variable: str, value: str
) -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": TOKEN, variable: value})
    assert getattr(settings, BOOLEANS[variable]) is False


@pytest.mark.parametrize("value", BAD_SPELLINGS)
@pytest.mark.parametrize("variable", BOOLEANS)
def test_an_unrecognised_boolean_value_is_an_error_naming_the_variable_the_value_and_the_accepted_ones(
    variable: str, value: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"TOGGL_API_TOKEN": TOKEN, variable: value})
    message = str(raised.value)
    assert "\n" not in message
    assert variable in message
    assert repr(value) in message
    for accepted in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        assert accepted in message


def test_trust_confirm_is_off_unless_the_environment_turns_it_on() -> None:
    assert Settings.from_env({"TOGGL_API_TOKEN": TOKEN}).trust_confirm is False
    assert Settings.from_env({"TOGGL_API_TOKEN": TOKEN, "TOGGL_MCP_TRUST_CONFIRM": "1"}).trust_confirm is True
    assert Settings(api_token=SecretStr(TOKEN)).trust_confirm is False


@pytest.mark.parametrize("value", ["enabled", "y", "2", "read-only"])
def test_the_server_with_an_unrecognised_read_only_value_exits_2_with_one_line_and_registers_nothing(
    value: str,
) -> None:
    completed = run_command(command_env(TOGGL_API_TOKEN=TOKEN, TOGGL_MCP_READ_ONLY=value))
    assert completed.returncode == 2
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("toggl-groups-mcp: ")
    assert "TOGGL_MCP_READ_ONLY" in lines[0] and repr(value) in lines[0]


def test_the_server_with_an_unrecognised_trust_confirm_value_exits_2_with_one_line() -> None:
    completed = run_command(command_env(TOGGL_API_TOKEN=TOKEN, TOGGL_MCP_TRUST_CONFIRM="always"))
    assert completed.returncode == 2
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "TOGGL_MCP_TRUST_CONFIRM" in lines[0] and "'always'" in lines[0]


def test_an_unknown_log_level_exits_2_with_one_line_naming_the_option() -> None:
    completed = run_command(command_env(TOGGL_API_TOKEN=TOKEN), "--log-level", "chatty")
    assert completed.returncode == 2
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "--log-level" in lines[0] and "'chatty'" in lines[0]


def test_the_text_and_time_budgets_are_read_from_the_environment() -> None:
    env = {"TOGGL_API_TOKEN": "t", "TOGGL_MCP_TEXT_BUDGET": "8000", "TOGGL_MCP_BULK_SECONDS": "12.5"}
    settings = Settings.from_env(env)
    assert (settings.text_budget, settings.bulk_seconds) == (8000, 12.5)
    defaults = Settings.from_env({"TOGGL_API_TOKEN": "t"})
    assert (defaults.text_budget, defaults.bulk_seconds) == (20_000, 40.0)


@pytest.mark.parametrize(
    ("name", "value"), [("TOGGL_MCP_TEXT_BUDGET", "lots"), ("TOGGL_MCP_BULK_SECONDS", "-1")]
)
def test_a_bad_budget_is_an_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"TOGGL_API_TOKEN": "t", name: value})


# -- the key that seals confirmations (TOGGL_MCP_STATE_KEY) -------------------------------------------

STATE_KEY = "4f6b2c9e0d1a3b5c7e9f1a2b3c4d5e6f"  # 32 bytes


def test_the_state_key_is_read_from_the_environment_and_never_shows_in_repr() -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": TOKEN, "TOGGL_MCP_STATE_KEY": f" {STATE_KEY} "})
    assert settings.state_key is not None and settings.state_key.get_secret_value() == STATE_KEY
    assert STATE_KEY not in repr(settings)
    assert Settings.from_env({"TOGGL_API_TOKEN": TOKEN}).state_key is None


def test_a_state_key_under_32_bytes_is_an_error_naming_the_variable_and_not_the_value() -> None:
    short = STATE_KEY[:31]
    with pytest.raises(ConfigError, match="TOGGL_MCP_STATE_KEY must be at least 32 bytes") as refused:
        Settings.from_env({"TOGGL_API_TOKEN": TOKEN, "TOGGL_MCP_STATE_KEY": short})
    assert short not in str(refused.value)
    assert "got 31" in str(refused.value)


def test_the_server_with_a_short_state_key_exits_2_with_one_line_that_does_not_show_it() -> None:
    completed = run_command(command_env(TOGGL_API_TOKEN=TOKEN, TOGGL_MCP_STATE_KEY="short-key-1234"))
    assert completed.returncode == 2
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "TOGGL_MCP_STATE_KEY" in lines[0], lines
    assert "short-key-1234" not in lines[0]


# -- the proxies whose X-Forwarded-For is believed (TOGGL_MCP_TRUSTED_PROXIES) -------------------------


def test_trusted_proxies_are_addresses_or_networks_and_reach_uvicorn() -> None:
    from toggl_groups_mcp.http import uvicorn_options

    settings = Settings.from_env(
        {"TOGGL_API_TOKEN": TOKEN, "TOGGL_MCP_TRUSTED_PROXIES": " 10.0.0.5, 172.16.0.0/12,"}
    )
    assert settings.trusted_proxies == ("10.0.0.5", "172.16.0.0/12")
    assert uvicorn_options(settings)["forwarded_allow_ips"] == ["10.0.0.5", "172.16.0.0/12"]
    # Unset: uvicorn's own default (loopback), not "trust everyone".
    assert uvicorn_options(Settings.from_env({"TOGGL_API_TOKEN": TOKEN}))["forwarded_allow_ips"] is None


@pytest.mark.parametrize("value", ["proxy.example", "10.0.0.0/33", "10.0.0.1 10.0.0.2"])
def test_a_trusted_proxy_that_is_not_an_address_stops_the_server_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="TOGGL_MCP_TRUSTED_PROXIES must be a comma list"):
        Settings.from_env({"TOGGL_API_TOKEN": TOKEN, "TOGGL_MCP_TRUSTED_PROXIES": value})
