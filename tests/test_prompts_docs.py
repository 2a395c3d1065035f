"""Prompt files served as MCP prompts, read-only mode, and the generated tool table in docs/tools.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import READ_TOOLS, Connect
from toggl_groups_mcp import prompts
from toggl_groups_mcp.docs import render_readme
from toggl_groups_mcp.prompts import load_prompts

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


async def test_every_prompt_file_is_served_with_described_arguments(connect: Connect) -> None:
    files = sorted(p.stem for p in (ROOT / "prompts").glob("*.md"))
    assert len(files) >= 4
    async with connect() as client:
        prompts = (await client.list_prompts()).prompts
    assert {p.name for p in prompts} == {p.name for p in load_prompts()}
    assert len(prompts) == len(files)
    for prompt in prompts:
        assert prompt.description
        assert prompt.arguments, prompt.name
        for argument in prompt.arguments:
            assert argument.description, f"{prompt.name}.{argument.name}"
        assert any(a.required for a in prompt.arguments)


@pytest.mark.parametrize(
    "name", ["onboard_team", "change_project_access", "audit_project_access", "offboard_person"]
)
async def test_a_prompt_renders_its_arguments_and_names_only_real_tools(connect: Connect, name: str) -> None:
    async with connect() as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        tools = {t.name for t in (await client.list_tools()).tools}
        args = {a.name: f"<{a.name}-value>" for a in listed[name].arguments or []}
        result = await client.get_prompt(name, args)
    text = result.messages[0].content.text  # type: ignore[union-attr]
    for value in args.values():
        assert value in text
    mentioned = {word.strip("`.,:;()") for word in text.split() if "_" in word}
    tool_like = {
        w
        for w in mentioned
        if w.startswith(("list_", "create_", "add_", "remove_", "patch_", "update_", "delete_", "get_"))
    }
    assert tool_like, "a prompt should name the tools to use"
    assert tool_like <= tools, tool_like - tools


async def test_destructive_prompts_tell_the_model_to_confirm_with_the_user(connect: Connect) -> None:
    async with connect() as client:
        for name, args in (
            ("offboard_person", {"person": "Ann"}),
            ("change_project_access", {"group": "G", "projects": "P", "action": "revoke"}),
        ):
            text = (await client.get_prompt(name, args)).messages[0].content.text  # type: ignore[union-attr]
            assert "confirm" in text and "explicit yes" in text


async def test_a_missing_required_prompt_argument_is_refused(connect: Connect) -> None:
    async with connect() as client:
        with pytest.raises(Exception, match="person"):
            await client.get_prompt("offboard_person", {})


async def test_read_only_mode_lists_no_tool_that_writes(connect: Connect) -> None:
    async with connect(read_only=True) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == READ_TOOLS
    assert all(t.annotations and t.annotations.read_only_hint is True for t in tools)


async def test_read_only_mode_refuses_a_write_tool_by_name(connect: Connect) -> None:
    async with connect(read_only=True) as client:
        result = await client.call_tool(
            "delete_group", {"organization_id": 1, "group_id": 2, "confirm": True}
        )
    assert result.is_error
    assert "Unknown tool" in result.content[0].text  # type: ignore[union-attr]


def test_the_docs_tool_table_matches_the_declarations() -> None:
    page = (ROOT / "docs" / "tools.md").read_text(encoding="utf-8")
    assert render_readme(page) == page, (
        "docs/tools.md tool table drifted: run python -m toggl_groups_mcp.docs docs/tools.md"
    )


def test_prompt_files_ship_inside_the_wheel() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"prompts" = "toggl_groups_mcp/_prompts"' in pyproject


def test_an_installed_package_reads_its_shipped_prompts_before_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The layout of an installed wheel: site-packages/toggl_groups_mcp/_prompts/*.md, with an
    # unrelated prompts/ beside the package that must not be picked up.
    package = tmp_path / "toggl_groups_mcp"
    (package / "_prompts").mkdir(parents=True)
    (tmp_path / "prompts").mkdir()
    source = ROOT / "prompts" / "offboard_person.md"
    (package / "_prompts" / "offboard_person.md").write_text(
        source.read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.setattr(prompts, "PACKAGE_DIR", package)
    assert prompts.prompts_dir() == package / "_prompts"
    assert [p.name for p in prompts.load_prompts()] == ["offboard_person"]
