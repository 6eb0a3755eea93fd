"""The dashboard as a person sees it: a real headless Chromium loads the page, and the
metric numbers in the table and the data of the live plot change as elements are emitted.
The screenshot is kept in test-artifacts/ (or $STREAMS_ARTIFACTS)."""

import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from services import program, wait_for_port

from streams import Stream, dashboard

pytest.importorskip("bokeh")

ARTIFACTS = Path(
    os.environ.get("STREAMS_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)

# The metrics table's rows (cell texts), reading through the shadow roots bokeh renders
# its widgets into.
ROWS_JS = """
const rows = [];
const walk = (node) => {
  if (node.shadowRoot) walk(node.shadowRoot);
  for (const child of node.children || []) walk(child);
  if (node.tagName === 'TABLE' && node.classList.contains('streams-metrics')) {
    for (const tr of node.querySelectorAll('tbody tr')) {
      rows.push(Array.from(tr.querySelectorAll('td')).map(c => c.textContent.trim()));
    }
  }
};
walk(document.body);
return rows;
"""

PLOT_JS = """
const doc = window.Bokeh && Bokeh.documents[0];
if (!doc) return null;
const source = doc.get_model_by_name(arguments[0]);
return source ? Array.from(source.data[arguments[1] || 'value']) : null;
"""


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = program("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1000,1400",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(program("chromedriver")))
    yield driver
    driver.quit()


def wait_for(driver, condition, what, timeout=30):
    """Poll ``condition`` until it holds; fail naming ``what`` (or, with ``what=None``,
    return ``False``) after ``timeout`` seconds."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(
            lambda d: condition(d), message=f"the page never showed {what}"
        )
    except TimeoutException:
        if what is None:
            return False
        raise


def row_of(driver, node):
    return next((r for r in driver.execute_script(ROWS_JS) if r and r[0] == node), None)


def test_the_page_shows_live_metrics_and_plot_data(browser):
    source = Stream(stream_name="readings")
    doubled = source.map(lambda x: 2 * x, stream_name="doubled")
    doubled.sink(lambda x: None)
    page = dashboard.serve(doubled, port=0)
    try:
        for i in range(5):
            source.emit(i)
        browser.get(page.url)
        wait_for(
            browser,
            lambda d: (row_of(d, "doubled") or [None, None])[1] == "5",
            "5 elements into 'doubled'",
        )
        assert row_of(browser, "readings")[2] == "5"  # out of the source
        first = wait_for(
            browser, lambda d: d.execute_script(PLOT_JS, "plot:doubled"), "the plot's data"
        )
        assert first == [0.0, 2.0, 4.0, 6.0, 8.0]

        for i in range(5, 15):
            source.emit(i)
        wait_for(
            browser,
            lambda d: (row_of(d, "doubled") or [None, None])[1] == "15",
            "15 elements into 'doubled'",
        )
        data = wait_for(
            browser,
            lambda d: (v := d.execute_script(PLOT_JS, "plot:doubled")) and len(v) == 15 and v,
            "the new points",
        )
        assert data[-1] == 28.0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    finally:
        page.stop()


def test_a_streaming_dataframe_is_plotted_column_by_column(browser):
    pd = pytest.importorskip("pandas")
    from streams.dataframe import DataFrame

    sdf = DataFrame(
        example=pd.DataFrame({"price": [0.0], "side": ["buy"]}).iloc[:0],
        stream=Stream(stream_name="ticks"),
    )
    page = dashboard.serve(sdf, port=0)
    try:
        sdf.emit(pd.DataFrame({"price": [10.0, 10.5], "side": ["buy", "sell"]}))
        browser.get(page.url)
        assert wait_for(
            browser, lambda d: d.execute_script(PLOT_JS, "plot:ticks", "price"), "the first prices"
        ) == [10.0, 10.5]
        sdf.emit(pd.DataFrame({"price": [11.0], "side": ["buy"]}))
        wait_for(
            browser,
            lambda d: d.execute_script(PLOT_JS, "plot:ticks", "price") == [10.0, 10.5, 11.0],
            "the new price",
        )
    finally:
        page.stop()


def test_a_live_plot_served_with_panel_updates_in_the_browser(browser):
    pd = pytest.importorskip("pandas")
    pn = pytest.importorskip("panel")
    from streams.dataframe import DataFrame
    from streams.dataframe.plotting import live_feed

    sdf = DataFrame(example=pd.DataFrame({"price": [0.0]}).iloc[:0])
    plot = sdf.plot.line(y="price", backlog=100)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = pn.serve(
        plot,
        port=port,
        address="127.0.0.1",
        show=False,
        threaded=True,
        websocket_origin=[f"127.0.0.1:{port}"],
    )
    try:
        wait_for_port(port, server)  # the server thread starts listening a moment later
        browser.get(f"http://127.0.0.1:{port}/")
        prices = """
            const doc = window.Bokeh && Bokeh.documents[0];
            if (!doc) return null;
            for (const m of doc.all_models) {
              if (m.data && m.data.price) return Array.from(m.data.price);
            }
            return null;
        """
        assert (
            wait_for(browser, lambda d: d.execute_script(prices) is not None, "the plot") is True
        )
        feed = live_feed(plot)

        def in_buffer():
            return feed.buffer.data["price"].tolist()

        def page_follows(first_prices):
            """Send ``first_prices`` as one update, then one more price a second (a
            stream that goes on) until the page shows what the plot's buffer holds:
            panel applies updates made outside its thread on its next tick, and one
            that arrives while it applies another can wait for the next."""
            for p in first_prices:
                sdf.emit(pd.DataFrame({"price": [p]}))
            feed.flush()
            for extra in range(20):
                if wait_for(browser, lambda d: d.execute_script(prices) == in_buffer(), None, 1):
                    return extra
                sdf.emit(pd.DataFrame({"price": [-1.0 - extra]}))
                feed.flush()
            pytest.fail(f"the served plot never showed {in_buffer()}")

        page_follows([1.0])  # the page's session links to the plot once it is shown
        page_follows([100.0, 101.0, 102.0])
        assert {1.0, 100.0, 101.0, 102.0} <= set(in_buffer())  # the page shows these too
    finally:
        server.stop()


def test_a_second_dashboard_on_the_same_port_is_refused():
    first = dashboard.serve(Stream(), port=0)
    try:
        with pytest.raises(OSError, match=rf"cannot listen on 127.0.0.1:{first.port}.*already"):
            dashboard.serve(Stream(), port=first.port)
    finally:
        first.stop()


def test_it_listens_on_this_machine_only_by_default():
    page = dashboard.serve(Stream(), port=0)
    try:
        assert page.address == "127.0.0.1"
        assert _listening_addresses(page.port) == {"127.0.0.1"}
    finally:
        page.stop()


def test_it_stops_with_the_graph():
    source = Stream()
    shown = source.map(abs)
    page = dashboard.serve(shown, port=0)
    assert urllib.request.urlopen(page.url, timeout=10).status == 200
    source.shutdown()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(page.url, timeout=10)


def _listening_addresses(port):
    """The IPv4 addresses a socket listens on at ``port``, from the kernel's table."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found
