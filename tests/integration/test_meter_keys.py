"""Meter keys at rest and over HTTP: sealed in the database, set and forgotten, never shown."""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Iterator
from io import StringIO

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.app import create_app
from openamr.cli import main
from openamr.collect.portfolio import import_portfolio, read_portfolio_csv
from openamr.guard.keyring import Keyring, UnableToOpenKey
from openamr.settings import MasterKey, Settings
from openamr.store import keys as key_store
from openamr.store.schema import metadata, meter, meter_key
from tests.helpers import NOW, OPERATOR, load_portfolio, sign_in

KEY = bytes.fromhex("8B1E2D3C4B5A69788796A5B4C3D2E1F7")
OTHER_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
OLD = MasterKey("2025-01", bytes(range(32)))
NEW = MasterKey("2026-06", bytes(range(64, 96)))

ROWS = [
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,heat,HM-1101,kWh,8,2025-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1102,heat,HM-1102,kWh,8,2025-01-01T00:00:00+01:00,",
    "Annat AB,Solna Råsunda 4:2,Råsundavägen 1,1001,heat,HM-9,kWh,8,2025-01-01T00:00:00+01:00,",
]


def _traces(key: bytes) -> list[bytes]:
    """The ways a key could show up in stored bytes or in text."""
    return [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key)]


def _assert_not_in(key: bytes, haystack: bytes | str) -> None:
    data = haystack.encode() if isinstance(haystack, str) else haystack
    for trace in _traces(key):
        assert trace not in data


def _meters(engine: Engine) -> dict[str, tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(meter.c.identity, meter.c.id, meter.c.customer_id))
        return {row.identity: (row.id, row.customer_id) for row in rows}


def _raw_database(engine: Engine) -> bytes:
    """Every value of every row of every table, as the driver returns it."""
    parts: list[bytes] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.exec_driver_sql(f'SELECT * FROM "{table.name}"'):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        parts.append(bytes(value))
                    else:
                        parts.append(str(value).encode())
    return b"\x00".join(parts)


@pytest.fixture
def meters(engine: Engine) -> dict[str, tuple[int, int]]:
    assert load_portfolio(engine, ROWS).errors == []
    return _meters(engine)


def _seal_and_store(engine: Engine, keyring: Keyring, meter_id: int, customer_id: int) -> None:
    with engine.begin() as conn:
        sealed = keyring.seal(KEY, meter_id=meter_id, customer_id=customer_id)
        key_store.put_meter_key(
            conn, meter_id=meter_id, customer_id=customer_id, sealed=sealed, now=NOW
        )


# -- at rest ---------------------------------------------------------------------------


def test_a_stored_key_comes_back_only_through_the_keyring_and_never_in_clear(
    engine: Engine, meters: dict[str, tuple[int, int]]
) -> None:
    keyring = Keyring((NEW,))
    meter_id, customer_id = meters["HM-1101"]
    _seal_and_store(engine, keyring, meter_id, customer_id)
    with engine.connect() as conn:
        found = key_store.list_sealed_keys(conn, [meter_id, meters["HM-1102"][0]], access=OPERATOR)
    assert list(found) == [meter_id]
    assert found[meter_id].master_key_id == "2026-06"
    assert keyring.unseal(found[meter_id], meter_id=meter_id, customer_id=customer_id) == KEY
    raw = _raw_database(engine)
    assert b"2026-06" in raw  # the scan does see the row
    _assert_not_in(KEY, raw)


def test_keys_are_listed_only_for_the_callers_customers(
    engine: Engine, meters: dict[str, tuple[int, int]]
) -> None:
    keyring = Keyring((NEW,))
    for identity in ("HM-1101", "HM-9"):
        _seal_and_store(engine, keyring, *meters[identity])
    ids = [meters["HM-1101"][0], meters["HM-9"][0]]
    other = AccessContext.system("t", meters["HM-9"][1])
    with engine.connect() as conn:
        assert list(key_store.list_sealed_keys(conn, ids, access=other)) == [meters["HM-9"][0]]
        assert sorted(key_store.list_sealed_keys(conn, ids, access=OPERATOR)) == sorted(ids)
    with engine.begin() as conn:
        assert not key_store.delete_meter_key(conn, meter_id=ids[0], access=other)
        assert key_store.delete_meter_key(conn, meter_id=ids[1], access=other)
    with engine.connect() as conn:
        assert list(key_store.list_sealed_keys(conn, ids, access=OPERATOR)) == [ids[0]]


def test_a_sealed_key_copied_to_another_meters_row_does_not_open(
    engine: Engine, meters: dict[str, tuple[int, int]]
) -> None:
    keyring = Keyring((NEW,))
    first, second = meters["HM-1101"], meters["HM-1102"]
    _seal_and_store(engine, keyring, *first)
    with engine.begin() as conn:
        row = conn.execute(sa.select(meter_key).where(meter_key.c.meter_id == first[0])).one()
        conn.execute(
            meter_key.insert().values(
                meter_id=second[0],
                customer_id=second[1],
                master_key_id=row.master_key_id,
                wrapped_data_key=row.wrapped_data_key,
                sealed_key=row.sealed_key,
                set_at=NOW,
            )
        )
    with engine.connect() as conn:
        copied = key_store.list_sealed_keys(conn, [second[0]], access=OPERATOR)[second[0]]
    with pytest.raises(UnableToOpenKey, match=f"the key of meter {second[0]} does not open"):
        keyring.unseal(copied, meter_id=second[0], customer_id=second[1])


def test_a_key_stored_again_replaces_the_first_and_moves_set_at(
    engine: Engine, meters: dict[str, tuple[int, int]]
) -> None:
    keyring = Keyring((NEW,))
    meter_id, customer_id = meters["HM-1101"]
    _seal_and_store(engine, keyring, meter_id, customer_id)
    later = NOW.replace(hour=13)
    with engine.begin() as conn:
        sealed = keyring.seal(OTHER_KEY, meter_id=meter_id, customer_id=customer_id)
        key_store.put_meter_key(
            conn, meter_id=meter_id, customer_id=customer_id, sealed=sealed, now=later
        )
    with engine.connect() as conn:
        rows = conn.execute(sa.select(meter_key.c.set_at)).scalars().all()
        found = key_store.list_sealed_keys(conn, [meter_id], access=OPERATOR)[meter_id]
    assert rows == [later]
    assert keyring.unseal(found, meter_id=meter_id, customer_id=customer_id) == OTHER_KEY


# -- rotation --------------------------------------------------------------------------


def _cli(settings: Settings, master_keys: str, *args: str) -> tuple[int, str, str]:
    env = {"OPENAMR_DATABASE_URL": settings.database_url, "OPENAMR_MASTER_KEYS": master_keys}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _entry(master: MasterKey) -> str:
    return f"{master.id}:{base64.b64encode(master.key).decode()}"


def test_rotation_then_rewrap_leaves_the_old_master_key_unneeded(
    engine: Engine, settings: Settings, meters: dict[str, tuple[int, int]]
) -> None:
    for identity in ("HM-1101", "HM-1102", "HM-9"):
        _seal_and_store(engine, Keyring((OLD,)), *meters[identity])
    with engine.connect() as conn:
        set_before = conn.execute(sa.select(meter_key.c.set_at)).scalars().all()

    code, out, _err = _cli(settings, f"{_entry(NEW)},{_entry(OLD)}", "keys", "rewrap")
    assert code == 0
    assert out.strip() == (
        "3 keys re-wrapped under master key '2026-06', 0 already under it, "
        "0 set anew meanwhile, 0 could not be opened"
    )
    only_new = Keyring((NEW,))
    with engine.connect() as conn:
        stored = key_store.list_all_sealed_keys(conn)
        set_after = conn.execute(sa.select(meter_key.c.set_at)).scalars().all()
    assert {item.sealed.master_key_id for item in stored} == {"2026-06"}
    for item in stored:
        assert (
            only_new.unseal(item.sealed, meter_id=item.meter_id, customer_id=item.customer_id)
            == KEY
        )
    assert set_after == set_before  # the meter keys themselves did not change

    code, out, _err = _cli(settings, _entry(NEW), "keys", "rewrap")
    assert (code, out.split(",")[1].strip()) == (0, "3 already under it")


def test_rewrap_without_an_old_master_key_lists_what_it_could_not_open(
    engine: Engine, settings: Settings, meters: dict[str, tuple[int, int]]
) -> None:
    meter_id, customer_id = meters["HM-1101"]
    _seal_and_store(engine, Keyring((OLD,)), meter_id, customer_id)
    code, out, err = _cli(settings, _entry(NEW), "keys", "rewrap")
    assert code == 1
    assert "0 keys re-wrapped" in out
    assert "1 could not be opened" in out
    assert (
        f"meter {meter_id}: the key of meter {meter_id} is sealed under master key '2025-01'" in err
    )
    assert "keep the older master keys configured" in err
    with engine.connect() as conn:
        assert conn.execute(sa.select(meter_key.c.master_key_id)).scalar_one() == "2025-01"


def test_rewrap_without_any_master_key_says_how_to_configure_one(
    engine: Engine, settings: Settings
) -> None:
    code, _out, err = _cli(settings, "", "keys", "rewrap")
    assert code == 1
    assert "no master key is configured: set OPENAMR_MASTER_KEYS" in err


# -- over HTTP -------------------------------------------------------------------------


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(dataclasses.replace(settings, master_keys=(NEW,)), engine=engine)


@pytest.fixture
def client(
    app: FastAPI, engine: Engine, meters: dict[str, tuple[int, int]]
) -> Iterator[TestClient]:
    """Signed in as an administrator of Hem AB, the customer of HM-1101 and HM-1102."""
    with TestClient(app) as test_client:
        yield sign_in(test_client, engine, Role.CUSTOMER_ADMIN, customer=meters["HM-1101"][1])


def _stored_key(engine: Engine, meter_id: int, customer_id: int) -> bytes | None:
    with engine.connect() as conn:
        sealed = key_store.list_sealed_keys(conn, [meter_id], access=OPERATOR).get(meter_id)
    if sealed is None:
        return None
    return Keyring((NEW,)).unseal(sealed, meter_id=meter_id, customer_id=customer_id)


def test_put_sets_a_key_that_opens_and_is_never_answered(
    engine: Engine, client: TestClient, meters: dict[str, tuple[int, int]]
) -> None:
    meter_id, customer_id = meters["HM-1101"]
    answer = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": KEY.hex()})
    assert answer.status_code == 204
    assert answer.content == b""
    assert _stored_key(engine, meter_id, customer_id) == KEY
    replaced = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": OTHER_KEY.hex().upper()})
    assert replaced.status_code == 204
    assert _stored_key(engine, meter_id, customer_id) == OTHER_KEY
    # There is no way to read a key back.
    assert client.get(f"/api/v1/meters/{meter_id}/key").status_code == 405
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]["/api/v1/meters/{meter_id}/key"]) == {"put", "delete"}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ('{"key": "8B1E2D3C4B5A69788796A5B4C3D2E1F"}', 422, "not 31 characters"),
        ('{"key": "8B1E2D3C4B5A69788796A5B4C3D2E1F7AB"}', 422, "not 34 characters"),
        ('{"key": "8B1E2D3C4B5A69788796A5B4C3D2E1FZ"}', 422, "this one has other characters"),
        ('{"key": 8}', 422, "key must be a string of 32 hexadecimal digits"),
        ('{"secret": "8B1E2D3C4B5A69788796A5B4C3D2E1F7"}', 422, "must be a JSON object"),
        ('"8B1E2D3C4B5A69788796A5B4C3D2E1F7"', 422, "must be a JSON object"),
        ("key=8B1E2D3C4B5A69788796A5B4C3D2E1F7", 400, "the body must be JSON"),
    ],
)
def test_a_bad_body_gets_a_precise_message_that_does_not_repeat_it(
    engine: Engine,
    client: TestClient,
    meters: dict[str, tuple[int, int]],
    body: str,
    status: int,
    detail: str,
) -> None:
    meter_id, customer_id = meters["HM-1101"]
    answer = client.put(
        f"/api/v1/meters/{meter_id}/key",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == status
    assert detail in answer.json()["detail"]
    assert "8B1E2D3C4B5A69788796A5B4C3D2E1F" not in answer.text
    assert _stored_key(engine, meter_id, customer_id) is None


def test_a_meter_the_caller_may_not_see_is_not_found(
    app: FastAPI, client: TestClient, engine: Engine, meters: dict[str, tuple[int, int]]
) -> None:
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=meters["HM-9"][1])  # Annat AB's
    meter_id, customer_id = meters["HM-1101"]
    _seal_and_store(engine, Keyring((NEW,)), meter_id, customer_id)
    answer = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": OTHER_KEY.hex()})
    assert (answer.status_code, answer.json()) == (404, {"detail": f"no meter {meter_id}"})
    gone = client.delete(f"/api/v1/meters/{meter_id}/key")
    assert (gone.status_code, gone.json()) == (404, {"detail": f"no meter {meter_id}"})
    assert _stored_key(engine, meter_id, customer_id) == KEY
    own = client.put(f"/api/v1/meters/{meters['HM-9'][0]}/key", json={"key": OTHER_KEY.hex()})
    assert own.status_code == 204
    missing = client.put("/api/v1/meters/999999/key", json={"key": OTHER_KEY.hex()})
    assert missing.status_code == 404


def test_without_a_master_key_put_says_what_to_configure(
    settings: Settings, engine: Engine, meters: dict[str, tuple[int, int]]
) -> None:
    meter_id, customer_id = meters["HM-1101"]
    with TestClient(create_app(settings, engine=engine)) as client:
        sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=customer_id)
        answer = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": KEY.hex()})
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith(
        "no master key is configured: set OPENAMR_MASTER_KEYS or OPENAMR_MASTER_KEY_FILE"
    )
    assert _stored_key(engine, meter_id, customer_id) is None


def test_delete_forgets_the_key(
    engine: Engine, client: TestClient, meters: dict[str, tuple[int, int]]
) -> None:
    meter_id, customer_id = meters["HM-1101"]
    assert client.put(f"/api/v1/meters/{meter_id}/key", json={"key": KEY.hex()}).status_code == 204
    assert client.delete(f"/api/v1/meters/{meter_id}/key").status_code == 204
    assert _stored_key(engine, meter_id, customer_id) is None
    assert client.delete(f"/api/v1/meters/{meter_id}/key").status_code == 204  # already gone
    assert client.delete("/api/v1/meters/999999/key").status_code == 404


def test_a_key_set_calls_the_hook_after_it_is_stored(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    meters: dict[str, tuple[int, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    meter_id, customer_id = meters["HM-1101"]
    calls: list[tuple[int, int, bytes | None]] = []

    def on_key_set(*, meter_id: int, customer_id: int) -> None:
        calls.append((meter_id, customer_id, _stored_key(engine, meter_id, customer_id)))
        raise RuntimeError("the re-processing queue is down")

    app.state.on_key_set = on_key_set
    answer = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": KEY.hex()})
    assert answer.status_code == 204  # the key is stored even though the hook failed
    assert calls == [(meter_id, customer_id, KEY)]
    assert f"meter {meter_id}: the key is stored, but on_key_set failed" in caplog.text
    assert client.delete(f"/api/v1/meters/{meter_id}/key").status_code == 204
    assert len(calls) == 1  # forgetting a key is not a reason to re-process


def test_no_key_reaches_the_log_even_at_debug(
    engine: Engine,
    client: TestClient,
    meters: dict[str, tuple[int, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy keeps its loggers at WARNING unless told: log every statement
    # and its parameters too.
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    text = (
        "customer,property,entrance,apartment,medium,meter,register_unit,register_digits,"
        "installed_at,removed_at,manufacturer,key\n"
        f"Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,heat,HM-1101,kWh,8,"
        f"2025-01-01T00:00:00+01:00,,KAM,{OTHER_KEY.hex()}\n"
        f"Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1102,heat,HM-1102,kWh,8,"
        f"2025-01-01T00:00:00+01:00,,KAM,{OTHER_KEY.hex()[:-1]}\n"
    )
    report = import_portfolio(
        engine,
        read_portfolio_csv(StringIO(text)),
        access=OPERATOR,
        source="test",
        time_zone="Europe/Stockholm",
        now=NOW,
        keyring=Keyring((NEW,)),
    )
    assert (report.keys_set, len(report.errors)) == (1, 1)
    meter_id, customer_id = meters["HM-9"]
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=customer_id)
    answer = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": KEY.hex()})
    assert answer.status_code == 204
    # Logging was on, down to the statements and their parameters.
    assert f"meter {meter_id}: key set by staff:" in caplog.text
    assert "INSERT INTO meter_key" in caplog.text
    for key in (KEY, OTHER_KEY):
        _assert_not_in(key, caplog.text)
    _assert_not_in(OTHER_KEY[:-1], caplog.text)
