"""A bounded fuzz of every route in the OpenAPI description (schemathesis, over real HTTP against ``xinqiao
serve`` on SQLite and PostgreSQL): no input gives a 500, and every status the service answers is one the
description lists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.serving import database_env, serving, staff_token

EXAMPLES_PER_OPERATION = "100"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_no_input_to_any_route_gives_a_server_error_or_an_undocumented_status(kind: str, tmp_path: Path) -> None:
    env = database_env(kind, tmp_path)
    token = staff_token(env)
    with serving(env, tmp_path) as served:
        # A real case, so that case routes are reached with an id that exists as well as with ones that do not.
        status, _ = served.call(
            "POST", "/api/v1/web/messages", {"session_id": "f" * 20, "text": "我不想活了，药准备好了"}
        )
        assert status == 200
        fuzz = subprocess.run(  # noqa: S603 - the project's own dev tool
            [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{served.base}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,status_code_conformance",
                # The event stream never ends by design; its auth is covered by the service tests.
                "--exclude-path",
                "/api/v1/events",
                "--max-examples",
                EXAMPLES_PER_OPERATION,
                "--seed",
                "8",
                "--generation-database",
                "none",
                "--request-timeout",
                "10",
                "--no-color",
            ],
            cwd=tmp_path,  # schemathesis keeps a cache of what it found in the working folder
            env={**os.environ, **env},
            capture_output=True,
            timeout=600,
            check=False,
        )
        report = fuzz.stdout.decode(errors="replace")
        assert fuzz.returncode == 0, report[-6000:]
        assert " passed" in report
        assert "generated" in report
