"""The schema comes from the Alembic revisions alone, and they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from app import create_app
from app.columns import render_migration_type
from app.extensions import db


def _diff(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_item": render_migration_type}
        )
        return compare_metadata(context, db.metadata)


def test_the_test_database_was_built_by_the_migrations_and_matches_the_models(app):
    """The session fixture upgraded from empty (SQLite, or PostgreSQL in CI)."""
    with app.app_context():
        assert "alembic_version" in inspect(db.engine).get_table_names()
        assert _diff(db.engine) == []


def test_upgrade_from_empty_downgrade_and_upgrade_again_on_a_fresh_sqlite(tmp_path, app):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    fresh = create_app({**{k: app.config[k] for k in ("SECRET_KEY", "REDIS_URL")},
                        "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url})
    with fresh.app_context():
        upgrade()
        engine = create_engine(url)
        assert {"people", "deliveries", "login_tokens"} <= set(inspect(engine).get_table_names())
        assert _diff(engine) == []
        downgrade(revision="base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _diff(engine) == []
        engine.dispose()
