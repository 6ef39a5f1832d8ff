"""The dashboard page in headless Chromium (Debian's chromium, driven by
python3-selenium and chromium-driver): it loads with a viewer token, shows
a campaign's numbers and updates after a result is reported."""

import shutil
import urllib.request
import time

import pytest

from lab_server import LabServer
from sozai.lab import Client

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

SPACE = {"name": "dashboard demo",
         "parameters": [{"name": "a", "type": "continuous", "low": 0, "high": 1},
                        {"name": "b", "type": "continuous", "low": 0, "high": 1}],
         "objectives": [{"name": "strength", "direction": "maximize"}, {"name": "cost", "direction": "minimize"}],
         "n_init": 20}


def wait_for(pred, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the page")


@pytest.fixture
def browser():
    driver_path = shutil.which("chromedriver")
    if not driver_path or not shutil.which("chromium"):
        pytest.skip("chromium and chromium-driver are not installed (scripts/setup.sh installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(driver_path), options=opts)
    yield d
    d.quit()


def test_dashboard_shows_and_updates(sozai_cli, tmp_path, browser):
    server = LabServer(sozai_cli, tmp_path / "lab.db")
    server.start()
    try:
        admin = Client(server.url, server.admin_token)
        cid = admin.create_campaign(SPACE)
        for e in admin.ask(cid, count=4):
            p = e["parameters"]
            admin.report(cid, e["id"], {"strength": p["a"] + p["b"], "cost": p["a"] ** 2 + 0.1})
        viewer = admin.create_token("viewer")
        browser.get(f"{server.url}/#token={viewer}&campaign={cid}")
        counts = wait_for(lambda: browser.find_element(By.ID, "counts").text)
        assert "completed: 4" in counts
        assert "dashboard demo" in browser.find_element(By.ID, "campaign").text
        best = browser.find_element(By.ID, "bestvalue").text
        assert "non-dominated" in best  # two objectives: the Pareto front
        assert not browser.find_element(By.ID, "frontbox").get_attribute("hidden")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#latest tbody tr")) == 4
        # A new result appears without reloading the page.
        e = admin.ask(cid, count=1)[0]
        admin.report(cid, e["id"], {"strength": 5.0, "cost": 0.05})
        wait_for(lambda: "completed: 5" in browser.find_element(By.ID, "counts").text)
        wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#latest tbody tr")) == 5)
        assert "5" in browser.find_element(By.CSS_SELECTOR, "#latest tbody tr td:nth-child(4)").text
        # A wrong token is refused on the page.
        browser.execute_script("localStorage.clear()")
        browser.get(f"{server.url}/#token=wrong")
        browser.refresh()
        assert "invalid token" in wait_for(lambda: browser.find_element(By.ID, "loginerr").text)
    finally:
        server.stop()


HOSTILE = '<img src=x onerror="window.__pwned=(window.__pwned||0)+1">'


def test_hostile_names_are_shown_as_text_and_never_run(sozai_cli, tmp_path, browser):
    """A controller (or anyone who names things) puts markup in every name
    the dashboard shows; an admin opens the page. Nothing may run, and the
    names must appear as the text they are."""
    server = LabServer(sozai_cli, tmp_path / "lab.db")
    server.start()
    try:
        admin = Client(server.url, server.admin_token)
        space = {"name": "films " + HOSTILE,
                 "parameters": [{"name": "T" + HOSTILE, "type": "continuous", "low": 0, "high": 1},
                                {"name": "route", "type": "categorical", "choices": ["a" + HOSTILE, "b"]}],
                 "objectives": [{"name": "y" + HOSTILE, "direction": "maximize"},
                                {"name": "cost</script><script>window.__pwned=99</script>", "direction": "minimize"}],
                 "n_init": 20}
        cid = admin.create_campaign(space)
        names = [o["name"] for o in space["objectives"]]
        for e in admin.ask(cid, count=3, controller=HOSTILE):
            admin.report(cid, e["id"], {names[0]: 0.5, names[1]: 0.1}, note=HOSTILE)
        # The page and its scripts come with a policy that forbids inline script.
        with urllib.request.urlopen(server.url + "/") as r:
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert r.headers["X-Frame-Options"] == "DENY"
        browser.get(f"{server.url}/#token={server.admin_token}&campaign={cid}")
        wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#latest tbody tr")) == 3)
        time.sleep(1.0)  # two more refreshes
        assert browser.execute_script("return window.__pwned || 0") == 0
        assert not browser.find_elements(By.CSS_SELECTOR, "#main img, #main script")
        latest = browser.find_element(By.ID, "latest").text
        assert HOSTILE in latest  # the controller, shown as text
        assert "T" + HOSTILE in latest  # a parameter name
        assert HOSTILE in browser.find_element(By.ID, "campaign").text
        # The token left the address bar; the plots are drawn (uPlot canvases).
        assert "token" not in browser.current_url
        assert browser.find_elements(By.CSS_SELECTOR, "#progress canvas")
        assert browser.find_elements(By.CSS_SELECTOR, "#front canvas")
    finally:
        server.stop()
