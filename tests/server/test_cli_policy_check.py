"""`serve` and `up` refuse to start on a policy folder that does not load, printing
every problem, unless --allow-invalid-policies asks them to start unready."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server.config import REPO_POLICY_DIR
from server.processes.redis_private import free_port
from tests.server.helpers import poll


def broken_policies(tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the shipped folder with two mistakes, and the start of each problem line."""
    folder = Path(shutil.copytree(REPO_POLICY_DIR, tmp_path / "policies"))
    policy = folder / "channel-routing" / "v1.yaml"
    policy.write_text(policy.read_text().replace("    default: 50\n", "    default: fifty\n", 1))
    override = folder / "merchants" / "demo-outlet.yaml"
    override.write_text("merchant_id: someone-else\n")
    return folder, [f"{policy}:", f"{override}:1:"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")}
    return {**env, **extra}


@pytest.mark.parametrize("command", ["serve", "up"])
def test_an_invalid_folder_stops_the_start_with_every_problem(tmp_path: Path, command: str) -> None:
    folder, expected = broken_policies(tmp_path)
    port = free_port()
    data_dir = tmp_path / "data"
    run = subprocess.run(
        [sys.executable, "-m", "server.cli", command, "--port", str(port)],
        env=clean_env(CHANNEL_ROUTER_POLICY_DIR=str(folder), CHANNEL_ROUTER_DATA_DIR=str(data_dir)),
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert f"the policy folder {folder} does not load (2 problem(s)):" in lines[0]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert "--allow-invalid-policies" in lines[-1]
    assert run.stdout == ""  # nothing started: no token, no URL
    assert not data_dir.exists()  # no database, token or key was made


def test_with_the_flag_serve_starts_unready_until_a_reload_succeeds(
    tmp_path: Path, redis_url: str
) -> None:
    folder, _ = broken_policies(tmp_path)
    port, admin = free_port(), secrets.token_urlsafe(16)
    env = clean_env(
        CHANNEL_ROUTER_POLICY_DIR=str(folder),
        CHANNEL_ROUTER_DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        CHANNEL_ROUTER_REDIS_URL=redis_url,
        CHANNEL_ROUTER_ADMIN_TOKEN=admin,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port),
         "--allow-invalid-policies"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        ready = poll(f"{base}/ready", process, status=None)
        assert ready.status_code == 503
        assert ready.json()["checks"]["policies"] == "not loaded"
        shutil.rmtree(folder)
        shutil.copytree(REPO_POLICY_DIR, folder)
        auth = {"Authorization": f"Bearer {admin}"}
        assert httpx.post(f"{base}/v1/policies/reload", headers=auth).status_code == 200
        assert httpx.get(f"{base}/ready").status_code == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "starting anyway (--allow-invalid-policies)" in err
