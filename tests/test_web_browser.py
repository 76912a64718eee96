"""``az-gym serve`` end to end in a real headless browser (Debian's chromium, through Selenium).

The server runs as a real subprocess of the command on a free loopback port; the browser
plays a whole tic-tac-toe game against alpha-beta by clicking cells, reads the result,
then opens the analysis overlay on Connect Four. Screenshots are saved under the test's
``tmp_path`` (and copied to ``$AZ_GYM_SCREENSHOTS`` when set, to look at them).

Needs ``chromium`` and ``chromium-driver`` (apt) and ``selenium`` (pip, the dev extra):
``.ci/run`` installs them; elsewhere the test skips, naming what is missing, except under
``CI=true``, where a missing piece fails. The driver is passed by path, so Selenium never
downloads one (selenium-manager is not used).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _missing() -> list[str]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    for module in ("selenium", "fastapi", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"python package {module}")
    return missing


missing = _missing()
if missing:
    why = (
        f"the browser test needs {', '.join(missing)} "
        "(apt-get install chromium chromium-driver; pip install -e '.[dev]')"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(why, pytrace=False)
    pytest.skip(why, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@contextlib.contextmanager
def _serve(args: list[str]) -> Iterator[str]:
    """``az-gym serve ARGS`` on a free loopback port, as a process; yields its URL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "az_gym.cli", "serve", *args, "--port", "0", "--seed", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()  # the URL, printed once the socket listens
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, (line, proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
        yield match.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The server of the game test: two games, alpha-beta and the shipped networks."""
    with _serve(
        ["tictactoe", "connect_four", "--agent", "alphabeta", "--agent", "pretrained:64"]
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not a blank page
    copy_to = os.environ.get("AZ_GYM_SCREENSHOTS")
    if copy_to:
        Path(copy_to).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(copy_to) / path.name)
    return path


def _wait(driver: webdriver.Chrome, condition, timeout: float = 60):
    """Wait for ``condition``; the page redraws the board and panels on every update, so an
    element found a moment ago may be gone: such a poll just counts as not yet."""
    return WebDriverWait(
        driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    ).until(condition)


def _fresh(action: Callable[[], object], timeout: float = 30) -> object:
    """Run ``action`` (which finds its elements itself) again while it hits an element the
    page has just redrawn; a click that raised that error did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except StaleElementReferenceException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _start_game(driver: webdriver.Chrome, game: str, agent: str) -> None:
    Select(driver.find_element(By.ID, "game")).select_by_visible_text(game)
    Select(driver.find_element(By.ID, "agent")).select_by_visible_text(agent)
    driver.find_element(By.ID, "new-game").click()
    _wait(driver, lambda d: game in d.find_element(By.ID, "board").get_attribute("innerHTML"))
    _wait(
        driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-turn") == "human"
    )


def test_a_whole_tictactoe_game_by_clicks_then_the_connect_four_overlay(
    server: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    browser.get(server)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#game option"))
    _start_game(browser, "tictactoe", "alphabeta")
    assert "You are X" in browser.find_element(By.ID, "you-are").text
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(5):  # X makes at most five moves
        turn = _wait(
            browser,
            lambda d: (
                body.get_attribute("data-turn") in ("human", "over")
                and body.get_attribute("data-turn")
            ),
        )
        if turn == "over":
            break
        moves_before = len(browser.find_elements(By.CSS_SELECTOR, "#moves li"))

        def click_a_cell() -> None:
            cells = browser.find_elements(By.CSS_SELECTOR, "#board rect.cell.legal")
            preferred = [c for c in cells if c.get_attribute("data-name") == "b2"] or cells
            preferred[0].click()

        _fresh(click_a_cell)
        _wait(
            browser,
            lambda d, n=moves_before: len(d.find_elements(By.CSS_SELECTOR, "#moves li")) > n,
        )
    _wait(browser, lambda d: body.get_attribute("data-turn") == "over")
    result = browser.find_element(By.ID, "result").text
    # alpha-beta solves tic-tac-toe: it never loses, so the game is a draw or its win
    assert re.fullmatch(
        r"(Draw\.|You lose: O has 3 in a row \([a-c][1-3]( [a-c][1-3]){2}\)\.)", result
    ), result
    assert "thought" in browser.find_element(By.ID, "thinking").text
    moves = _fresh(lambda: [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#moves li")])
    assert moves[0] == "1. X b2" and len(moves) >= 5
    if result.startswith("You lose"):
        assert browser.find_elements(By.CSS_SELECTOR, "#board .winning-line")
    _shot(browser, tmp_path, "tictactoe_over")

    _start_game(browser, "connect_four", "alphabeta")
    Select(browser.find_element(By.ID, "analyst")).select_by_visible_text("pretrained:64")
    browser.find_element(By.ID, "show-analysis").click()
    overlay = "#board .overlay .an-move"
    rows = "#analysis-table tr"
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 8)  # head + 7 moves
    assert 1 <= len(browser.find_elements(By.CSS_SELECTOR, overlay)) <= 7  # the searched ones
    summary = browser.find_element(By.ID, "analysis-summary").text
    assert "value for X to move" in summary and "simulations" in summary, summary
    shares = _fresh(
        lambda: [
            float(t.text.rstrip("%"))
            for t in browser.find_elements(By.CSS_SELECTOR, f"{overlay} .an-share")
        ]
    )
    assert 97 <= sum(shares) <= 103, shares  # the rounded visit shares add up
    _shot(browser, tmp_path, "connect_four_analysis")

    # a click on a column drops a disc; the agent answers; the overlay follows the position
    _fresh(
        lambda: browser.find_element(
            By.CSS_SELECTOR, "#board rect.cell.legal[data-action='3']"
        ).click()
    )
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#moves li")) == 2)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, overlay))  # of the new position
    assert browser.find_elements(By.CSS_SELECTOR, "#board .last-move")
    _shot(browser, tmp_path, "connect_four_after_moves")
    assert not browser.find_element(By.ID, "error").text


def test_the_run_page_draws_a_training_run_live_and_plays_its_best(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    from test_cli import TINY, _sets

    from az_gym.cli import main  # training in this process: no second torch import

    run = tmp_path / "run"
    train = ["train", "tictactoe", "--run-dir", str(run), "--quiet", *_sets(TINY)]
    assert main(train) == 0
    with _serve(["tictactoe", "--agent", "random", "--run", str(run)]) as url:
        browser.get(url + "run")
        charts = "#c-losses svg polyline.series"
        _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, charts)) >= 4)
        assert browser.find_element(By.ID, "run-iteration").text == "iteration 1"
        assert browser.find_elements(By.CSS_SELECTOR, "#c-arena svg .point")
        # training goes on while the page is open: the page follows (it polls)
        resume = [*(a.replace("num_iters=1", "num_iters=2") for a in train), "--resume"]
        assert main(resume) == 0
        _wait(browser, lambda d: d.find_element(By.ID, "run-iteration").text == "iteration 2")
        _shot(browser, tmp_path, "run_page")
        browser.find_element(By.ID, "play-best").click()
        _wait(browser, lambda d: "against " + str(run) in d.find_element(By.ID, "you-are").text)
