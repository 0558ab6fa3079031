"""Every shared test vector decodes to the values its source states, or is rejected with a reason.

One case per vector in ../shared/testdata/mbus/vectors.json. A vector is
decoded with its key, accepting an already decrypted payload only where the
vector says it is one; the meter's other vectors are decoded first into the
same layout cache, so a compact frame finds the layout of its full frame.
How values are compared is in :mod:`tests.unit.mbus.vector_matching`.
"""

from __future__ import annotations

from typing import Any

import pytest

from openamr.collect.mbus.compact import LayoutCache
from openamr.collect.mbus.model import Telegram, UnableToDecodeTelegram
from openamr.collect.mbus.telegram import decode
from tests.unit.mbus.vector_matching import (
    error_is_explained,
    is_error_vector,
    is_pre_decrypted,
    load_vectors,
    meter_of,
    mismatches,
)

VECTORS = load_vectors()


def _decode(vector: dict[str, Any], layouts: LayoutCache) -> Telegram:
    return decode(
        bytes.fromhex(vector["hex"]),
        key=bytes.fromhex(vector["key"]) if vector["key"] else None,
        layouts=layouts,
        allow_pre_decrypted=is_pre_decrypted(vector),
    )


def _learn_meter(vector: dict[str, Any], layouts: LayoutCache) -> None:
    """Decode the meter's other vectors first, as a collector hears its full frames."""
    meter = meter_of(vector)
    for other in VECTORS:
        if other is vector or meter is None or meter_of(other) != meter:
            continue
        try:
            _decode(other, layouts)
        except UnableToDecodeTelegram:
            continue


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["id"] for vector in VECTORS])
def test_vector_decodes_to_the_stated_values(vector: dict[str, Any]) -> None:
    layouts = LayoutCache()
    _learn_meter(vector, layouts)
    if is_error_vector(vector):
        with pytest.raises(UnableToDecodeTelegram) as caught:
            _decode(vector, layouts)
        assert error_is_explained(vector, caught.value.cause, caught.value.reason), (
            f"rejected, but the reason {caught.value.reason!r} ({caught.value.cause}) does not "
            f"say {vector['expected']['error']!r}"
        )
        return
    telegram = _decode(vector, layouts)
    problems = mismatches(vector, telegram)
    assert not problems, "\n".join(problems)
