"""The tile cache: ETag, Cache-Control, conditional requests, hits, expiry."""

import time

import morecantile

from tileserver.http.cache import TileCacheMiddleware


def _cache(app) -> TileCacheMiddleware:
    node = app.middleware_stack
    while node is not None and not isinstance(node, TileCacheMiddleware):
        node = getattr(node, "app", None)
    assert node is not None
    return node


def test_etag_cache_control_and_304(client, app, demo):
    rid = demo["scene-2024-05-12"]
    detail = client.get(f"/datasets/{rid}").json()
    z = detail["minzoom"]
    w, s, e, n = detail["bounds"]
    t = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (s + n) / 2, z)
    url = f"/raster/{rid}/tiles/WebMercatorQuad/{z}/{t.x}/{t.y}.png?bidx=1&rescale=0,3000"
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    hits = _cache(app).hits
    second = client.get(url.replace("bidx=1&rescale=0,3000", "rescale=0,3000&bidx=1"))
    assert second.content == first.content and second.headers["etag"] == etag
    assert _cache(app).hits == hits + 1, "query order does not defeat the cache"
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert client.get(url, headers={"Origin": "http://x"}).headers["access-control-allow-origin"]


def test_entries_live_at_most_the_ttl(client, app, demo):
    rid = demo["scene-2024-05-12"]
    w, s, e, n = client.get(f"/datasets/{rid}").json()["bounds"]
    t = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (s + n) / 2, 12)
    url = f"/raster/{rid}/tiles/WebMercatorQuad/12/{t.x}/{t.y}.png?bidx=1&rescale=0,3000&ttl=1"
    cache = _cache(app)
    ttl, cache.ttl = cache.ttl, 0.2
    try:
        first = client.get(url)
        hits, misses = cache.hits, cache.misses
        assert client.get(url).content == first.content
        assert (cache.hits, cache.misses) == (hits + 1, misses)
        time.sleep(0.3)
        again = client.get(url)
        assert again.status_code == 200 and again.headers["etag"] == first.headers["etag"]
        assert (cache.hits, cache.misses) == (hits + 1, misses + 1), "an expired entry is made anew"
    finally:
        cache.ttl = ttl
