"""The pages' static files: the dashboard's own script and stylesheet (in `static/`), and
plotly.js served from the installed plotly package (no CDN, no copy in the repository)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

router = APIRouter(prefix="/static")

CACHE = "private, max-age=3600"


def plotly_js() -> Path:
    """Return the path of the plotly.min.js the plotly package ships."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def _own(name: str, media_type: str) -> Response:
    text = (resources.files("adxbot.dashboard") / "static" / name).read_bytes()
    return Response(text, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/app.js")
def app_js() -> Response:
    """The dashboard's script: refresh, charts, confirmations."""
    return _own("app.js", "text/javascript; charset=utf-8")


@router.get("/app.css")
def app_css() -> Response:
    """The dashboard's stylesheet (public: the login form uses it)."""
    return _own("app.css", "text/css; charset=utf-8")


@router.get("/plotly.min.js")
def plotly() -> FileResponse:
    """plotly.js, from the installed plotly package."""
    return FileResponse(
        plotly_js(), media_type="text/javascript; charset=utf-8", headers={"Cache-Control": CACHE}
    )
