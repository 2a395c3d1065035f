"""Prompt templates kept as files (prompts/*.md, TOML front matter between +++ lines), served as
MCP prompts with described arguments."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

PACKAGE_DIR = Path(__file__).resolve().parent


def prompts_dir() -> Path:
    """Inside an installed wheel the files ship as _prompts/; in a checkout they are at the top."""
    for candidate in (PACKAGE_DIR / "_prompts", PACKAGE_DIR.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("prompt templates not found (expected prompts/*.md)")


class FilePrompt(Prompt):
    """A missing argument is the caller's mistake (invalid params), not an internal error."""

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> Any:
        missing = sorted(
            a.name for a in self.arguments or [] if a.required and not (arguments or {}).get(a.name)
        )
        if missing:
            raise MCPError(
                code=INVALID_PARAMS, message=f"Missing required prompt argument(s): {', '.join(missing)}"
            )
        return await super().render(arguments, context)


@dataclass(frozen=True)
class PromptFile:
    name: str
    title: str
    description: str
    arguments: list[PromptArgument]
    template: str

    def render(self, **values: Any) -> str:
        missing = {a.name: "(not given)" for a in self.arguments}
        return self.template.format_map(missing | {k: v for k, v in values.items() if v is not None})

    def as_prompt(self) -> Prompt:
        def render(**values: Any) -> str:
            return self.render(**values)

        return FilePrompt(
            name=self.name,
            title=self.title,
            description=self.description,
            arguments=self.arguments,
            fn=render,
            context_kwarg=None,
        )


def parse(path: Path) -> PromptFile:
    text = path.read_text(encoding="utf-8")
    _, front, body = text.split("+++", 2)
    meta = tomllib.loads(front)
    return PromptFile(
        name=meta["name"],
        title=meta.get("title", meta["name"]),
        description=meta["description"],
        arguments=[PromptArgument(**a) for a in meta.get("arguments", [])],
        template=body.strip() + "\n",
    )


def load_prompts(directory: Path | None = None) -> list[PromptFile]:
    return [parse(p) for p in sorted((directory or prompts_dir()).glob("*.md"))]
