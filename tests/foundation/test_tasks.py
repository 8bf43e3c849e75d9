"""Celery: the beat schedule, the fan-out, "Sync now", and a real worker process running a sync."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from orgportal.models import AwsConnection, SyncRun
from orgportal.tasks import SCHEDULE_NAME, ensure_schedule, sync_all, sync_connection_task

ROOT = Path(__file__).resolve().parents[2]


def test_the_schedule_is_created_once_and_follows_the_interval(db: None) -> None:
    # Every migrate already put the registered entries in place (the test database's too).
    assert PeriodicTask.objects.get(name=SCHEDULE_NAME).interval.every == settings.SYNC_INTERVAL_SECONDS
    PeriodicTask.objects.filter(name=SCHEDULE_NAME).delete()
    assert ensure_schedule(300) is True
    assert ensure_schedule(300) is False
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    assert task.task == sync_all.name and task.interval.every == 300 and task.enabled
    assert ensure_schedule(60) is True
    assert PeriodicTask.objects.get(name=SCHEDULE_NAME).interval.every == 60
    assert PeriodicTask.objects.filter(name=SCHEDULE_NAME).count() == 1


def test_sync_all_syncs_every_enabled_connection(
    settings: Any, sim_connection: AwsConnection, make_connection: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from orgportal.celery import app

    app.conf.task_always_eager = True
    try:
        paused = make_connection(name="Paused", sync_enabled=False, endpoint_url=sim_connection.endpoint_url)
        assert sync_all.delay().get() == 1
    finally:
        app.conf.task_always_eager = False
    assert SyncRun.objects.filter(connection=sim_connection, status="ok").count() == 1
    assert not SyncRun.objects.filter(connection=paused).exists()


def test_sync_now_queues_the_task_after_commit(
    personas: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    personas.login(client, "operator")
    from orgportal.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = client.post(reverse("connection_sync", args=[personas.connection.pk]), HTTP_HX_REQUEST="true")
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 200
    assert "Sync queued" in response.content.decode()
    assert len(callbacks) == 1  # queued on commit, not before


def _database_url() -> str:
    """The URL of the test database this process uses, for the worker subprocess."""
    cfg = db_connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    user = cfg.get("USER") or "postgres"
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_process_executes_a_sync(sim_connection: AwsConnection) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker takes our task
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,  # the same key decrypts the stored secret
        "ORGPORTAL_TESTING": "false",
        "ORGPORTAL_VAR_DIR": str(settings.VAR_DIR),
        "DJANGO_SETTINGS_MODULE": "orgportal.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "orgportal", "worker", "--pool", "solo", "-Q", queue,
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        sync_connection_task.apply_async(args=[sim_connection.pk], queue=queue)
        deadline = time.monotonic() + 90
        run = None
        while time.monotonic() < deadline and worker.poll() is None:
            run = SyncRun.objects.filter(connection=sim_connection).exclude(status="running").first()
            if run is not None:
                break
            time.sleep(0.3)
        assert worker.poll() is None, worker.communicate(timeout=5)[0].decode()[-3000:]
        assert run is not None, "the worker did not run the sync in time"
        assert run.status == "ok", run.error
        sim_connection.refresh_from_db()
        assert sim_connection.organization_id and sim_connection.last_sync_ok is True
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_transient_aws_failure_makes_the_task_retry_and_a_refusal_does_not(
    settings: Any, orgsim: Any, sim_connection: AwsConnection, make_connection: Any
) -> None:
    from orgportal import aws
    from orgportal.tasks import TransientSyncError

    settings.AWS_MAX_ATTEMPTS = 1
    settings.SYNC_RETRY_ROUNDS = 0
    aws.forget_clients()
    orgsim.set_faults(operation="DescribeOrganization", error_rate=1.0)
    with pytest.raises(TransientSyncError):
        sync_connection_task(sim_connection.pk)  # called directly, a retry re-raises
    orgsim.clear_faults()
    standalone = make_connection(account_id="666666666666", endpoint_url=orgsim.endpoint)
    assert sync_connection_task(standalone.pk) == "failed"
    assert SyncRun.objects.filter(status="failed").count() == 2
