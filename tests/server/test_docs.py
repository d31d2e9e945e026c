"""`/docs` (Swagger UI) and `/redoc` (ReDoc) work offline: the pages and every script, style and
icon they load come from this server (issue 13 item 2). Checked twice: over HTTP (every URL in the
pages is on this host and loads), and in headless Chromium that cannot resolve any other host,
where both pages must render the API's operations and record no request off loopback.

The browser is tests/browser.py's headless Chromium (missing: skipped on a developer's machine,
FAILS under CI=true).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser import WAIT, headless_chromium

from .conftest import assert_clean_log

_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]|https?://[^\s"'<>)]+""")


def _urls(html: str) -> list[str]:
    return [next(g for g in m.groups() if g) if any(m.groups()) else m.group(0) for m in _URL.finditer(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_and_its_assets_come_from_this_server(server, page):
    with server.client() as http:
        r = http.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["content-security-policy"]
        urls = _urls(r.text)
        assert any(u.endswith(".js") for u in urls), urls
        for url in urls:
            assert url.startswith("/"), f"{page} refers to another host: {url}"
            asset = http.get(url)
            assert asset.status_code == 200, url
            if url.endswith(".js"):
                assert "javascript" in asset.headers["content-type"] and len(asset.content) > 100_000
    assert_clean_log(server)


@pytest.fixture(scope="module")
def offline_browser() -> Iterator[object]:
    # no internet: every host name but loopback fails to resolve
    with headless_chromium("docs", "--window-size=1400,1000",
                           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost") as driver:
        yield driver


@pytest.mark.slow
@pytest.mark.parametrize("page, rendered", [
    ("/docs", "#operations-decisions-decide"),  # Swagger UI: one block per operation, `operations-{tag}-{id}`
    ("/redoc", '[data-section-id="operation/explain"]'),  # ReDoc: one section per operation id
])
def test_the_page_renders_the_api_without_internet(server, offline_browser, page, rendered):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = offline_browser
    driver.get(server.url + page)
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, rendered)))
    assert "decide_batch" in driver.page_source or "/v1/decide/batch" in driver.page_source
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => "
                                   "[e.name, e.initiatorType, e.decodedBodySize])")
    assert any(u.endswith("/openapi.json") for u, _, _ in loaded), loaded
    here = [u for u, _, _ in loaded if u.startswith(server.url + "/") or u.startswith("data:")]
    assert any(u.endswith(".js") for u in here), loaded
    # ReDoc's sidebar links its logo from its CDN (and hides it when it fails): the page's CSP refuses
    # it, so no byte comes from elsewhere, and nothing but an image is ever asked for
    elsewhere = [(u, kind, size) for u, kind, size in loaded if u not in here]
    assert all(kind == "img" and size == 0 for _, kind, size in elsewhere), elsewhere
    assert_clean_log(server)
