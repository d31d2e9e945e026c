"""The playground's web app: one page, its own assets, and JSON endpoints that work on the text
the browser sends. In: the policy file to start from (or none). Out: a FastAPI app, served by
`policy-engine playground` at `/` and mounted by `policy-engine serve` at `/playground`.

Every URL the page uses is relative, so the same app works at any mount point. The browser
never writes: no endpoint touches the disk except to read the policy file it was started with
(to show it, and to compare the edit with it). Requests are small POSTs of the whole text,
bounded in size, since a check costs CPU the decision API must not lose.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from policy_engine import api, __version__
from policy_engine.language.source import display_path
from policy_engine.playground import mapsvg, work

MAX_TEXT = 2_000_000  # characters: ten times the largest policy we know of
STATIC = resources.files("policy_engine.playground") / "static"
EXAMPLE = resources.files("policy_engine.playground") / "example.policy"


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def create_app(policy_path: str | Path | None = None) -> FastAPI:
    """The playground, starting from `policy_path` (None: a small example, with no file to compare)."""
    disk = Path(policy_path) if policy_path is not None else None
    shown = display_path(disk) if disk is not None else "example.policy"
    app = FastAPI(title="policy-engine playground", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, err: BadRequest) -> Response:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    async def body(request: Request) -> dict[str, Any]:
        if int(request.headers.get("content-length") or 0) > 4 * MAX_TEXT:  # UTF-8: at most 4 bytes a character
            raise BadRequest(f"the text is longer than {MAX_TEXT} characters", 413)
        try:
            data = await request.json()
        except ValueError:
            raise BadRequest("the request body is not JSON; send {\"text\": \"...\"}") from None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise BadRequest("send a JSON object with the policy text under \"text\"")
        if len(data["text"]) > MAX_TEXT:
            raise BadRequest(f"the text is longer than {MAX_TEXT} characters", 413)
        return data

    def answer(fn: Any, *args: Any) -> Response:
        try:
            return JSONResponse(fn(*args))
        except work.Unusable as err:
            return JSONResponse({"error": str(err)}, status_code=422)
        except api.QueryError as err:
            return JSONResponse({"error": err.one_line()}, status_code=422)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                            headers={"Cache-Control": "no-store"})

    @app.get("/api/policy")
    async def policy() -> Response:
        """The text to start from: the file on disk (read now, so a reload shows its newest text)."""
        if disk is None:
            return JSONResponse({"path": shown, "text": EXAMPLE.read_text(encoding="utf-8"), "on_disk": False})
        try:
            text = api.read_source(disk).text
        except api.PolicyError as err:
            return JSONResponse({"error": err.diagnostics[0].message}, status_code=404)
        return JSONResponse({"path": shown, "text": text, "on_disk": True})

    @app.post("/api/check")
    async def check(request: Request) -> Response:
        return answer(work.check, (await body(request))["text"], shown)

    @app.post("/api/decide")
    async def decide(request: Request) -> Response:
        data = await body(request)
        query = data.get("query")
        if not isinstance(query, dict):
            raise BadRequest("send the question under \"query\" (docs/semantics.md)")
        return answer(work.decide, data["text"], shown, query)

    @app.post("/api/diff")
    async def diff(request: Request) -> Response:
        return answer(work.diff, (await body(request))["text"], shown, disk)

    @app.post("/api/render")
    async def render(request: Request) -> Response:
        return answer(lambda text: {"html": work.render(text, shown)}, (await body(request))["text"])

    @app.post("/api/map")
    async def datamap(request: Request) -> Response:
        data = await body(request)

        def draw(text: str, data_id: Any) -> dict[str, Any]:
            loaded = work.load(text, shown)
            ids = list(loaded.terms["data"])
            if not ids:
                raise work.Unusable("the policy declares no data")
            chosen = data_id if data_id in loaded.terms["data"] else ids[0]
            return {"data": chosen, "svg": mapsvg.svg(loaded, chosen)}

        return answer(draw, data["text"], data.get("data"))

    return app


def mount(parent: FastAPI, policy_path: str | Path | None) -> None:
    """Serve the playground under `/playground` of another app (the decision server)."""
    parent.mount("/playground", create_app(policy_path))

    @parent.get("/playground", include_in_schema=False)
    async def slash() -> Response:  # relative URLs need the trailing slash
        return RedirectResponse("playground/")
