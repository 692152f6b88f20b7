"""`SdkSigner`: the Go signer library that lighter-sdk ships, entered only from one worker thread.

Every call into that library (signing and freeing) runs on one long-lived worker thread, never on
the main thread: a cgo call from the process's main thread makes glibc parse /proc/self/maps
(signer-spec §7.4), which costs ~0.8 ms per call, against ~1 µs from any other thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import os
import platform
import queue
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .. import protocol as P
from ..errors import SignerError
from .base import SignerBase
from .types import SignedTx

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "SdkSigner",
    "agenerate_api_key",
    "generate_api_key",
    "go_call_count",
    "go_call_thread_ids",
]

log = logging.getLogger("lighterfast.signing")

# CreateClient needs a URL; the library only uses it for nonce=-1 and CheckClient, which
# SdkSigner never triggers (nonces are always explicit). Port 9 (discard) on loopback.
_DUMMY_URL: Final = "http://127.0.0.1:9"
# A unit of worker work: the function to run on the worker thread and its arguments.
_Job = tuple[Callable[..., Any], tuple[Any, ...]]


# ================================================================================================
# The Go library (lighter-sdk's bundled signer), only ever entered from the worker thread
# ================================================================================================

_MAIN_THREAD_ID: Final = threading.main_thread().ident
_go_call_threads: set[int] = set()
_go_calls = [0]


def go_call_thread_ids() -> frozenset[int]:
    """Ids of every thread that has entered the Go library through this module (for tests)."""
    return frozenset(_go_call_threads)


def go_call_count() -> int:
    """How many library entries (signing jobs) have passed the thread guard so far."""
    return _go_calls[0]


class _SignedTxResponse(ctypes.Structure):
    _fields_ = (
        ("txType", ctypes.c_uint8),
        ("txInfo", ctypes.c_void_p),
        ("txHash", ctypes.c_void_p),
        ("messageToSign", ctypes.c_void_p),
        ("err", ctypes.c_void_p),
    )


class _StrOrErr(ctypes.Structure):
    _fields_ = (("str", ctypes.c_void_p), ("err", ctypes.c_void_p))


class _ApiKeyResponse(ctypes.Structure):
    _fields_ = (
        ("privateKey", ctypes.c_void_p),
        ("publicKey", ctypes.c_void_p),
        ("err", ctypes.c_void_p),
    )


class _CreateOrderTxReq(ctypes.Structure):
    _fields_ = (
        ("MarketIndex", ctypes.c_int64),
        ("ClientOrderIndex", ctypes.c_int64),
        ("BaseAmount", ctypes.c_int64),
        ("Price", ctypes.c_uint32),
        ("IsAsk", ctypes.c_uint8),
        ("Type", ctypes.c_uint8),
        ("TimeInForce", ctypes.c_uint8),
        ("ReduceOnly", ctypes.c_uint8),
        ("TriggerPrice", ctypes.c_uint32),
        ("OrderExpiry", ctypes.c_int64),
    )


_I: Final = ctypes.c_int
_LL: Final = ctypes.c_longlong
_U8: Final = ctypes.c_uint8


_SIGNER_FILES: Final = {
    ("Linux", "x86_64"): "lighter-signer-linux-amd64.so",
    ("Linux", "aarch64"): "lighter-signer-linux-arm64.so",
    ("Darwin", "arm64"): "lighter-signer-darwin-arm64.dylib",
    ("Darwin", "x86_64"): "lighter-signer-darwin-amd64.dylib",
    ("Windows", "amd64"): "lighter-signer-windows-amd64.dll",
}


def _library_file() -> str | None:
    """The bundled library's path, found without importing lighter-sdk (its import takes
    seconds: the whole REST client); None if the package or the file is not there."""
    spec = importlib.util.find_spec("lighter")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = _SIGNER_FILES.get((platform.system(), platform.machine().lower()))
    if name is None:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), "signers", name)
    return path if os.path.isfile(path) else None


def _load_cdll() -> ctypes.CDLL:
    """Open lighter-sdk's signer library for this platform (the SDK's loader as a last resort)."""
    path = _library_file()
    if path is not None:
        return ctypes.CDLL(path)
    from lighter import signer_client

    loader = getattr(signer_client, "__get_shared_library", None)
    if loader is not None:
        lib: ctypes.CDLL = loader()
        return lib
    # A newer SDK without the private loader: reuse its singleton's path, own handle.
    return ctypes.CDLL(signer_client.get_signer()._name)


class _GoLibrary:
    """Typed view of the exact library functions used (SDK 1.1.8 lighter-signer-*.h)."""

    def __init__(self, cdll: ctypes.CDLL) -> None:
        self.path: str = cdll._name
        f = cdll.GenerateAPIKey
        f.argtypes, f.restype = [], _ApiKeyResponse
        self.generate_api_key = f
        f = cdll.CreateClient
        f.argtypes = [ctypes.c_char_p, ctypes.c_char_p, _I, _I, _LL]
        f.restype = ctypes.c_void_p
        self.create_client = f
        f = cdll.SignCreateOrder
        # market, coi, base, price, is_ask, type, tif, reduce_only, trigger, expiry,
        # integrator account, taker fee, maker fee, self-trade mode, equality, skip nonce,
        # nonce, api key, account
        f.argtypes = [_LL, _LL, _LL, _I, _I, _I, _I, _I, _I, _LL, _LL, _I, _I, _U8, _U8, _U8]
        f.argtypes += [_LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_create_order = f
        f = cdll.SignCreateGroupedOrders
        f.argtypes = [_U8, ctypes.POINTER(_CreateOrderTxReq), _I, _LL, _I, _I, _U8, _U8, _U8]
        f.argtypes += [_LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_create_grouped_orders = f
        f = cdll.SignCancelOrder
        f.argtypes = [_LL, _LL, _U8, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_cancel_order = f
        f = cdll.SignCancelAllOrders
        f.argtypes = [_I, _LL, _LL, _U8, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_cancel_all_orders = f
        f = cdll.SignModifyOrder
        # market, index, base, price, trigger, integrator account, taker fee, maker fee,
        # self-trade mode, equality, skip nonce, nonce, order version, api key, account
        f.argtypes = [_LL, _LL, _LL, _LL, _LL, _LL, _I, _I, _U8, _U8, _U8, _LL, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_modify_order = f
        f = cdll.SignUpdateLeverage
        # market, initial margin fraction, margin mode, skip nonce, nonce, api key, account
        f.argtypes = [_LL, _I, _I, _U8, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_update_leverage = f
        f = cdll.SignUpdateMargin
        # market, usdc amount, direction, skip nonce, nonce, api key, account
        f.argtypes = [_LL, _LL, _I, _U8, _LL, _I, _LL]
        f.restype = _SignedTxResponse
        self.sign_update_margin = f
        f = cdll.CreateAuthToken
        f.argtypes = [_LL, _I, _LL]
        f.restype = _StrOrErr
        self.create_auth_token = f
        f = cdll.Free
        f.argtypes, f.restype = [ctypes.c_void_p], None
        self.free = f

    # -- helpers (worker thread only) ------------------------------------------------------

    def take(self, ptr: int | None) -> str | None:
        """Copy a C string the library returned, then free it with the library's own Free."""
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8")
        finally:
            self.free(ptr)

    def signed(self, response: _SignedTxResponse) -> SignedTx:
        """Turn a SignedTxResponse into a SignedTx (or SignerError); frees all four strings."""
        take = self.take
        error = take(response.err)
        tx_info = take(response.txInfo)
        tx_hash = take(response.txHash)
        take(response.messageToSign)
        if error is not None:
            raise SignerError(f"signer refused: {error}")
        if tx_info is None or tx_hash is None:
            raise SignerError("signer returned no transaction")
        return SignedTx(response.txType, tx_info, tx_hash)


_library: _GoLibrary | None = None
_library_lock = threading.Lock()
_library_forked = [False]  # the library was loaded before a fork: its Go runtime is gone here


def _guard() -> _GoLibrary:
    """Record the calling thread and refuse the main thread; return the loaded library."""
    ident = threading.get_ident()
    if ident == _MAIN_THREAD_ID:
        raise SignerError("internal: the Go signer must not be entered from the main thread")
    if _library_forked[0]:
        raise SignerError(_FORKED)
    _go_call_threads.add(ident)
    _go_calls[0] += 1
    global _library
    lib = _library
    if lib is None:
        with _library_lock:
            if _library is None:
                _library = _GoLibrary(_load_cdll())
            lib = _library
    return lib


# -- functions that run on the worker ---------------------------------------------------------


def _w_create_clients(
    url: bytes, keys: list[tuple[int, bytes]], chain_id: int, account_index: int
) -> None:
    lib = _guard()
    for api_key_index, private_key in keys:
        response = lib.create_client(url, private_key, chain_id, api_key_index, account_index)
        error = lib.take(response)
        if error is not None:
            raise SignerError(f"signer refused api_key_index {api_key_index}: {error}")


def _w_generate_api_key() -> tuple[str, str]:
    lib = _guard()
    response = lib.generate_api_key()
    private_key = lib.take(response.privateKey)
    public_key = lib.take(response.publicKey)
    error = lib.take(response.err)
    if error is not None or private_key is None or public_key is None:
        raise SignerError(f"key generation failed: {error}")
    return private_key, public_key


def _w_create_order(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_create_order(*row, 0, 0, 0, 0, 0, 0, nonce, key, account))


def _w_cancel_order(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_cancel_order(row[0], row[1], 0, nonce, key, account))


def _w_modify_order(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_modify_order(*row, 0, 0, 0, 0, 0, 0, nonce, 0, key, account))


def _w_cancel_all_orders(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    response = lib.sign_cancel_all_orders(row[0], row[1], P.ALL_MARKETS, 0, nonce, key, account)
    return lib.signed(response)


def _w_create_grouped_orders(
    account: int, key: int, nonce: int, row: tuple[int, list[tuple[int, ...]]]
) -> SignedTx:
    lib = _guard()
    grouping_type, orders = row
    array = (_CreateOrderTxReq * len(orders))(*(_CreateOrderTxReq(*o) for o in orders))
    response = lib.sign_create_grouped_orders(
        grouping_type, array, len(orders), 0, 0, 0, 0, 0, 0, nonce, key, account
    )
    return lib.signed(response)


def _w_update_leverage(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_update_leverage(*row, 0, nonce, key, account))


def _w_update_margin(account: int, key: int, nonce: int, row: tuple[int, ...]) -> SignedTx:
    lib = _guard()
    return lib.signed(lib.sign_update_margin(*row, 0, nonce, key, account))


def _w_auth_token(account: int, key: int, deadline: int) -> str:
    lib = _guard()
    response = lib.create_auth_token(deadline, key, account)
    token = lib.take(response.str)
    error = lib.take(response.err)
    if error is not None or token is None:
        raise SignerError(f"signer refused auth token: {error}")
    return token


def _w_many(jobs: list[tuple[Callable[..., SignedTx], tuple[Any, ...]]]) -> list[SignedTx]:
    out: list[SignedTx] = []
    for i, (fn, args) in enumerate(jobs):
        try:
            out.append(fn(*args))
        except SignerError as exc:
            raise SignerError(f"request {i}: {exc}") from None
    return out


# ================================================================================================
# The worker thread
# ================================================================================================


class _Waiter:
    """Blocking hand-off for synchronous callers: a pre-acquired lock the worker releases."""

    __slots__ = ("error", "lock", "result")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.result: Any = None
        self.error: BaseException | None = None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _SignerWorker:
    """One long-lived thread that runs every Go call, in submission order (a FIFO queue)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lighterfast-signer", daemon=True)
        self._thread.start()
        self.ident = self._thread.ident
        self.forked = False  # set in a fork child: neither this thread nor Go survived the fork

    def _run(self) -> None:
        get = self._queue.get
        while True:
            job = get()
            if job is None:
                return
            fn, args, loop, target = job
            error: BaseException | None = None
            result: Any = None
            try:
                result = fn(*args)
            except BaseException as exc:
                error = exc
            if loop is None:
                target.result = result
                target.error = error
                target.lock.release()
            else:
                try:
                    loop.call_soon_threadsafe(_settle, target, result, error)
                except RuntimeError:  # the caller's loop is closed; nobody is waiting
                    pass
            del job, target, result, error

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the worker and block until it is done (for synchronous callers)."""
        if threading.get_ident() == self.ident:
            return fn(*args)
        if self.forked:
            raise SignerError(_FORKED)
        waiter = _Waiter()
        self._queue.put((fn, args, None, waiter))
        waiter.lock.acquire()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue `fn(*args)`; the returned future of the running loop completes with its result."""
        if self.forked:
            raise SignerError(_FORKED)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((fn, args, loop, future))
        return future

    def stop(self, wait: bool = True) -> None:
        """Let queued work finish, then end the thread."""
        self._queue.put(None)
        if wait and threading.get_ident() != self.ident:
            self._thread.join(timeout=10.0)


_FORKED: Final = (
    "the signer cannot be used in a forked child process (its worker thread and the Go "
    "runtime do not survive fork); start child processes with the 'spawn' method"
)


_worker: _SignerWorker | None = None
_worker_users = 0
# Reentrant: a signer finalized by the GC (`__del__`) may release while this thread acquires.
_worker_lock = threading.RLock()


def _acquire_worker() -> _SignerWorker:
    global _worker, _worker_users
    with _worker_lock:
        if _worker is None:
            _worker = _SignerWorker()
        _worker_users += 1
        return _worker


def _release_worker(wait: bool = True) -> None:
    global _worker, _worker_users
    with _worker_lock:
        _worker_users -= 1
        if _worker_users > 0 or _worker is None:
            return
        worker, _worker = _worker, None
    worker.stop(wait)


def _after_fork_in_child() -> None:
    """A fork copies neither the worker thread nor the Go runtime's threads: start afresh."""
    global _worker, _worker_users, _worker_lock
    if _worker is not None:
        _worker.forked = True
    if _library is not None:
        _library_forked[0] = True
    _worker, _worker_users, _worker_lock = None, 0, threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _import_sdk() -> None:
    """Make sure lighter-sdk (its signer library) is installed, in the caller's thread."""
    if _library_file() is not None:
        return
    try:
        from lighter import signer_client  # noqa: F401
    except ImportError as exc:  # pragma: no cover - lighter-sdk is a hard dependency
        raise SignerError(f"lighter-sdk is not installed: {exc}") from None


def generate_api_key() -> tuple[str, str]:
    """A fresh API key pair `(private_key, public_key)` from the library's GenerateAPIKey."""
    _import_sdk()
    worker = _acquire_worker()
    try:
        result: tuple[str, str] = worker.call(_w_generate_api_key)
        return result
    finally:
        _release_worker()


async def agenerate_api_key() -> tuple[str, str]:
    """Async twin of `generate_api_key`: the loop is not blocked while the key is made."""
    _import_sdk()
    worker = _acquire_worker()
    try:
        result: tuple[str, str] = await worker.submit(_w_generate_api_key)
        return result
    finally:
        _release_worker()


# ================================================================================================
# SdkSigner
# ================================================================================================

# The worker function that signs each tx type.
_WORKERS: Final[dict[int, Callable[..., SignedTx]]] = {
    P.TX_TYPE_CREATE_ORDER: _w_create_order,
    P.TX_TYPE_CANCEL_ORDER: _w_cancel_order,
    P.TX_TYPE_MODIFY_ORDER: _w_modify_order,
    P.TX_TYPE_CANCEL_ALL_ORDERS: _w_cancel_all_orders,
    P.TX_TYPE_CREATE_GROUPED_ORDERS: _w_create_grouped_orders,
    P.TX_TYPE_UPDATE_LEVERAGE: _w_update_leverage,
    P.TX_TYPE_UPDATE_MARGIN: _w_update_margin,
}


class SdkSigner(SignerBase):
    """The stock lighter-sdk signer library, called from one dedicated worker thread.

    Thread-safe: any thread or event loop may call it; calls run one at a time in FIFO order.
    The library keeps one client per (account, API key) for the whole process, so two signers
    for the same account and key index share it (the last private key registered wins).
    """

    _worker: _SignerWorker

    def _open(self, keys: list[tuple[int, bytes]], base_url: str | None) -> None:
        job = self._register_job(keys, base_url)
        try:
            self._worker.call(job[0], *job[1])
        except BaseException:
            _release_worker()
            raise
        self._ready()

    def _register_job(self, keys: list[tuple[int, bytes]], base_url: str | None) -> _Job:
        """Take the worker; return the job that registers the keys with the library."""
        url = (base_url or _DUMMY_URL).rstrip("/").encode("utf-8")
        _import_sdk()
        self._worker = _acquire_worker()
        return _w_create_clients, (url, keys, self._chain_id, self._account_index)

    def _ready(self) -> None:
        self._closed = False
        log.debug(
            "signer ready: account %d, api keys %s, chain %d",
            self._account_index,
            sorted(self._api_key_indexes),
            self._chain_id,
        )

    @classmethod
    async def create(
        cls,
        account_index: int,
        api_keys: Mapping[int, str],
        *,
        chain_id: int | None = None,
        base_url: str | None = None,
    ) -> Self:
        """Like the constructor, but never blocks the loop, and an unknown host is asked for its
        chain id (`GET /` → `network_id`)."""
        chain_id = await cls._create_chain_id(chain_id, base_url)
        self = cls.__new__(cls)
        keys = self._check_args(account_index, api_keys, chain_id, base_url)
        job = self._register_job(keys, base_url)
        try:
            await self._worker.submit(job[0], *job[1])
        except BaseException:
            _release_worker()
            raise
        self._ready()
        return self

    # -- the hooks of SignerBase: a job is a worker function and its arguments ---------------

    def _job(self, tx_type: int, api_key_index: int, nonce: int, row: Any) -> _Job:
        return _WORKERS[tx_type], (self._account_index, api_key_index, nonce, row)

    def _many_job(self, jobs: list[Any]) -> _Job:
        return _w_many, (jobs,)

    def _token_job(self, api_key_index: int, deadline: int) -> _Job:
        return _w_auth_token, (self._account_index, api_key_index, deadline)

    def _run(self, job: _Job) -> Any:
        """Block the calling thread until the worker has run the job."""
        self._check_open()
        return self._worker.call(job[0], *job[1])

    def _arun(self, job: _Job) -> asyncio.Future[Any]:
        """Queue the job on the worker; the loop never blocks (one thread hop per call)."""
        self._check_open()
        return self._worker.submit(job[0], *job[1])

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop using the worker (it ends when its last user closes). Idempotent."""
        if self._closed:
            return
        self._closed = True
        _release_worker()

    def __del__(self) -> None:
        # A signer dropped without close() still releases the worker (without joining it).
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):
                _release_worker(wait=False)
