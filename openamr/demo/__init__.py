"""The demo portfolio: a seeded generator of meters, tenancies and readings, and its loader."""

from openamr.demo.generate import (
    DemoCase,
    DemoPortfolio,
    InstallationRow,
    ReadingRow,
    TenancyRow,
    generate_demo,
)

__all__ = [
    "DemoCase",
    "DemoPortfolio",
    "InstallationRow",
    "ReadingRow",
    "TenancyRow",
    "generate_demo",
]
