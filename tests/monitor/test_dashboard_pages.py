"""Server-rendered dashboard pages: content, escaping, read-only, errors, no external resources."""

from __future__ import annotations

import re

import httpx
from monitor_support import ClientFactory, Seeded


async def page(client: httpx.AsyncClient, url: str, status: int = 200) -> str:
    response = await client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def test_overview_shows_queues_with_depth(client: httpx.AsyncClient, seeded: Seeded) -> None:
    html = await page(client, "/")
    for name in ("mail", "reports", "maintenance"):
        assert f'data-queue="{name}"' in html
    row = re.search(r'<tr data-queue="mail">(.*?)</tr>', html)
    assert row is not None and '<span data-field="pending.normal">4</span>' in row.group(1)
    assert 'href="/dead?queue=reports"><span data-field="dead">1</span>' in html
    assert '<table id="tenants">' in html and "<td>acme</td>" in html
    assert "3 queues" in html and "1 worker</a> (1 busy)" in html


async def test_no_page_loads_anything_from_another_host(client: httpx.AsyncClient, seeded: Seeded) -> None:
    for url in ("/", "/jobs", f"/jobs/{seeded.dead}", "/dead", "/workers", "/schedules"):
        html = await page(client, url)
        assert not re.search(r'(src|href)="(https?:)?//', html), url


async def test_job_list_filters_and_shows_actions(client: httpx.AsyncClient, seeded: Seeded) -> None:
    html = await page(client, "/jobs?status=pending&queue=mail")
    for job_id in seeded.mail:
        assert f'<tr data-job="{job_id}">' in html
    assert seeded.dead not in html
    assert '<option selected>pending</option>' in html
    failed = await page(client, "/jobs?status=failed")
    assert f'data-action="replay" data-job="{seeded.dead}"' in failed
    paged = await page(client, "/jobs?status=pending&queue=mail&limit=2")
    assert "older →" in paged


async def test_job_detail_shows_args_error_traceback_escaped(client: httpx.AsyncClient,
                                                              seeded: Seeded) -> None:
    html = await page(client, f"/jobs/{seeded.dead}")
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert "<b>ValueError</b>: boom &lt;b&gt;" in html
    assert "Traceback (most recent call last)" in html and 'class="traceback"' in html
    assert "permanent error" in html
    assert f'data-action="replay" data-job="{seeded.dead}"' in html


async def test_dead_letter_page_offers_replay(client: httpx.AsyncClient, seeded: Seeded) -> None:
    html = await page(client, "/dead?queue=reports")
    assert f'<tr data-job="{seeded.dead}">' in html
    assert 'data-action="replay-dead" data-queue="reports"' in html
    assert "boom &lt;b&gt;" in html


async def test_workers_and_schedules_pages(client: httpx.AsyncClient, seeded: Seeded) -> None:
    workers = await page(client, "/workers")
    assert "worker-1" in workers and "node-a" in workers and "1 / 4" in workers
    schedules = await page(client, "/schedules")
    assert "nightly-report" in schedules and "0 3 * * *" in schedules


async def test_read_only_dashboard_has_no_action_buttons(make_client: ClientFactory, seeded: Seeded) -> None:
    client = make_client(read_only=True)
    for url in (f"/jobs/{seeded.dead}", "/dead?queue=reports", "/jobs?status=pending"):
        html = await page(client, url)
        assert 'class="act' not in html
        assert "read-only" in html


async def test_bad_pages_explain_themselves(client: httpx.AsyncClient, seeded: Seeded) -> None:
    assert "unknown status" in await page(client, "/jobs?status=nope", 400)
    assert "missing-job" in await page(client, "/jobs/missing-job", 404)
    assert "Not Found" in await page(client, "/no/such/page", 404)


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    js = await client.get("/static/dashboard.js")
    assert js.status_code == 200 and "X-Requested-With" in js.text
    assert (await client.get("/static/dashboard.css")).status_code == 200
