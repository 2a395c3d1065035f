"""One sandbox: its store, its fault knobs, its request log and its ASGI app."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from .app import SandboxApp
from .config import SandboxConfig
from .faults import Faults
from .store import Store

_NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")


class Sandbox:
    """A stateful fake of the Toggl Track API v9 groups endpoints (and the look-ups around them).

    ``app`` is the ASGI application; serve it with ``running_sandbox`` or ``SandboxThread`` (needed
    for dropped connections), or hand it to ``httpx.ASGITransport`` for in-process tests.
    """

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or SandboxConfig(), **overrides)
        self.store = Store(
            self.config.token,
            self.config.state_path,
            large_org=self.config.large_org,
            other_tokens=self.config.other_tokens,
        )
        self.faults = Faults(self.config)
        self.requests: list[dict[str, Any]] = []
        self._sequence = itertools.count(1)
        self._log_lock = threading.Lock()
        self.app = SandboxApp(self)

    @property
    def token(self) -> str:
        return self.config.token

    def reset(self, *, keep_faults: bool = False) -> None:
        """Demo data back (with the large organization if the config says ``large_org``), request
        log emptied; knobs back to the config unless ``keep_faults``."""
        self.store.reset()
        with self._log_lock:
            self.requests.clear()
        if not keep_faults:
            self.faults.apply_config(self.config)

    def log_request(self, method: str, path: str, query_string: bytes, body: bytes) -> dict[str, Any]:
        """Record a request under /api/v9 (never its headers, so never its credentials).

        ``status`` stays None while the request is in flight and when its connection was dropped.
        """
        query_text = query_string.decode("latin-1")
        entry: dict[str, Any] = {
            "seq": next(self._sequence),
            "time": time.time(),
            "method": method,
            "path": path,
            "query": dict(parse_qsl(query_text, keep_blank_values=True)),
            "query_string": query_text,
            "json": None,
            "status": None,
            "fault": None,
        }
        if body:
            try:
                entry["json"] = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                entry["body"] = body.decode("utf-8", "replace")
        with self._log_lock:
            self.requests.append(entry)
        return entry

    def request_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(entry) for entry in self.requests]

    def stats(self) -> dict[str, Any]:
        log = self.request_log()
        by_status = Counter(str(e["status"]) for e in log if e["status"] is not None)
        by_endpoint = Counter(f"{e['method']} {_NUMBER_SEGMENT.sub('/{id}', e['path'])}" for e in log)
        by_fault = Counter(e["fault"] for e in log if e["fault"])
        quota = {}
        for org_id in self.store.my_organization_ids():
            remaining, resets_in, total = self.faults.quota_status(org_id)
            quota[str(org_id)] = {"remaining": remaining, "resets_in_secs": resets_in, "total": total}
        remaining, resets_in, total = self.faults.quota_status(None)
        quota["user"] = {"remaining": remaining, "resets_in_secs": resets_in, "total": total}
        return {
            "requests": len(log),
            "by_status": dict(by_status),
            "by_endpoint": dict(by_endpoint),
            "by_fault": dict(by_fault),
            "quota": quota,
        }
