"""Identities, roles, grants and the audit log: who may see what."""
