"""Shared test helpers: imported by conftest files and tests, never a test module themselves."""
