from tests.server.helpers import Api, decide_body


def test_health(api: Api) -> None:
    r = api.http.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    r = api.http.post("/v1/decide", json=decide_body(), headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
