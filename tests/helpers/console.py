"""The AppTest console session: its model name and reviewers."""

from __future__ import annotations

APPTEST_MODEL = "console-apptest"
PASSWORDS = {"alice": "correct horse battery", "bob": "staple battery horse"}
