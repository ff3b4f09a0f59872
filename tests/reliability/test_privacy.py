"""Privacy: with the default settings nothing leaves the machine, and secrets never show.

Each command runs in a subprocess whose sitecustomize (tests/reliability/netguard) records every
attempt to reach a non-loopback address or to look up another host's name. The environment is
stripped of the offline switches the Makefile sets, so the defaults themselves are what is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS_DIR, REPO
from tests.llm_server import ScriptedLLMServer
from tests.reliability.corpus import assistant_cmd
from tests.ui_server import free_port

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

NETGUARD = Path(__file__).parent / "netguard"
SECRETS = {
    "OPENAI_API_KEY": "sk-env-key-never-shown-7c1f",
    "ASSISTANT_LLM__API_KEY": "sk-settings-key-never-shown-93ab",
    "ASSISTANT_UI__PASSWORD": "ui-password-never-shown-5d20",
}
_OFFLINE_SWITCHES = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "GRADIO_ANALYTICS_ENABLED",
    "ANONYMIZED_TELEMETRY",
    "TOKENIZERS_PARALLELISM",
    "TIKTOKEN_CACHE_DIR",
)


def guarded_env(tmp_path: Path, log: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in _OFFLINE_SWITCHES and not k.startswith("ASSISTANT_")
    }
    env.update(SECRETS)
    env.update(
        {
            "NETGUARD_LOG": str(log),
            "PYTHONPATH": os.pathsep.join([str(NETGUARD), str(REPO)]),
            "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
            "ASSISTANT_CONFIG": str(tmp_path / "no-such.toml"),
            "HOME": str(tmp_path / "home"),  # no caches or settings of the developer's
        }
    )
    return env


def run(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        assistant_cmd("-v", *args), env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def attempts(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def assert_no_secret(text: str, where: str) -> None:
    for name, secret in SECRETS.items():
        assert secret not in text, f"{name} appears in {where}"


@pytest.mark.timeout(1500)  # five processes that each load the model: slow on a loaded machine
def test_ingest_ask_eval_and_serve_stay_on_this_machine(tmp_path: Path) -> None:
    log = tmp_path / "connections.log"
    env = guarded_env(tmp_path, log)
    (tmp_path / "home").mkdir()
    outputs: list[str] = []

    ingest = run(env, "ingest", str(CORPUS_DIR))
    assert ingest.returncode == 0, ingest.stderr
    ask = run(env, "ask", "What did Hamas demand?")
    assert ask.returncode == 0, ask.stderr
    rows = (REPO / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    (tmp_path / "three.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    evaluate = run(env, "eval", "--dataset", str(tmp_path / "three.jsonl"), "--out", str(tmp_path / "eval"))
    assert evaluate.returncode in (0, 1), evaluate.stderr  # 1 = below the baseline, not a failure here
    outputs += [p.stdout + p.stderr for p in (ingest, ask, evaluate)]

    port = free_port()
    server = subprocess.Popen(
        assistant_cmd("-v", "serve", "--port", str(port)),
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answered = _ask_the_server(f"http://127.0.0.1:{port}/ui/", server)
    finally:
        server.terminate()
        served_output = server.communicate(timeout=60)[0]
    outputs.append(served_output)
    assert answered, served_output[-3000:]

    # A server that rejects the key: the error names the problem, never the key (the fallback
    # is off so that the error reaches the user).
    with ScriptedLLMServer(expected_key="sk-the-only-right-key") as llm:
        strict = {**env, "ASSISTANT_LLM__FALLBACK_TO_EXTRACTIVE": "false"}
        rejected = run(strict, "--backend", "openai", "--base-url", llm.url, "ask", "What did Hamas demand?")
    assert rejected.returncode == 2
    assert "401" in rejected.stderr or "key" in rejected.stderr.lower(), rejected.stderr
    outputs.append(rejected.stdout + rejected.stderr)

    made = attempts(log)
    assert made == [], "\n".join(made[:10])
    for index, text in enumerate(outputs):
        assert_no_secret(text, f"the output of command {index}")
    for path in [*(tmp_path / "data").rglob("*"), *(tmp_path / "eval").rglob("*")]:
        if path.is_file():
            assert_no_secret(path.read_bytes().decode("utf-8", "replace"), str(path))
    config = json.loads((tmp_path / "eval" / "config.json").read_text(encoding="utf-8"))
    assert_no_secret(json.dumps(config), "config.json")
    print(f"ingest, ask, eval, serve + a UI question, an ask with a rejected key: {len(made)} attempts")


def _ask_the_server(url: str, server: subprocess.Popen[str]) -> bool:
    from gradio_client import Client

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code in (200, 401):
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        return False
    client = Client(url, auth=("admin", SECRETS["ASSISTANT_UI__PASSWORD"]), verbose=False)
    answer = client.predict(question="What did Hamas demand?", api_name="/ask")
    return bool(answer["citations"])


def test_the_guard_itself_sees_an_outbound_attempt(tmp_path: Path) -> None:
    """The hook is live: a process that tries to reach a public address is recorded."""
    log = tmp_path / "connections.log"
    env = guarded_env(tmp_path, log)
    code = (
        "import socket\ns = socket.socket()\ns.settimeout(0.2)\n"
        "try:\n s.connect(('192.0.2.1', 80))\nexcept OSError:\n pass"
    )
    subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=True)
    assert any("192.0.2.1" in line for line in attempts(log))
