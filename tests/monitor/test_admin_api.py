"""The admin HTTP API over MemoryStore and RedisStore: reads, filters, actions, errors, auth."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from monitor_support import TOKEN, TRACEBACK, ClientFactory, Seeded, all_jobs
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from swell.clock import ManualClock
from swell.job import Status
from swell.monitor.api import create_app
from swell.store.base import Store


async def ok(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> Any:
    response = await client.request(method, url, **kw)
    assert response.status_code == 200, response.text
    return response.json()


async def error(client: httpx.AsyncClient, status: int, method: str, url: str, **kw: Any) -> str:
    response = await client.request(method, url, **kw)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["message"]
    return str(body["message"])


# -- reads ------------------------------------------------------------------------------------

async def test_stats_and_queues_report_sizes(client: httpx.AsyncClient, seeded: Seeded) -> None:
    stats = await ok(client, "GET", "/api/stats")
    assert set(stats["queues"]) == {"mail", "reports", "maintenance"}
    assert [w["id"] for w in stats["workers"]] == ["worker-1"]

    queues = {q["name"]: q for q in (await ok(client, "GET", "/api/queues"))["queues"]}
    assert queues["mail"]["pending"]["normal"] == 4
    assert queues["mail"]["completed"] == 1
    assert queues["reports"]["pending"]["high"] == 1
    assert queues["reports"]["running"] == 1
    assert queues["reports"]["dead"] == 1
    assert queues["maintenance"]["scheduled"] == 1

    one = await ok(client, "GET", "/api/queues/reports")
    assert one["backlog"] == 2
    message = await error(client, 404, "GET", "/api/queues/nope")
    assert "nope" in message


async def test_jobs_filter_by_status_type_queue_tenant(client: httpx.AsyncClient, seeded: Seeded) -> None:
    async def ids(query: str) -> set[str]:
        return {j["id"] for j in (await ok(client, "GET", f"/api/jobs?{query}"))["jobs"]}

    assert await ids("status=pending&queue=mail") == set(seeded.mail)
    assert await ids("status=pending&type=report.build") == set(seeded.reports)
    assert await ids("status=failed") == {seeded.dead}
    assert await ids("status=completed") == {seeded.completed}
    assert await ids("status=running") == {seeded.running}
    assert await ids("status=scheduled") == {seeded.scheduled}
    acme = await ids("status=pending&tenant=acme")
    assert acme and acme < set(seeded.mail)
    assert await ids("status=pending&queue=mail&tenant=nobody") == set()


async def test_jobs_are_paginated_without_gaps_or_duplicates(client: httpx.AsyncClient,
                                                            seeded: Seeded) -> None:
    seen: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = await ok(client, "GET", f"/api/jobs?status=pending&queue=mail&limit=3&offset={offset}")
        assert page["limit"] == 3 and page["offset"] == offset
        assert len(page["jobs"]) <= 3
        seen += [j["id"] for j in page["jobs"]]
        offset = page["next_offset"]
        pages += 1
    assert pages == 2
    assert sorted(seen) == sorted(seeded.mail) and len(seen) == len(set(seen))


async def test_job_detail_has_args_error_traceback_and_no_lease_token(
        client: httpx.AsyncClient, seeded: Seeded) -> None:
    job = await ok(client, "GET", f"/api/jobs/{seeded.dead}")
    assert job["status"] == "failed"
    assert job["args"]["html"] == "<script>x</script>"
    assert job["error"] == {"type": "ValueError", "message": "boom <b>", "traceback": TRACEBACK}
    assert job["dead_reason"] == "permanent error"
    assert job["attempts"] == 1
    assert job["priority"] == "high"
    assert "token" not in job
    running = await ok(client, "GET", f"/api/jobs/{seeded.running}")
    assert running["worker_id"] == "worker-1" and "token" not in running


async def test_dead_letter_queue_lists_dead_jobs(client: httpx.AsyncClient, seeded: Seeded) -> None:
    page = await ok(client, "GET", "/api/dead")
    assert [j["id"] for j in page["jobs"]] == [seeded.dead]
    assert (await ok(client, "GET", "/api/dead?queue=reports"))["jobs"][0]["error"]["message"] == "boom <b>"
    assert (await ok(client, "GET", "/api/dead?queue=mail"))["jobs"] == []


async def test_workers_schedules_health(client: httpx.AsyncClient, seeded: Seeded) -> None:
    [worker] = (await ok(client, "GET", "/api/workers"))["workers"]
    assert worker["host"] == "node-a" and worker["busy"] is True and worker["running"] == [seeded.running]
    [schedule] = (await ok(client, "GET", "/api/schedules"))["schedules"]
    assert schedule["name"] == "nightly-report" and schedule["cron"] == "0 3 * * *"
    next_run = time.gmtime(schedule["next_run"])
    assert (next_run.tm_hour, next_run.tm_min) == (3, 0) and schedule["next_run"] > time.time()
    assert await ok(client, "GET", "/api/health") == {"ok": True}


# -- actions ----------------------------------------------------------------------------------

async def test_replay_moves_a_dead_job_back_to_pending(client: httpx.AsyncClient, store: Store,
                                                       seeded: Seeded) -> None:
    job = await ok(client, "POST", f"/api/jobs/{seeded.dead}/replay")
    assert job["status"] == "pending" and job["attempts"] == 0
    stored = await store.get(seeded.dead)
    assert stored.status is Status.PENDING
    assert await store.dead() == []
    message = await error(client, 409, "POST", f"/api/jobs/{seeded.dead}/replay")
    assert "only failed" in message
    claimed = await store.claim("reports", "worker-2", 10)
    assert seeded.dead in {j.id for j in claimed}


async def test_retry_is_replay_of_a_dead_job(client: httpx.AsyncClient, store: Store,
                                             seeded: Seeded) -> None:
    job = await ok(client, "POST", f"/api/jobs/{seeded.dead}/retry")
    assert job["status"] == "pending"
    assert (await store.get(seeded.dead)).status is Status.PENDING


async def test_replay_dead_of_a_queue(client: httpx.AsyncClient, store: Store, seeded: Seeded) -> None:
    assert await ok(client, "POST", "/api/queues/reports/replay-dead", json={"limit": 10}) == {
        "queue": "reports", "replayed": 1}
    assert (await store.get(seeded.dead)).status is Status.PENDING
    assert "limit" in await error(client, 422, "POST", "/api/queues/reports/replay-dead", json={"limit": 0})


async def test_cancel_pending_running_and_finished_jobs(client: httpx.AsyncClient, store: Store,
                                                        seeded: Seeded) -> None:
    job = await ok(client, "POST", f"/api/jobs/{seeded.mail[0]}/cancel")
    assert job["status"] == "cancelled"
    assert (await store.get(seeded.mail[0])).status is Status.CANCELLED
    flagged = await ok(client, "POST", f"/api/jobs/{seeded.running}/cancel")
    assert flagged["status"] == "running" and flagged["cancel_requested"] is True
    message = await error(client, 409, "POST", f"/api/jobs/{seeded.completed}/cancel")
    assert "completed" in message


async def test_purge_deletes_only_finished_jobs(client: httpx.AsyncClient, store: Store,
                                                seeded: Seeded, clock: ManualClock) -> None:
    before = await all_jobs(store)
    clock.advance(10)
    result = await ok(client, "POST", "/api/purge", json={"queue": "mail", "statuses": ["completed"]})
    assert result["purged"] == 1 and result["statuses"] == ["completed"]
    after = await all_jobs(store)
    assert set(before) - set(after) == {seeded.completed}
    # failed jobs are only purged when asked for by name, and a dead job of another queue stays
    assert (await ok(client, "POST", "/api/purge", json={"queue": "mail", "statuses": ["failed"]}))[
        "purged"] == 0
    assert (await store.get(seeded.dead)).status is Status.FAILED


@pytest.mark.parametrize("case", [
    ({"statuses": ["pending"]}, 422, "cannot purge status 'pending'"),
    ({"statuses": ["running", "completed"]}, 422, "cannot purge status 'running'"),
    ({"statuses": "completed"}, 422, "statuses must be a non-empty list"),
    ({"older_than": -5}, 422, "older_than"),
    ({"queue": 7}, 422, "queue"),
    ([1, 2], 422, "JSON object"),
    ("{not json", 400, "not valid JSON"),
])
async def test_bad_purge_bodies_are_refused(client: httpx.AsyncClient, store: Store, seeded: Seeded,
                                            case: tuple[Any, int, str]) -> None:
    body, status, needle = case
    before = await all_jobs(store)
    kw: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    assert needle in await error(client, status, "POST", "/api/purge", **kw)
    assert set(await all_jobs(store)) == set(before)


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "status", "needle"), [
    ("/api/jobs?status=exploded", 400, "unknown status 'exploded': use one of pending"),
    ("/api/jobs?limit=-1", 400, "limit must be >= 1"),
    ("/api/jobs?limit=0", 400, "limit must be >= 1"),
    ("/api/jobs?limit=5000", 400, "limit must be <= 1000"),
    ("/api/jobs?offset=-3", 400, "offset must be >= 0"),
    ("/api/jobs?limit=ten", 400, "limit must be an integer"),
    ("/api/dead?limit=-1", 400, "limit must be >= 1"),
    ("/api/jobs/no-such-job", 404, "no-such-job"),
    ("/api/nothing-here", 404, "no such endpoint"),
])
async def test_bad_requests_get_a_clear_4xx(client: httpx.AsyncClient, seeded: Seeded, url: str,
                                            status: int, needle: str) -> None:
    assert needle in await error(client, status, "GET", url)


async def test_actions_on_unknown_jobs_are_404(client: httpx.AsyncClient, seeded: Seeded) -> None:
    for action in ("replay", "retry", "cancel"):
        assert "nope" in await error(client, 404, "POST", f"/api/jobs/nope/{action}")


async def test_wrong_method_is_405(client: httpx.AsyncClient, seeded: Seeded) -> None:
    await error(client, 405, "GET", f"/api/jobs/{seeded.dead}/replay")
    await error(client, 405, "DELETE", "/api/jobs")


async def test_no_job_is_lost_by_any_api_call(client: httpx.AsyncClient, store: Store,
                                              seeded: Seeded) -> None:
    before = await all_jobs(store)
    calls = [
        ("POST", f"/api/jobs/{seeded.dead}/replay"), ("POST", f"/api/jobs/{seeded.dead}/replay"),
        ("POST", f"/api/jobs/{seeded.mail[1]}/cancel"), ("POST", f"/api/jobs/{seeded.mail[1]}/cancel"),
        ("POST", f"/api/jobs/{seeded.running}/cancel"), ("POST", f"/api/jobs/{seeded.scheduled}/retry"),
        ("POST", "/api/queues/mail/replay-dead"), ("POST", "/api/queues/ghost/replay-dead"),
        ("GET", "/api/jobs?status=bogus"), ("GET", "/api/jobs/ghost"),
    ]
    for method, url in calls:
        response = await client.request(method, url)
        assert response.status_code < 500, response.text
    for body in ({"statuses": ["pending", "running", "scheduled", "retrying"]}, {"older_than": 1e9}):
        await client.post("/api/purge", json=body)
    after = await all_jobs(store)
    assert set(after) == set(before)
    assert after[seeded.dead].status is Status.PENDING
    assert after[seeded.mail[1]].status is Status.CANCELLED


# -- auth and read-only -----------------------------------------------------------------------

async def test_token_is_required_when_set(make_client: ClientFactory, seeded: Seeded) -> None:
    anonymous = make_client(token=TOKEN)
    response = await anonymous.get("/api/queues")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["message"]
    assert (await anonymous.get("/metrics")).status_code == 401
    wrong = make_client(token=TOKEN, headers={"Authorization": "Bearer nope"})
    assert "invalid bearer token" in await error(wrong, 401, "GET", "/api/queues")
    basic = make_client(token=TOKEN, headers={"Authorization": "Basic dXNlcjpwdw=="})
    await error(basic, 401, "GET", "/api/queues")
    await error(wrong, 401, "POST", f"/api/jobs/{seeded.dead}/replay")
    good = make_client(token=TOKEN, headers={"Authorization": f"Bearer {TOKEN}"})
    assert (await ok(good, "GET", "/api/queues"))["queues"]
    assert (await ok(good, "POST", f"/api/jobs/{seeded.dead}/replay"))["status"] == "pending"


async def test_read_only_mode_refuses_actions(make_client: ClientFactory, store: Store,
                                              seeded: Seeded) -> None:
    client = make_client(read_only=True)
    assert (await ok(client, "GET", "/api/jobs?status=failed"))["jobs"]
    for url in (f"/api/jobs/{seeded.dead}/replay", f"/api/jobs/{seeded.dead}/retry",
                f"/api/jobs/{seeded.mail[0]}/cancel", "/api/queues/reports/replay-dead", "/api/purge"):
        assert "read-only" in await error(client, 403, "POST", url)
    assert (await store.get(seeded.dead)).status is Status.FAILED
    assert (await store.get(seeded.mail[0])).status is Status.PENDING
    assert (await store.get(seeded.completed)).status is Status.COMPLETED


async def test_browser_login_cookie_needs_the_action_header(make_client: ClientFactory, store: Store,
                                                            seeded: Seeded) -> None:
    client = make_client(token=TOKEN)
    page = await client.get("/")
    assert page.status_code == 401 and 'name="token"' in page.text
    refused = await client.post("/login", content="token=wrong",
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 401 and "Wrong token" in refused.text
    login = await client.post("/login", content=f"token={TOKEN}",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert login.status_code == 303
    assert "httponly" in login.headers["set-cookie"].lower()
    assert (await client.get("/")).status_code == 200
    assert (await ok(client, "GET", "/api/queues"))["queues"]
    # a cross-site form cannot add a header: cookie-authenticated actions without it are refused
    assert "x-requested-with" in await error(client, 403, "POST", f"/api/jobs/{seeded.dead}/replay")
    assert (await store.get(seeded.dead)).status is Status.FAILED
    replayed = await ok(client, "POST", f"/api/jobs/{seeded.dead}/replay",
                        headers={"X-Requested-With": "swell"})
    assert replayed["status"] == "pending"
    await client.post("/logout")
    assert (await client.get("/api/queues")).status_code == 401


# -- OpenAPI and mounting ---------------------------------------------------------------------

async def test_openapi_document_lists_every_route(client: httpx.AsyncClient, store: Store) -> None:
    doc = await ok(client, "GET", "/api/openapi.json")
    assert doc["openapi"].startswith("3.1")
    app = create_app(store)
    for route in app.routes:
        if isinstance(route, Route) and (route.path.startswith("/api") or route.path == "/metrics"):
            assert route.path in doc["paths"], route.path
            for method in route.methods or ():
                if method != "HEAD":
                    assert method.lower() in doc["paths"][route.path], (route.path, method)

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"], ref
    for path, ops in doc["paths"].items():
        for op in ops.values():
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, path


async def test_app_mounts_under_a_prefix(store: Store, seeded: Seeded) -> None:
    host = Starlette(routes=[Mount("/admin", app=create_app(store))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://h") as client:
        queues = await ok(client, "GET", "/admin/api/queues")
        assert {q["name"] for q in queues["queues"]} == {"mail", "reports", "maintenance"}
        page = await client.get("/admin/")
        assert page.status_code == 200
        assert 'href="/admin/static/dashboard.css"' in page.text and 'data-base="/admin"' in page.text
        assert (await client.get("/admin/static/dashboard.js")).status_code == 200
        doc = await ok(client, "GET", "/admin/api/openapi.json")
        assert doc["servers"] == [{"url": "/admin"}]


async def test_cross_origin_browser_posts_are_refused(client: httpx.AsyncClient, store: Store,
                                                      seeded: Seeded) -> None:
    """A page on another site cannot make the visitor's browser purge or replay (CSRF)."""
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    message = await error(client, 403, "POST", "/api/purge", headers=evil,
                          content='{"statuses": ["completed", "failed"]}')
    assert "cross-origin" in message
    assert (await store.get(seeded.completed)).status is Status.COMPLETED
    same = {"Origin": "http://admin.test"}
    assert (await ok(client, "POST", f"/api/jobs/{seeded.dead}/replay", headers=same))["status"] == "pending"
