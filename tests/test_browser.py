"""A real-browser smoke test: JupyterLab in headless Chromium, as a learner sees it.

JupyterLab serves a scratch copy of labs/ and solutions/ on a loopback port;
Playwright drives the system's Chromium (it never downloads a browser). For
every lab (and the first solution) it runs the cells up to the first
``check(...)`` cell, waits for the report under it (on a lab: "Not started
yet"; on the solution: a pass), asserts it is on screen and saves screenshots
to tests/_artifacts/browser/.

`make test` runs it when Chromium is installed and lists it as skipped
otherwise; `make test-browser` runs only this and fails without Chromium.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import requests

from checks import REGISTRY
from environment.emulator import free_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "_artifacts" / "browser"
# Every lab (its first check must say "Not started yet"), and one solution to see a pass
# mark rendered: nbval and the grader already prove every solution passes, so the browser
# only needs to show one (each notebook costs about ten seconds here).
NOTEBOOKS = sorted(ROOT.glob("labs/*.ipynb")) + sorted(ROOT.glob("solutions/*.ipynb"))[:1]
CHECK_CELL = re.compile(r"""^\s*check\(\s*["'](\d+\.\d+)["']""")

# Flags Chromium needs to run headless as root in a container without reaching the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_S = 60
KERNEL_READY_MS = 60_000
REPORT_MS = 90_000

pytestmark = pytest.mark.browser


def unavailable(reason: str) -> None:
    """Skip, or fail when the browser test was asked for explicitly (LAB_REQUIRE_BROWSER=1)."""
    if os.environ.get("LAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required but {reason}", pytrace=False)
    pytest.skip(f"browser smoke test skipped: {reason}")


def find_chromium() -> str | None:
    named = os.environ.get("LAB_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@dataclass
class FirstCheck:
    last_cell: int  # index of the check cell; cells 0..last_cell are run
    exercise: str
    title: str


def first_check(path: Path) -> FirstCheck:
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        match = CHECK_CELL.match(cell.source) if cell.cell_type == "code" else None
        if match:
            exercise = match.group(1)
            return FirstCheck(index, exercise, REGISTRY[exercise].title)
    raise AssertionError(f"{path.name} has no check(...) cell")


@dataclass
class Server:
    base: str
    token: str
    root: Path
    warming: dict[str, Future] = field(default_factory=dict)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2))

    def url(self, notebook: str, workspace: str) -> str:
        """The notebook alone in a workspace of its own, so tabs of earlier tests stay shut."""
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def api(self, method: str, route: str, body: dict | None = None) -> requests.Response:
        return requests.request(method, f"{self.base}{route}", timeout=60, json=body,
                                headers={"Authorization": f"token {self.token}"})

    def warm(self, notebook: str) -> Future:
        """Start the notebook's kernel in the background (as JupyterLab would on opening it).

        Opening the notebook then joins this session: the next notebook's kernel boots
        while the current one is being tested, which saves seconds per notebook.
        """
        if notebook not in self.warming:
            self.warming[notebook] = self.pool.submit(
                self.api, "POST", "/api/sessions",
                {"path": notebook, "type": "notebook", "name": Path(notebook).name,
                 "kernel": {"name": "python3"}})
        return self.warming[notebook]

    def end(self, notebook: str) -> None:
        """Shut the notebook's kernel down in the background, so kernels do not pile up."""
        self.pool.submit(self._end, notebook)

    def _end(self, notebook: str) -> None:
        self.warm(notebook).result(timeout=60)
        for session in self.api("GET", "/api/sessions").json():
            if session["path"] == notebook:
                self.api("DELETE", f"/api/sessions/{session['id']}")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        unavailable("no Chromium found (install Debian's `chromium` package, or set "
                    "LAB_CHROMIUM to a Chromium or Chrome executable)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the Python package `playwright` is not installed")
    return path


@pytest.fixture(scope="module")
def server(chromium: str, request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """JupyterLab on a free loopback port, serving a scratch copy of the notebooks.

    A copy, because running cells marks notebooks dirty and JupyterLab autosaves. Its
    config, settings and workspaces live in the scratch folder too, so neither the
    person's own JupyterLab state nor a news or update prompt shows up in the screenshots.
    Kernels inherit this process's environment, so they use the test emulator. The
    emulator (the ``lab`` fixture) and Chromium start while JupyterLab boots.
    """
    scratch = tmp_path_factory.mktemp("jupyterlab")
    root = scratch / "root"
    for folder in ("labs", "solutions"):
        (root / folder).mkdir(parents=True)
        for notebook in (ROOT / folder).glob("*.ipynb"):
            shutil.copy(notebook, root / folder / notebook.name)
    notifications = scratch / "settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)  # no "Would you like to get notified about news?" toast
    (notifications / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}', encoding="utf-8")
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(scratch / "config"),
           "JUPYTER_DATA_DIR": str(scratch / "data"),
           "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(scratch / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
               "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "jupyterlab.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    running = Server(f"http://127.0.0.1:{port}", token, root)
    try:
        request.getfixturevalue("lab")
        request.getfixturevalue("browser")
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n"
                            + log_path.read_text(encoding="utf-8")[-3000:], pytrace=False)
            try:
                if running.api("GET", "/api/status").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n"
                            + log_path.read_text(encoding="utf-8")[-3000:], pytrace=False)
            time.sleep(0.2)
        yield running
    finally:
        running.pool.shutdown(wait=False, cancel_futures=True)
        try:  # a clean shutdown also ends every kernel it started
            running.api("POST", "/api/shutdown")
            process.wait(timeout=20)
        except (requests.RequestException, subprocess.TimeoutExpired):
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh temporary profile (--user-data-dir).
        launched = playwright.chromium.launch(executable_path=chromium, headless=True,
                                              args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield launched
        finally:
            launched.close()


# Finds the notebook's panel among JupyterLab's main-area widgets (by path, not by focus).
PANEL_JS = """(path) => {
    const app = window.jupyterapp;
    if (!app) { return null; }
    return Array.from(app.shell.widgets('main'))
        .find(w => w.context && w.context.path === path && w.content && w.sessionContext) || null;
}"""

KERNEL_READY_JS = f"""(path) => {{
    const panel = ({PANEL_JS})(path);
    return !!panel && panel.context.isReady && panel.sessionContext.isReady
        && panel.sessionContext.session?.kernel?.status === 'idle';
}}"""

# Selects cells 0..last and runs them with JupyterLab's own "Run Selected Cells" command
# (what Shift+Enter does); marks the last cell's node so the test can find its output.
RUN_JS = f"""([path, last]) => {{
    const app = window.jupyterapp;
    const panel = ({PANEL_JS})(path);
    app.shell.activateById(panel.id);
    const notebook = panel.content;
    notebook.mode = 'command';
    notebook.activeCellIndex = 0;
    notebook.extendContiguousSelectionTo(last);
    notebook.widgets[last].node.setAttribute('data-smoke-check', 'true');
    void app.commands.execute('notebook:run-cell');
}}"""

# What each code cell that was meant to run produced, for assertions and failure messages.
STATE_JS = f"""([path, last]) => {{
    const panel = ({PANEL_JS})(path);
    return panel.content.widgets.slice(0, last + 1).map((cell, index) => {{
        const model = cell.model;
        if (model.type !== 'code') {{ return null; }}
        const outputs = model.outputs.toJSON();
        const errors = outputs.filter(o => o.output_type === 'error')
            .map(o => `${{o.ename}}: ${{o.evalue}}`);
        return {{index, count: model.executionCount, errors}};
    }}).filter(Boolean);
}}"""


@pytest.mark.parametrize("notebook", NOTEBOOKS,
                         ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_a_learner_runs_the_first_check_in_jupyterlab(notebook: Path, server: Server, browser):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    relative = notebook.relative_to(ROOT).as_posix()
    started = server.warm(relative).result(timeout=60)  # usually long done, by the previous test
    assert started.status_code == 201, started.text
    following = NOTEBOOKS.index(notebook) + 1
    if following < len(NOTEBOOKS):
        server.warm(NOTEBOOKS[following].relative_to(ROOT).as_posix())
    target = first_check(notebook)
    solved = relative.startswith("solutions/")
    expected = ("all", "cases passed") if solved else ("Not started yet",)
    shot = ARTIFACTS / f"{relative.replace('/', '-').removesuffix('.ipynb')}.png"

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        workspace = re.sub(r"[^a-z0-9]+", "-", relative.lower())
        page.goto(server.url(relative, workspace), wait_until="domcontentloaded", timeout=60_000)
        page.wait_for_function(KERNEL_READY_JS, arg=relative, timeout=KERNEL_READY_MS,
                               polling=200)
        page.evaluate(RUN_JS, [relative, target.last_cell])

        output = page.locator("[data-smoke-check] .jp-OutputArea")
        try:
            expect(output).to_contain_text(f"{target.exercise} {target.title}",
                                           timeout=REPORT_MS)
        except AssertionError as missing:
            state = page.evaluate(STATE_JS, [relative, target.last_cell])
            raise AssertionError(f"no report under check({target.exercise!r}) in {relative}; "
                                 f"cells run so far: {state}") from missing
        for text in expected:
            expect(output).to_contain_text(text)
        output.evaluate("node => node.scrollIntoView({block: 'center'})")
        expect(output).to_be_visible()
        expect(output).to_be_in_viewport(ratio=1)  # the whole report is on screen

        state = page.evaluate(STATE_JS, [relative, target.last_cell])
        assert all(cell["count"] for cell in state), f"a cell did not run: {state}"
        assert not [cell for cell in state if cell["errors"]], f"a cell raised: {state}"
        output.screenshot(path=str(shot.with_name(shot.stem + "-report.png")))
    finally:
        try:  # also after a failure: the screenshot shows what went wrong
            page.screenshot(path=str(shot))
        except PlaywrightError as error:
            print(f"no screenshot of {relative}: {error}")
        context.close()
        server.end(relative)
