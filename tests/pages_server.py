"""The engine with its web pages, for the browser tests: `tot serve`'s app (API, gateway,
dispatch clock; configured by the same TOT_* variables) with the map routes and the
pages added when the app does not have them yet, served by uvicorn.

    python -m tests.pages_server

Under pytest (TOT_CONTRACT_LOG set) the gateway's frames are written there, and the
AsyncAPI contract plugin (tests/asyncapi_contract.py) checks them.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import iter_route_contexts

from api.app import API_PREFIX
from api.pages import install_pages
from api.routes import map as map_routes
from tot.server import app_from_environment
from tot.settings import Settings


def build_app() -> Any:
    settings = Settings()
    app = app_from_environment()
    paths = {context.path for context in iter_route_contexts(app.routes)}
    if f"{API_PREFIX}/map/roads" not in paths:
        app.include_router(map_routes.router, prefix=API_PREFIX)
    if "/operator" not in paths:
        install_pages(app)
    app.state.ws_port = settings.ws_port
    return app


def main() -> None:
    import os

    import uvicorn

    if os.environ.get("TOT_CONTRACT_LOG"):  # under pytest: the socket's frames, for the contract
        from tests.asyncapi_contract import install_file_sink

        install_file_sink(os.environ["TOT_CONTRACT_LOG"])
    settings = Settings()
    uvicorn.run(
        build_app(),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
