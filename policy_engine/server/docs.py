"""The API documentation pages, offline: `/docs` (Swagger UI) and `/redoc` (ReDoc), with their
scripts and styles served by this server from `/docs/assets/`, never from a CDN (FastAPI's default
pages load Swagger UI from one, and were blank on a machine without internet).

The assets are those of the `fastapi-offline` package (a dependency of the `server` extra: Swagger
UI's and ReDoc's standalone bundles with their licence headers, MIT); only its files are used, not
its app factory. The pages themselves are FastAPI's, pointed at those files, with Swagger UI's
online validator and ReDoc's Google fonts turned off; a Content-Security-Policy of `'self'` makes
the browser refuse whatever else would leave this host (ReDoc's footer logo is linked from its CDN).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
# the pages' own inline script and styles, this host for everything else; ReDoc searches in a blob: worker
CSP = {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                  "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
                                  "connect-src 'self'; frame-ancestors 'self'"}


def _page(html: HTMLResponse) -> HTMLResponse:
    html.headers.update(CSP)
    return html


def assets_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the assets and add the two pages (left out of the OpenAPI document: they are not API)."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    oauth_redirect = "/docs/oauth2-redirect"

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = base(request)
        return _page(get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - Swagger UI",
                                   oauth2_redirect_url=f"{root}{oauth_redirect}",
                                   swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                                   swagger_ui_parameters={"validatorUrl": None}))

    @app.get(oauth_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = base(request)
        return _page(get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False))
