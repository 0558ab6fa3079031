"""The audit log's Merkle tree heads agree with RFC 9162 and with an independent implementation.

pymerkle 7 (GPL, used here only) hashes by RFC 9162 by default: SHA-256,
leaves prefixed with 0x00 and inner nodes with 0x01 (its "security" mode),
the tree split at the largest power of two smaller than the size.
"""

from __future__ import annotations

import hashlib

import pytest
from pymerkle import InmemoryTree

from openamr.guard.merkle import EMPTY_TREE_HEAD, TreeBuilder, leaf_hash, node_hash, tree_head

# The leaves and tree heads of Certificate Transparency's reference tests
# (certificate-transparency-go, merkle/testonly): eight leaves, heads of sizes 1..8.
CT_LEAVES = [
    bytes.fromhex(leaf)
    for leaf in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_HEADS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _event_hashes(count: int) -> list[bytes]:
    """Leaves as the audit log makes them: 32-byte chain hashes."""
    return [hashlib.sha256(f"event {n}".encode()).digest() for n in range(1, count + 1)]


def test_the_tree_heads_match_pymerkle_for_every_size_from_1_to_300() -> None:
    leaves = _event_hashes(300)
    reference = InmemoryTree(algorithm="sha256")  # RFC 9162 prefixes are its default
    builder = TreeBuilder()
    for size, leaf in enumerate(leaves, start=1):
        reference.append_entry(leaf)
        builder.append(leaf)
        expected = reference.get_root()
        assert builder.size == size
        assert builder.head() == expected, f"incremental head differs at size {size}"
        assert tree_head(leaves[:size]) == expected, f"recursive head differs at size {size}"


def test_the_tree_heads_match_certificate_transparencys_reference_vectors() -> None:
    builder = TreeBuilder()
    for size, (leaf, head) in enumerate(zip(CT_LEAVES, CT_HEADS, strict=True), start=1):
        builder.append(leaf)
        assert builder.head().hex() == head, f"size {size}"
        assert tree_head(CT_LEAVES[:size]).hex() == head, f"size {size}"


def test_the_empty_tree_head_is_the_hash_of_nothing() -> None:
    assert tree_head([]) == EMPTY_TREE_HEAD == TreeBuilder().head()
    assert EMPTY_TREE_HEAD.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_leaves_and_nodes_are_hashed_apart() -> None:
    """A leaf whose data is two concatenated hashes does not hash like their parent node."""
    left, right = _event_hashes(2)
    assert leaf_hash(left + right) != node_hash(left, right)
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


@pytest.mark.parametrize("changed", [0, 1, 6, 12])
def test_changing_any_one_leaf_changes_the_head(changed: int) -> None:
    leaves = _event_hashes(13)
    tampered = list(leaves)
    tampered[changed] = bytes([leaves[changed][0] ^ 1]) + leaves[changed][1:]
    assert tree_head(tampered) != tree_head(leaves)


@pytest.mark.parametrize("split", [1, 2, 3, 7, 8, 13, 64, 100])
def test_a_tree_resumed_from_its_frontier_goes_on_as_if_never_stopped(split: int) -> None:
    leaves = _event_hashes(150)
    first = TreeBuilder()
    for leaf in leaves[:split]:
        first.append(leaf)
    resumed = TreeBuilder.resume(split, first.frontier)
    assert resumed.head() == first.head()
    for size, leaf in enumerate(leaves[split:], start=split + 1):
        resumed.append(leaf)
        assert resumed.head() == tree_head(leaves[:size])


def test_a_frontier_of_the_wrong_shape_is_refused() -> None:
    builder = TreeBuilder()
    for leaf in _event_hashes(6):  # 6 = 4 + 2: two subtrees
        builder.append(leaf)
    with pytest.raises(ValueError, match="2 subtrees"):
        TreeBuilder.resume(6, builder.frontier[:1])
