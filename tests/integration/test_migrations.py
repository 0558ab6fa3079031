"""The migrations build exactly the schema the code describes, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from openamr.store import migrations
from openamr.store.schema import metadata


def test_the_migrated_schema_matches_the_tables_in_code(engine: Engine) -> None:
    assert migrations.current_revision(engine) == migrations.head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_no_column_can_hold_a_households_name_or_contact_details() -> None:
    personal = ("name", "email", "e_mail", "phone", "mobile", "personnummer", "ssn")
    household_tables = {"apartment", "tenancy", "entrance", "metering_point", "reading"}
    for table in metadata.sorted_tables:
        if table.name in household_tables:
            assert not [c.name for c in table.columns if any(p in c.name for p in personal)]
