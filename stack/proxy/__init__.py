"""A TCP fault proxy with Toxiproxy's HTTP API, where every fault has a TTL.

One process hosts many named proxies. Each listens on loopback and forwards to
an upstream; toxics (latency, timeout, reset_peer, bandwidth, slow_close) act on
live connections, and a proxy can be disabled ("down"). Every toxic and every
disable carries a TTL (`ttl` in the request, else the server's default) after
which it removes itself, so a killed harness never leaves a fault behind.

Routes (Toxiproxy 2.x): GET /version, GET|POST /proxies, POST /populate,
GET|POST|PATCH|DELETE /proxies/{proxy}, GET|POST /proxies/{proxy}/toxics,
GET|POST|PATCH|DELETE /proxies/{proxy}/toxics/{toxic}, POST /reset.

Modules: `toxics` (toxic model, JSON checks, effects), `link` (the data path of
one connection), `proxy` (proxies, collection, TTL reaper), `api` (aiohttp
routes), `server` (run until SIGTERM), `__main__` (command line).
"""
