"""/schema, the browsable API documentation, works offline: the page and every
asset it loads come from this service, none from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from server.config import ServiceConfig
from tests.server.helpers import serving

ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@pytest.fixture
def http(tmp_path: Path, policy_dir: Path) -> Iterator[httpx.Client]:
    config = ServiceConfig(database_url=f"sqlite:///{tmp_path}/db.sqlite3", policy_dir=policy_dir)
    with serving(config) as client:
        yield client


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
def test_the_docs_page_loads_everything_from_this_service(http: httpx.Client, page: str) -> None:
    response = http.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    references = ATTRIBUTE.findall(html)
    assert {Path(urlsplit(r).path).name for r in references} >= {
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-ui.css",
    }
    for reference in references:
        parts = urlsplit(reference)
        assert not parts.scheme and not parts.netloc, f"{page} loads {reference} from outside"
        asset = http.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 100, reference
    assert "cdn." not in html and "unpkg.com" not in html
    assert "SwaggerUIBundle(" in html and '"openapi":' in html


def test_the_bundle_is_javascript_and_the_documents_are_still_served(http: httpx.Client) -> None:
    bundle = http.get("/schema/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert "max-age=86400" in bundle.headers["cache-control"]
    assert http.get("/schema/openapi.json").json()["info"]["title"] == "channel-router"
    assert http.get("/schema/openapi.yaml").status_code == 200
    assert http.get("/schema/assets/nothing-here.js").status_code == 404
