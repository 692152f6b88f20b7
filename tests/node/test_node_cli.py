"""`lighterfast node` as a real subprocess: URLs printed, config written, Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from _helpers import interrupt, read_until_ready, reap, start_cli


def test_cli_node_writes_config_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    proc = start_cli(
        "node", "--port", "0", "--accounts", "2", "--write-config", str(cfg), "--latency", "zero"
    )
    try:
        lines = read_until_ready(proc)
        rest = next(ln.split()[-1] for ln in lines if ln.strip().startswith("REST"))
        ws = next(ln.split()[-1] for ln in lines if ln.strip().startswith("WebSocket"))
        assert rest.startswith("http://127.0.0.1:") and ws == rest.replace("http", "ws") + "/stream"
        data = json.loads(cfg.read_text())
        assert oct(cfg.stat().st_mode & 0o777) == "0o600"
        lighter = data["Lighter"]
        assert lighter["base_url"] == rest
        assert lighter["api_keys"][0]["api_key_index"] == 4
        assert len(lighter["api_keys"][0]["api_key_private_key"]) >= 80
        from lighterfast.config import load_lighter_config

        loaded = load_lighter_config(cfg, env={})  # the project's own loader reads it
        assert loaded["base_url"] == rest and loaded["account_index"] == lighter["account_index"]
        assert loaded["api_key_index"] == 4
        accounts = data["LocalNode"]["accounts"]
        assert len(accounts) == 2 and accounts[0]["account_index"] != accounts[1]["account_index"]
        with urllib.request.urlopen(rest + "/", timeout=5) as r:
            assert json.loads(r.read())["network_id"] == 304
        url = f"{rest}/api/v1/apikeys?account_index={accounts[1]['account_index']}"
        with urllib.request.urlopen(url, timeout=5) as r:
            assert json.loads(r.read())["api_keys"][0]["api_key_index"] == 4
        assert "  signatures checked against the API keys" in lines
        # No private key is printed on the console.
        secret = lighter["api_keys"][0]["api_key_private_key"].removeprefix("0x")
        assert all(secret not in ln for ln in lines)
        out, err = interrupt(proc)
    finally:
        reap(proc)
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_cli_rejects_bad_markets() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lighterfast.apps.cli", "node", "--port", "0", "--markets", "ETH:4"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "markets" in proc.stderr


def test_cli_without_command_prints_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lighterfast.apps.cli"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2 and "node" in proc.stdout


def test_cli_rate_limits_flag_and_fault_route() -> None:
    """`--rate-limits standard`: the 61st request in a minute is refused with 429 + 23000."""
    proc = start_cli("node", "--port", "0", "--latency", "zero", "--rate-limits", "standard")
    try:
        lines = read_until_ready(proc)
        assert any("rate limits standard" in ln for ln in lines)
        rest = next(ln.split()[-1] for ln in lines if ln.strip().startswith("REST"))
        for _ in range(60):
            with urllib.request.urlopen(rest + "/api/v1/orderBooks", timeout=5) as r:
                assert r.status == 200
        try:
            urllib.request.urlopen(rest + "/api/v1/orderBooks", timeout=5)
            raise AssertionError("61st request was not refused")
        except urllib.error.HTTPError as exc:
            assert exc.code == 429
            assert json.loads(exc.read()) == {"code": 23000, "message": "Too Many Requests!"}
        req = urllib.request.Request(
            rest + "/dev/v1/faults", data=b'{"fault":"clear"}', method="POST"
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read()) == {"code": 200, "fault": "clear"}
        interrupt(proc)
    finally:
        reap(proc)
    assert proc.returncode == 0


def test_cli_simulate_flow_moves_every_market() -> None:
    """`lighterfast node --simulate-flow`: a plain WS subscriber sees every default market's
    book move and public trades arrive within a few seconds."""
    import asyncio

    import aiohttp

    from lighterfast.testnode import DEFAULT_MARKETS

    proc = start_cli("node", "--port", "0", "--simulate-flow")

    async def watch(ws_url: str) -> set[str]:
        seen: set[str] = set()
        want = {
            f"{kind}:{s.market_index}" for s in DEFAULT_MARKETS for kind in ("order_book", "trade")
        }
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
            for ch in want:
                await ws.send_str(
                    json.dumps({"type": "subscribe", "channel": ch.replace(":", "/")})
                )

            async def read() -> None:
                while seen != want:
                    f = json.loads((await ws.receive()).data)
                    if str(f.get("type", "")).startswith("update/"):
                        seen.add(f["channel"])

            await asyncio.wait_for(read(), 8.0)
        return seen

    try:
        lines = read_until_ready(proc)
        ws_url = next(ln.split()[-1] for ln in lines if ln.strip().startswith("WebSocket"))
        assert len(asyncio.run(watch(ws_url))) == 2 * len(DEFAULT_MARKETS)
        interrupt(proc)
    finally:
        reap(proc)
    assert proc.returncode == 0


def _run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lighterfast.apps.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_write_config_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    mine = tmp_path / "config.json"
    original = '{"Lighter": {"account_index": 7, "api_keys": "my real keys"}}\n'
    mine.write_text(original)
    proc = _run_cli(
        "node", "--port", "0", "--accounts", "1", "--write-config", "config.json", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert mine.read_text() == original  # untouched
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "config.json already exists" in err[0] and "--force" in err[0]
    assert "Traceback" not in proc.stderr and "ready" not in proc.stdout  # refused before start


def test_write_config_force_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "local-node.json"
    target.write_text("{}\n")
    target.chmod(0o644)
    proc = _run_cli(
        "node",
        "--port",
        "0",
        "--accounts",
        "1",
        "--write-config",
        str(target),
        "--force",
        "--duration",
        "0.2",
        "--latency",
        "zero",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(target.read_text())
    assert data["Lighter"]["api_keys"][0]["api_key_index"] == 4
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_port_in_use_is_one_line_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _run_cli("node", "--port", str(port))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and f"127.0.0.1:{port}" in err[0] and "--port" in err[0], err


def test_keys_per_account_writes_every_key_and_each_signs(tmp_path: Path) -> None:
    """`--keys-per-account 3`: slots 4, 5, 6 per account in `api_keys`, each one registered on
    the node (its public key served by /api/v1/apikeys) and usable for a signed order."""
    cfg = tmp_path / "local-node.json"
    proc = start_cli(
        "node",
        "--port",
        "0",
        "--accounts",
        "2",
        "--keys-per-account",
        "3",
        "--write-config",
        str(cfg),
        "--latency",
        "zero",
    )
    try:
        lines = read_until_ready(proc)
        assert sum("api keys 4-6" in ln for ln in lines) == 2
        data = json.loads(cfg.read_text())
        for section in data["LocalNode"]["accounts"]:
            keys = section["api_keys"]
            assert [k["api_key_index"] for k in keys] == [4, 5, 6]
            assert len({k["api_key_private_key"] for k in keys}) == 3
        assert data["Lighter"] == data["LocalNode"]["accounts"][0]
        secrets = [k["api_key_private_key"].removeprefix("0x") for k in data["Lighter"]["api_keys"]]
        assert not any(s in ln for s in secrets for ln in lines)
        asyncio.run(_order_with_each_key(cfg))
        interrupt(proc)
    finally:
        reap(proc)
    assert proc.returncode == 0


async def _order_with_each_key(cfg: Path) -> None:
    """One dealer per key of the file's first account (`api_keys=[that key]`): each resting
    order is accepted, so every key was registered with its own nonce lane."""
    from lighterfast import LighterDealer
    from lighterfast.config import load_lighter_config

    loaded = load_lighter_config(cfg, env={})
    for key in loaded["api_keys"]:
        async with await LighterDealer.from_config(
            cfg, symbol="ETH", api_keys=[key], standard_account=False
        ) as dealer:
            await dealer.create_limit_order(1000.0, 0.01)
            (result,) = await dealer.flush()
            assert result["accepted"], result


def test_no_verify_accepts_any_signature(tmp_path: Path) -> None:
    """`--no-verify` (node-throughput benchmarks only): a forged signature is accepted."""
    cfg = tmp_path / "cfg.json"
    proc = start_cli(
        "node", "--port", "0", "--no-verify", "--accounts", "1", "--write-config", str(cfg)
    )
    try:
        lines = read_until_ready(proc)
        assert "  signatures NOT checked (--no-verify)" in lines
        assert asyncio.run(_send_forged(cfg)) == (200, 200)
        interrupt(proc)
    finally:
        reap(proc)
    assert proc.returncode == 0


async def _send_forged(cfg: Path) -> tuple[int, int]:
    """POST an SDK-signed order whose signature has one bit flipped; (HTTP status, code)."""
    import base64

    import aiohttp
    import lighter

    section = json.loads(cfg.read_text())["Lighter"]
    key = section["api_keys"][0]
    client = lighter.SignerClient(
        url=section["base_url"],
        account_index=section["account_index"],
        api_private_keys={key["api_key_index"]: key["api_key_private_key"]},
    )
    try:
        tt, info, _, err = client.sign_create_order(
            0, 1, 100, 290_000, 0, 0, 1, nonce=0, api_key_index=key["api_key_index"]
        )
    finally:
        await client.close()
    assert err is None
    obj = json.loads(info)
    sig = bytearray(base64.b64decode(obj["Sig"]))
    sig[3] ^= 1
    obj["Sig"] = base64.b64encode(bytes(sig)).decode()
    form = {"tx_type": str(tt), "tx_info": json.dumps(obj)}
    async with (
        aiohttp.ClientSession() as http,
        http.post(section["base_url"] + "/api/v1/sendTx", data=form) as r,
    ):
        return r.status, (await r.json())["code"]
