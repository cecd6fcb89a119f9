"""Entry point run with the review server's own Python (argilla-server's virtualenv).

    python magpie_launch.py serve --host 127.0.0.1 --port 6900   # migrate, ensure owner, run the API + UI
    python magpie_launch.py worker                                # the rq worker for background jobs

Both import the search engine first so that `SearchEngine.get_by_name("magpie-sqlite")` resolves in
the API process, in the worker and in the work-horses the worker forks for each job. The owner's
credentials arrive through environment variables (never the command line, which `ps` shows).
"""

import argparse
import asyncio
import logging
import os
import sys

import magpie_sqlite_engine  # noqa: F401  (registers the engine)


def migrate() -> None:
    import alembic.config
    from argilla_server.database import ALEMBIC_CONFIG_FILE

    alembic.config.main(argv=["-c", ALEMBIC_CONFIG_FILE, "--raiseerr", "-q", "upgrade", "head"])


async def ensure_owner(username: str, password: str, api_key: str, workspace: str) -> None:
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.models import User, UserRole, Workspace, WorkspaceUser
    from sqlalchemy import select

    async with AsyncSessionLocal() as db:
        ws = (await db.execute(select(Workspace).filter_by(name=workspace))).scalar_one_or_none()
        if ws is None:
            ws = await accounts.create_workspace(db, {"name": workspace})
        user = await accounts.get_user_by_username(db, username)
        if user is None:
            user = await User.create(
                db,
                first_name=username,
                username=username,
                role=UserRole.owner,
                password_hash=accounts.hash_password(password),
                api_key=api_key,
            )
        elif user.api_key != api_key or not accounts.verify_password(password, user.password_hash):
            # The credentials file is the truth: re-sync if someone changed them through the API.
            new = {"api_key": api_key, "password_hash": accounts.hash_password(password)}
            await accounts.update_user(db, user, new)
        member = await WorkspaceUser.get_by(db, workspace_id=ws.id, user_id=user.id)
        if member is None:
            await accounts.create_workspace_user(db, {"workspace_id": ws.id, "user_id": user.id})


def skip_unheard_record_events() -> None:
    """The bulk upsert builds a webhook event per record (a dataset query with five eager loads and a
    schema dump each) even when no webhook is enabled; that is most of its time. Build it only
    when some webhook listens: one cheap query per record instead."""
    from argilla_server.bulk import records_bulk
    from argilla_server.models import Webhook
    from sqlalchemy import exists, select

    build_and_notify = records_bulk.notify_record_event_v1

    async def notify_if_heard(db, record_event, record):
        if not await db.scalar(select(exists().where(Webhook.enabled.is_(True)))):
            return []
        return await build_and_notify(db, record_event, record)

    records_bulk.notify_record_event_v1 = notify_if_heard


def serve(host: str, port: int) -> None:
    migrate()
    skip_unheard_record_events()
    asyncio.run(
        ensure_owner(
            os.environ["MAGPIE_REVIEW_USERNAME"],
            os.environ.pop("MAGPIE_REVIEW_PASSWORD"),
            os.environ.pop("MAGPIE_REVIEW_API_KEY"),
            os.environ.get("MAGPIE_REVIEW_WORKSPACE", "argilla"),
        )
    )
    import uvicorn

    uvicorn.run("argilla_server:app", host=host, port=port, access_log=False, log_level="warning")


def worker() -> None:
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq import Worker

    # One worker (not argilla's pool of two): it forks a work-horse per job, which inherits the engine.
    Worker([HIGH_QUEUE, DEFAULT_QUEUE], connection=REDIS_CONNECTION).work(logging_level="WARNING")


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6900)
    sub.add_parser("worker")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.cmd == "serve":
        serve(args.host, args.port)
    else:
        worker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
