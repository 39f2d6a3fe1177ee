"""Fixtures for the fidelity tests (helpers live in `rawhttp`)."""

from __future__ import annotations

from .rawhttp import api, api_for, shared_transport

__all__ = ["api", "api_for", "shared_transport"]
