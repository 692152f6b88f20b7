"""What the fleet server holds now — leases, COI slots, budget use — and how to show it.

`read_status` (behind `Fleet.status`) reads it with bounded calls, `fetch_status(url)` connects
for it; `render_status` makes the `lighterfast fleet status` table (a rich renderable) and
`status_json` its `--json` form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from .client import Fleet

_UNITS = {"req": "requests", "w": "weight", "tx": "tx weight"}


@dataclass(frozen=True)
class LaneInfo:
    """One API key's lane: its holder (empty when free), epoch and last recorded nonce."""

    account: str
    key: int
    holder: str
    epoch: int
    live: bool
    age_s: float | None  # since the current holder took it (None when free)
    expires_in_s: float | None
    last_nonce: int | None


@dataclass(frozen=True)
class SlotInfo:
    """One live COI slot of an account."""

    account: str
    slot: int
    holder: str
    epoch: int
    age_s: float
    expires_in_s: float


@dataclass(frozen=True)
class WindowInfo:
    """One rolling budget window: an account's (every host) or a host's (its processes)."""

    scope: str  # "account" or "host"
    name: str
    unit: str  # "requests", "weight" or "tx weight"
    used: int  # reserved in the current window (chunks not yet returned included)
    capacity: int | None  # as the last reserving process stated it
    reservations: int


@dataclass(frozen=True)
class FleetStatus:
    """The fleet server's state at `server_time_ms` (its own clock)."""

    url: str
    namespace: str
    account: str | None
    server_time_ms: int
    lanes: list[LaneInfo] = field(default_factory=list)
    slots: list[SlotInfo] = field(default_factory=list)
    windows: list[WindowInfo] = field(default_factory=list)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def _scan(fleet: Fleet, pattern: str) -> list[str]:
    async def collect() -> list[str]:
        return sorted({k async for k in fleet.conn.client.scan_iter(match=pattern, count=500)})

    return await fleet.conn.call(f"a key scan ({pattern})", collect())


async def read_status(fleet: Fleet, account: str | None = None) -> FleetStatus:
    """The state of `account` (None: every account) in the fleet's namespace."""
    conn = fleet.conn
    now = _int(await conn.script("NOW", [], [], "the server time"))
    acct = "*" if account is None else account
    lanes: list[LaneInfo] = []
    for name in await _scan(fleet, fleet.key("lane", acct, "*")):
        parts = name.split(":")
        fields = await conn.call("a lane read", conn.client.hgetall(name))
        exp = _int(fields.get("exp"))
        live = bool(fields.get("owner")) and exp > now
        nonce = fields.get("nonce")
        lanes.append(
            LaneInfo(
                account=parts[-2],
                key=_int(parts[-1]),
                holder=fields.get("holder", "") if live else "",
                epoch=_int(fields.get("epoch")),
                live=live,
                age_s=(now - _int(fields.get("since"), now)) / 1000 if live else None,
                expires_in_s=(exp - now) / 1000 if live else None,
                last_nonce=_int(nonce) if nonce not in (None, "") else None,
            )
        )
    lanes.sort(key=lambda lane: (lane.account, lane.key))
    slots: list[SlotInfo] = []
    for name in await _scan(fleet, fleet.key("slots", acct)):
        fields = await conn.call("a slot read", conn.client.hgetall(name))
        owner_of = account or name.split(":")[-1]
        for slot in range(256):
            p = f"{slot}:"
            exp = _int(fields.get(p + "exp"))
            if fields.get(p + "owner") and exp > now:
                slots.append(
                    SlotInfo(
                        account=owner_of,
                        slot=slot,
                        holder=fields.get(p + "holder", ""),
                        epoch=_int(fields.get(p + "epoch")),
                        age_s=(now - _int(fields.get(p + "since"), now)) / 1000,
                        expires_in_s=(exp - now) / 1000,
                    )
                )
    windows: list[WindowInfo] = []
    patterns = [fleet.key("budget", "acct", acct, "*", "w"), fleet.key("budget", "host", "*")]
    for pattern in patterns:
        for name in await _scan(fleet, pattern):
            parts = name.split(":")
            if parts[-1] != "w" or len(parts) < 6:
                continue
            base = name[:-2]
            used, cap, count = await conn.script(
                "PEEK", [base + ":z", base + ":w"], [], "a budget window read"
            )
            windows.append(
                WindowInfo(
                    scope="account" if parts[2] == "acct" else "host",
                    name=":".join(parts[3:-2]),
                    unit=_UNITS.get(parts[-2], parts[-2]),
                    used=_int(used),
                    capacity=_int(cap) if _int(cap, -1) >= 0 else None,
                    reservations=_int(count),
                )
            )
    return FleetStatus(fleet.url, fleet.namespace, account, now, lanes, slots, windows)


async def fetch_status(
    url: str | None = None,
    account: int | str | None = None,
    *,
    namespace: str = "lighterfast",
    wait_s: float = 2.0,
) -> FleetStatus:
    """Connect, read the status, close: what `lighterfast fleet status --fleet URL` shows.

    Holds nothing (no lease, no budget); FleetError if the server cannot be reached.
    """
    from .client import Fleet

    fleet = await Fleet.connect(url, namespace=namespace, wait_s=wait_s)
    try:
        return await fleet.status(account)
    finally:
        await fleet.close()


def status_json(status: FleetStatus) -> dict[str, Any]:
    """The status as plain JSON-ready data (`lighterfast fleet status --json`)."""
    return asdict(status)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def render_status(status: FleetStatus) -> Group:
    """The status as rich tables: lanes, COI slots, budget windows."""
    scope = f"account {status.account}" if status.account is not None else "all accounts"
    title = Text(f"fleet {status.url} · namespace {status.namespace} · {scope}", style="bold")
    lanes = Table(title="API-key lanes", title_justify="left")
    for column in ("account", "key", "holder", "epoch", "age", "expires in", "last nonce"):
        lanes.add_column(column, justify="left" if column == "holder" else "right")
    for lane in status.lanes:
        lanes.add_row(
            lane.account,
            str(lane.key),
            lane.holder or Text("free", style="dim"),
            str(lane.epoch),
            _seconds(lane.age_s),
            _seconds(lane.expires_in_s),
            "-" if lane.last_nonce is None else str(lane.last_nonce),
        )
    slots = Table(title="COI slots", title_justify="left")
    for column in ("account", "slot", "holder", "epoch", "age", "expires in"):
        slots.add_column(column, justify="left" if column == "holder" else "right")
    for slot in status.slots:
        slots.add_row(
            slot.account,
            str(slot.slot),
            slot.holder,
            str(slot.epoch),
            _seconds(slot.age_s),
            _seconds(slot.expires_in_s),
        )
    windows = Table(title="Budget (rolling window)", title_justify="left")
    for column in ("scope", "name", "unit", "used", "capacity", "reservations"):
        windows.add_column(column, justify="right" if column in ("used", "capacity") else "left")
    for window in status.windows:
        windows.add_row(
            window.scope,
            window.name,
            window.unit,
            str(window.used),
            "-" if window.capacity is None else str(window.capacity),
            str(window.reservations),
        )
    parts: list[Any] = [title]
    for table, empty in ((lanes, "no lanes"), (slots, "no live slots"), (windows, "no budget use")):
        parts.append(table if table.row_count else Text(f"{table.title}: {empty}", style="dim"))
    return Group(*parts)
