"""The dealer package's import contract: cheap to import, public names in its index."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(statement: str) -> set[str]:
    """The `lighterfast` modules a fresh interpreter has loaded after `statement`."""
    listing = "print(*sorted(m for m in sys.modules if 'lighterfast' in m))"
    script = f"{statement}\nimport sys\n{listing}"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


def test_importing_the_dealer_does_not_load_the_native_signer() -> None:
    """`import lighterfast.dealer` leaves the opt-in C signer unloaded (the Go one may be used)."""
    loaded = _modules_after("import lighterfast.dealer")
    assert "lighterfast.dealer.dealer" in loaded  # the import really ran
    native = {m for m in loaded if m.rsplit(".", 1)[-1] in ("_native", "_signer")}
    assert not native, native


def test_the_index_exports_what_users_and_tests_import() -> None:
    import lighterfast
    import lighterfast.dealer as dealer
    from lighterfast.dealer.dealer import LighterDealer

    for name in dealer.__all__:
        assert getattr(dealer, name) is not None, name
    assert dealer.LighterDealer is LighterDealer is lighterfast.LighterDealer
    assert dealer.DealerConfig is lighterfast.DealerConfig
