"""A real-browser smoke test: JupyterLab in headless Chromium, as a learner sees it.

JupyterLab serves a scratch copy of labs/ and solutions/ on a loopback port, with the kit's
server settings (binder/jupyter_server_config.json, as `make lab` has them); Playwright drives
the system's Chromium (it never downloads a browser). One JupyterLab, one browser, one page: each
notebook is opened in that page as a learner opens it from the file browser, so a lab costs its
kernel and its cells, not another start of JupyterLab's front end. For every lab (and the first
solution) it runs the cells the first ``check(...)`` needs (the connect cell, the check, and the
cells that define what the check cell uses, found by reading the code: a lab whose first check
needs more setup gets those cells too), waits for the report under the check (on a lab: "Not
started yet"; on the solution: a pass), asserts it is on screen and saves screenshots to
tests/_artifacts/browser/. The next notebook's kernel starts while the current one is tested.

`make test` runs it when Chromium is installed and lists it as skipped otherwise; `make
test-browser` runs only this and fails without Chromium.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import symtable
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import requests
import zmq

from checks import REGISTRY
from environment.emulator import free_port
from environment.notebook import assigned_names

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
    cells: list[int]  # indices of the code cells to run, in order; the last is the check
    exercise: str
    title: str


def _python(source: str) -> str:
    """A cell's source as plain Python (IPython's magics and shell escapes translated)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def global_reads(source: str) -> set[str]:
    """The global names a cell reads, at top level or inside the functions it defines."""
    try:
        table = symtable.symtable(_python(source), "<cell>", "exec")
    except SyntaxError:
        return set()
    names: set[str] = set()
    pending = [table]
    while pending:
        scope = pending.pop()
        for symbol in scope.get_symbols():
            if symbol.is_referenced() and (scope.get_type() == "module" or symbol.is_global()):
                names.add(symbol.get_name())
        pending += scope.get_children()
    return names


def first_check(path: Path) -> FirstCheck:
    """The first check cell, and the cells before it that it needs, transitively.

    The first code cell (``lab = connect(...)``) always runs, as it does for a learner; then
    for every global a needed cell reads, the latest earlier cell that binds it.
    """
    notebook = nbformat.read(path, as_version=4)
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    for index in code:
        match = CHECK_CELL.match(notebook.cells[index].source)
        if match:
            break
    else:
        raise AssertionError(f"{path.name} has no check(...) cell")
    binds = {i: assigned_names(_python(notebook.cells[i].source)) for i in code if i <= index}
    needed, pending = {code[0], index}, [index]
    while pending:
        cell = pending.pop()
        for name in global_reads(notebook.cells[cell].source) - binds[cell]:
            source = max((i for i in binds if i < cell and name in binds[i]), default=None)
            if source is not None and source not in needed:
                needed.add(source)
                pending.append(source)
    exercise = match.group(1)
    return FirstCheck(sorted(needed), exercise, REGISTRY[exercise].title)


@dataclass
class Server:
    base: str
    token: str
    root: Path
    warming: dict[str, Future] = field(default_factory=dict)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2))

    def url(self) -> str:
        """JupyterLab in a workspace of its own, reset: no tabs of an earlier run reopen."""
        return f"{self.base}/lab/workspaces/smoke?reset&token={self.token}"

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
    if zmq.has("curve"):  # as `make lab` runs it: kernels get CurveZMQ keys, no TCP warning
        command.append(f"--config={ROOT / 'binder' / 'jupyter_server_config.json'}")
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


@pytest.fixture(scope="module")
def page(server: Server, browser):
    """One JupyterLab front end for every notebook: loading it costs more than a lab's cells."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    opened.goto(server.url(), wait_until="domcontentloaded", timeout=60_000)
    opened.wait_for_function("() => !!window.jupyterapp", timeout=60_000, polling=200)
    opened.evaluate("async () => { await window.jupyterapp.restored; }")
    try:
        yield opened
    finally:
        context.close()


# Finds the notebook's panel among JupyterLab's main-area widgets (by path, not by focus).
PANEL_JS = """(path) => {
    const app = window.jupyterapp;
    if (!app) { return null; }
    return Array.from(app.shell.widgets('main'))
        .find(w => w.context && w.context.path === path && w.content && w.sessionContext) || null;
}"""

# Opens a notebook as the file browser does (JupyterLab's own command); it joins the session
# the test started for it, so its kernel may already be up.
OPEN_JS = """async (path) => {
    await window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'});
}"""

KERNEL_READY_JS = f"""(path) => {{
    const panel = ({PANEL_JS})(path);
    return !!panel && panel.context.isReady && panel.sessionContext.isReady
        && panel.sessionContext.session?.kernel?.status === 'idle';
}}"""

# Selects the given cells and runs them with JupyterLab's own "Run Selected Cells" command
# (what Shift+Enter does on a selection); marks the last cell's node so the test can find its
# output. The kernel runs them in order.
RUN_JS = f"""([path, cells]) => {{
    const app = window.jupyterapp;
    const panel = ({PANEL_JS})(path);
    app.shell.activateById(panel.id);
    const notebook = panel.content;
    notebook.mode = 'command';
    notebook.activeCellIndex = cells[cells.length - 1];
    notebook.deselectAll();
    for (const index of cells) {{ notebook.select(notebook.widgets[index]); }}
    notebook.widgets[cells[cells.length - 1]].node.setAttribute('data-smoke-check', path);
    void app.commands.execute('notebook:run-cell');
}}"""

# What each cell that was meant to run produced, for assertions and failure messages.
STATE_JS = f"""([path, cells]) => {{
    const panel = ({PANEL_JS})(path);
    return cells.map(index => {{
        const model = panel.content.widgets[index].model;
        const outputs = model.outputs.toJSON();
        const errors = outputs.filter(o => o.output_type === 'error')
            .map(o => `${{o.ename}}: ${{o.evalue}}`);
        return {{index, count: model.executionCount, errors}};
    }});
}}"""

# Closes the notebook without the "save changes?" dialog (the scratch copy does not matter).
CLOSE_JS = f"""(path) => {{
    const panel = ({PANEL_JS})(path);
    if (panel) {{ panel.context.model.dirty = false; panel.dispose(); }}
}}"""


@pytest.mark.parametrize("notebook", NOTEBOOKS,
                         ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_a_learner_runs_the_first_check_in_jupyterlab(notebook: Path, server: Server, page):
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

    try:
        page.evaluate(OPEN_JS, relative)
        page.wait_for_function(KERNEL_READY_JS, arg=relative, timeout=KERNEL_READY_MS,
                               polling=200)
        page.evaluate(RUN_JS, [relative, target.cells])

        output = page.locator(f'[data-smoke-check="{relative}"] .jp-OutputArea')
        try:
            expect(output).to_contain_text(f"{target.exercise} {target.title}",
                                           timeout=REPORT_MS)
        except AssertionError as missing:
            state = page.evaluate(STATE_JS, [relative, target.cells])
            raise AssertionError(f"no report under check({target.exercise!r}) in {relative}; "
                                 f"cells run so far: {state}") from missing
        for text in expected:
            expect(output).to_contain_text(text)
        output.evaluate("node => node.scrollIntoView({block: 'center'})")
        expect(output).to_be_visible()
        expect(output).to_be_in_viewport(ratio=1)  # the whole report is on screen

        state = page.evaluate(STATE_JS, [relative, target.cells])
        assert all(cell["count"] for cell in state), f"a cell did not run: {state}"
        assert not [cell for cell in state if cell["errors"]], f"a cell raised: {state}"
        if zmq.has("curve"):  # the kernel got CurveZMQ keys from the server, as in `make lab`
            log = (ARTIFACTS / "jupyterlab.log").read_text(encoding="utf-8")
            assert "without encryption" not in log, "a kernel runs over plain TCP"
        output.screenshot(path=str(shot.with_name(shot.stem + "-report.png")))
    finally:
        try:  # also after a failure: the screenshot shows what went wrong
            page.screenshot(path=str(shot))
        except PlaywrightError as error:
            print(f"no screenshot of {relative}: {error}")
        try:
            page.evaluate(CLOSE_JS, relative)
        except PlaywrightError as error:
            print(f"could not close {relative}: {error}")
        server.end(relative)


def test_the_cells_a_first_check_needs_are_found_by_reading_the_code(tmp_path):
    """A lab whose first check needs more setup gets it; unrelated demo cells are not run."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Lab"),
        nbformat.v4.new_code_cell("from checks import check\nlab = connect(fresh=True)"),  # 1
        nbformat.v4.new_code_cell("%matplotlib inline\nqueue = lab.client('sqs')"),  # 2
        nbformat.v4.new_code_cell("name = 'orders'\nqueue = lab.client('sqs')"),  # 3
        nbformat.v4.new_code_cell("url = queue.create_queue(QueueName=name)['QueueUrl']"),  # 4
        nbformat.v4.new_code_cell("print('a demo nobody needs')"),  # 5
        nbformat.v4.new_code_cell("def send(body):\n    return queue.send_message("
                                  "QueueUrl=url, MessageBody=body)"),  # 6
        nbformat.v4.new_code_cell("def sign_in(user, password):\n    reply = send(user)\n"
                                  "    return reply"),  # 7
        nbformat.v4.new_code_cell('check("1.1", sign_in)'),  # 8
        nbformat.v4.new_code_cell('check("1.2", verify_token)'),
    ]
    path = tmp_path / "01-lab.ipynb"
    nbformat.write(notebook, path)
    found = first_check(path)
    assert (found.exercise, found.title) == ("1.1", REGISTRY["1.1"].title)
    # What a cell reads comes from the latest cell before it that binds the name: cell 3's
    # `queue` shadows cell 2's, so cell 2 (and the demo, cell 5) need not run.
    assert found.cells == [1, 3, 4, 6, 7, 8]
