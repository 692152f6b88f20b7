"""Shared by the examples: where config.json is and what it holds (written by
`lighterfast node --write-config config.json`)."""

from __future__ import annotations

import os

from lighterfast.config import load_lighter_config

CONFIG = os.environ.get("LIGHTER_CONFIG", "config.json")
_cfg = load_lighter_config(CONFIG)

BASE_URL: str = _cfg["base_url"]
ACC: int = _cfg["account_index"]
KI: int = _cfg["api_key_index"]
KEY: str = _cfg["api_key_private_key"]
