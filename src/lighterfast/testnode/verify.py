"""The node's default signature check: every tx and auth token against the registered API key.

The signed message is recomputed from the parsed tx_info (the layout of `txhash`, hashed by the
node's compiled Poseidon2 whatever `tx_hash_mode` is), then checked with the compiled ECgFp5
Schnorr verifier (`_verify`, signer-spec §4.2). Anything malformed is simply invalid.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from ._verify import hash_no_pad, schnorr_verify
from .txhash import message_hash

if TYPE_CHECKING:
    from .txparse import ParsedTx

_MAX_KEYS_CACHED = 4096


class NativeVerifier:
    """`SignatureVerifier` on the compiled verifier (~0.1 ms per tx); holds public data only."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}  # registered key text -> its 40 bytes

    def _key(self, public_key: str) -> bytes:
        raw = self._keys.get(public_key)
        if raw is None:
            text = public_key[2:] if public_key[:2] in ("0x", "0X") else public_key
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raw = b""  # never verifies
            if len(self._keys) >= _MAX_KEYS_CACHED:
                self._keys.clear()
            self._keys[public_key] = raw
        return raw

    def verify_tx(self, chain_id: int, tx: ParsedTx, public_key: str) -> bool:
        """True when `tx.info["Sig"]` (base64) signs the tx's message hash for `public_key`."""
        sig_text = tx.info.get("Sig")
        if type(sig_text) is not str:
            return False
        try:
            signature = base64.b64decode(sig_text, validate=True)
            message = bytes.fromhex(message_hash(chain_id, tx.tx_type, tx.info, hash_no_pad))
        except (binascii.Error, ValueError, KeyError, TypeError):
            return False
        return schnorr_verify(self._key(public_key), message, signature)

    def verify_auth(self, message: str, signature_hex: str, public_key: str) -> bool:
        """True when the hex signature signs the token's "deadline:account:key" (signer-spec
        §5.6: its ASCII bytes as little-endian u64 chunks, Poseidon2 to 5 words)."""
        if len(signature_hex) != 160:  # 80 bytes as hex, nothing else (no spaces)
            return False
        try:
            raw = message.encode("ascii")
            signature = bytes.fromhex(signature_hex)
        except (UnicodeEncodeError, ValueError):
            return False
        if len(raw) > 8 * 64:
            return False
        words = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
        digest = b"".join(w.to_bytes(8, "little") for w in hash_no_pad(words, 5))
        return schnorr_verify(self._key(public_key), digest, signature)
