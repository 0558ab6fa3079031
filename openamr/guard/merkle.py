"""The Merkle tree hash of RFC 9162 (Certificate Transparency 2.0), over the audit log's events.

RFC 9162, section 2.1.1, with SHA-256::

    MTH({})        = SHA-256()
    MTH({d(0)})    = SHA-256(0x00 || d(0))
    MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
                     where k is the largest power of two smaller than n

The prefixes keep a leaf from ever hashing like an inner node (a second
preimage). `tree_head` is the definition, for reference and tests;
`TreeBuilder` computes the same heads while leaves stream in, keeping only
the roots of the perfect subtrees along the right edge (at most log2 n
hashes), so that verifying millions of events needs no list of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_TREE_HEAD = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE + left + right).digest()


def tree_head(leaves: Sequence[bytes]) -> bytes:
    """MTH of the leaves' data, exactly as RFC 9162 defines it (recursive; for reference)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_TREE_HEAD
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two smaller than n
    return node_hash(tree_head(leaves[:k]), tree_head(leaves[k:]))


class TreeBuilder:
    """The tree head after each appended leaf, in O(log n) memory.

    The first n leaves split into perfect subtrees by the binary digits of n
    (13 = 8 + 4 + 1). `_frontier` holds their roots, largest first. Appending
    a leaf merges equal-sized subtrees as a binary counter carries; the head
    folds the frontier from the right, which is the RFC's split at the
    largest power of two applied repeatedly.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._frontier: list[bytes] = []
        self._size = 0

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> TreeBuilder:
        """A builder that goes on from a tree of `size` leaves, given its `frontier`.

        Raises ValueError when the frontier cannot be that of `size` leaves. Whether
        it is the right one is for the caller to check: its head must be the
        tree head it was saved with.
        """
        if size < 0 or len(frontier) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {max(size, 0).bit_count()} subtrees")
        builder = cls()
        builder._frontier = list(frontier)
        builder._size = size
        return builder

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """The roots of the perfect subtrees, largest first: all that appending needs."""
        return tuple(self._frontier)

    def append(self, data: bytes) -> None:
        """Append one leaf's data."""
        digest = leaf_hash(data)
        size = self._size
        # Each trailing 1 bit of the old size is a subtree as large as the one being carried.
        while size & 1:
            digest = node_hash(self._frontier.pop(), digest)
            size >>= 1
        self._frontier.append(digest)
        self._size += 1

    def head(self) -> bytes:
        """MTH of the leaves appended so far."""
        if not self._frontier:
            return EMPTY_TREE_HEAD
        digest = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            digest = node_hash(left, digest)
        return digest
