"""How quickly the review console answers: cold start, warm page loads, page switches.

Run from the repository root after `make setup` (needs Chromium, see README "Tests"):

    .venv/bin/python benchmarks/console_responsiveness.py [--repeats 5]

In a private ZenML store and MLflow database it trains one small model (2,500 rows) with
`run.py`, which also stages it, adds a reviewer, starts `streamlit run console/app.py` on
127.0.0.1 and drives it with headless Chromium. Each figure is the wall time from the browser
action until Streamlit's "running" indicator is gone and the page's key content is visible.
Everything it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from mlcicd.serving.local.processes import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MODEL = "console-benchmark"
REVIEWER, PASSWORD = "bench", "benchmark password"
TIMEOUT_MS = 180_000


def _config(folder: Path) -> Path:
    """configs/local.yaml with a private model name, free ports and fast training."""
    raw: dict[str, Any] = yaml.safe_load((REPO_ROOT / "configs" / "local.yaml").read_text())
    raw["model_name"] = MODEL
    raw["model"]["torch_mlp"].update({"max_epochs": 6, "patience": 2, "hidden_units": [32]})
    raw["training"]["checkpoint_dir"] = str(folder / "checkpoints")
    raw["deployment"]["local_ports"] = {"staging": free_port(), "production": free_port()}
    raw["gates"]["thresholds"]["minimums"] = {"roc_auc": 0.75, "accuracy": 0.75, "f1": 0.30}
    raw["gates"]["thresholds"]["maximums"] = {"log_loss": 0.60}
    # The benchmark needs a staged version to show, not a good model: a 2,500-row sample may miss
    # the fairness bound or flip golden rows, which would stop it before anything is served.
    raw["gates"]["golden_rows"]["enabled"] = False
    raw["gates"]["fairness"]["enabled"] = False
    path = folder / "benchmark.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    command = [sys.executable, str(REPO_ROOT / "run.py"), *args]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, input=stdin, text=True,
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def _start_console(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "console/app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"streamlit did not start:\n{log.read_text()[-3000:]}")


def _timed(action: Callable[[], object], page: Any, ready: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS
    )
    ready()
    return (time.perf_counter() - start) * 1000


def measure(url: str, repeats: int) -> dict[str, list[float]]:
    """Wall times in ms per interaction, the first load separately."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    times: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)

            def pending_ready() -> None:
                expect(page.get_by_role("heading", name="Version 1")).to_be_visible()

            def review_ready() -> None:
                expect(page.get_by_role("heading", name="Lineage")).to_be_visible()

            def deployments_ready() -> None:
                expect(page.get_by_text("production", exact=False).first).to_be_visible()

            def nav(label: str) -> Callable[[], object]:
                sidebar = page.locator('[data-testid="stSidebarNav"]')
                return lambda: sidebar.get_by_text(label, exact=True).click()

            times["first load after server start"] = [
                _timed(lambda: page.goto(url), page, pending_ready)
            ]
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_label("Reviewer id").fill(REVIEWER)
            sidebar.get_by_label("Password", exact=True).fill(PASSWORD)
            times["sign in"] = [
                _timed(
                    lambda: sidebar.get_by_role("button", name="Sign in").click(),
                    page,
                    lambda: expect(sidebar.get_by_text("Signed in as")).to_be_visible(),
                )
            ]
            for _ in range(repeats):
                times.setdefault("open version review (report + lineage)", []).append(
                    _timed(
                        lambda: page.get_by_role("link", name="Review version 1").click(),
                        page,
                        review_ready,
                    )
                )
                for label, key, ready in (
                    ("Deployments and history", "open deployments and history", deployments_ready),
                    ("Pending approvals", "open pending approvals", pending_ready),
                ):
                    times.setdefault(key, []).append(_timed(nav(label), page, ready))
                times.setdefault("reload pending approvals", []).append(
                    _timed(lambda: page.reload(), page, pending_ready)
                )
        finally:
            browser.close()
    return times


def main() -> int:
    """Set up, measure, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm repetitions per page")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM} (set CHROMIUM_PATH)")
    folder = Path(tempfile.mkdtemp(prefix="console-benchmark-"))
    env = {
        **os.environ,
        "ZENML_CONFIG_PATH": str(folder / "zenml"),
        "ZENML_LOCAL_STORES_PATH": str(folder / "zenml" / "local_stores"),
        "ML_CICD_HOME": str(folder / "home"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "ZENML_LOGGING_VERBOSITY": "WARN",
        "ML_CICD_REVIEWERS_FILE": str(folder / "reviewers.yaml"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("ZENML_STORE_URL", None)
    config = _config(folder)
    env["ML_CICD_CONFIG"] = str(config)
    console: subprocess.Popen[bytes] | None = None
    try:
        print("training and staging one version (2,500 rows) ...", flush=True)
        _run(env, "--config", str(config), "--sample-rows", "2500")
        _run(env, "--config", str(config), "reviewers", "add", REVIEWER, "--password-stdin",
             stdin=PASSWORD + "\n")  # fmt: skip
        print("starting the console ...", flush=True)
        console, url = _start_console(env, folder / "streamlit.log")
        times = measure(url, args.repeats)
    finally:
        if console is not None:
            os.killpg(console.pid, signal.SIGTERM)
            console.wait(timeout=30)
        for environment in ("staging", "production"):
            _run(env, "--config", str(config), "stop", environment)
        shutil.rmtree(folder, ignore_errors=True)
    print("\n| interaction | runs | median ms | max ms |\n|---|---:|---:|---:|")
    for key, values in times.items():
        print(f"| {key} | {len(values)} | {statistics.median(values):,.0f} | {max(values):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
