"""A schema-driven fuzzer (schemathesis, from PyPI) against a real `histo
serve`, from the OpenAPI document the server publishes: no 5xx, no status,
content type or body the document does not describe, and bad requests
refused. Bounded: a fixed number of examples per operation and a seed."""

import subprocess
import sys
from pathlib import Path

from support.serve import TOKEN, Server, server_env

ST = Path(sys.executable).with_name("st")


def test_every_answer_is_one_the_document_describes(histo_bin, tmp_path):
    # The fuzzer tries wrong and missing tokens on purpose: a high failure
    # budget keeps it from being blocked (429) before it reaches the routes.
    server = Server(histo_bin, tmp_path, server_env(HISTO_TOKEN=TOKEN), args=("--auth-max-failures", "1000000"))
    try:
        run = subprocess.run(
            [
                ST, "run", f"{server.url}/openapi.json",
                "--header", f"Authorization: Bearer {TOKEN}",
                "--checks", "all",
                # Schema-valid is not enough for /upload to accept a request:
                # the body must be an image (random bytes never are) and a
                # CLAHE setting needs method=clahe, which OpenAPI cannot say
                # of query parameters. Everything else is checked.
                "--exclude-checks", "positive_data_acceptance",
                "--max-examples", "100", "--seed", "1", "--workers", "1", "--no-shrink",
                "--request-timeout", "20",
            ],
            capture_output=True, text=True, timeout=600,
        )
    finally:
        assert server.stop() == 0
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "panicked" not in server.output()
