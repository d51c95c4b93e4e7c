"""A connection to a labgrid coordinator (labgrid >= 24, gRPC): places, their resources, acquire and release.

This is the one module that talks to labgrid's client API (``labgrid.remote.client.ClientSession`` and the
coordinator's gRPC requests, as ``labgrid-client`` itself sends them). labgrid is imported here, lazily: ``edgekit``
works without it until a command names a place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edgekit.errors import DeviceError, ToolMissing, UsageError

DEFAULT_PORT = 20408  # labgrid's own default coordinator port
CONNECT_TIMEOUT_S = 10.0
INSTALL_HINT = "pip install 'edgekit[labgrid]' (labgrid 26.x)"

log = logging.getLogger("edgekit.labgrid")


def coordinator_address(coordinator: str | None = None) -> str:
    """``coordinator`` (``HOST[:PORT]``), else ``$LG_COORDINATOR``, else labgrid's default ``127.0.0.1:20408``."""
    addr = coordinator or os.environ.get("LG_COORDINATOR") or f"127.0.0.1:{DEFAULT_PORT}"
    return addr if ":" in addr.rsplit("]", 1)[-1] else f"{addr}:{DEFAULT_PORT}"


@dataclass(frozen=True)
class Resource:
    """One resource of an acquired place, as its exporter published it."""

    exporter: str
    group: str
    cls: str
    name: str
    params: dict[str, Any]
    avail: bool

    @property
    def path(self) -> str:
        return f"{self.exporter}/{self.group}/{self.cls}/{self.name}"


def _labgrid() -> tuple[Any, Any, Any, type[Exception]]:
    """labgrid's client module, its gRPC messages, a ClientSession with a connection of its own, gRPC's error."""
    try:
        import grpc  # labgrid's dependency
        from labgrid.remote import client
        from labgrid.remote.generated import labgrid_coordinator_pb2, labgrid_coordinator_pb2_grpc
    except ImportError:
        raise ToolMissing("python package 'labgrid' is not installed (needed for --labgrid places)",
                          hint=INSTALL_HINT) from None

    class OwnConnectionSession(client.ClientSession):  # type: ignore[misc]
        """gRPC shares one TCP connection between channels to the same address; the coordinator keys its clients
        by that connection and refuses a second session on it. Several sessions in one process (a sweep holding
        several places) each need their own: a local subchannel pool gives them that."""

        def __attrs_post_init__(self) -> None:
            super().__attrs_post_init__()
            options = [("grpc.keepalive_time_ms", 7500), ("grpc.keepalive_timeout_ms", 10000),
                       ("grpc.http2.ping_timeout_ms", 10000), ("grpc.http2.max_pings_without_data", 0),
                       ("grpc.use_local_subchannel_pool", 1)]
            self.channel = grpc.aio.insecure_channel(target=self.address, options=options)
            self.stub = labgrid_coordinator_pb2_grpc.CoordinatorStub(self.channel)

    return client, labgrid_coordinator_pb2, OwnConnectionSession, grpc.aio.AioRpcError


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """labgrid's client logs through the root logger (``logging.error``), which configures logging to stderr when
    nothing did; edgekit reports the failure itself as an error with a hint."""
    root = logging.getLogger()
    handler = logging.NullHandler() if not root.handlers else None
    if handler:
        root.addHandler(handler)
    try:
        yield
    finally:
        if handler:
            root.removeHandler(handler)


class Coordinator:
    """A client session with a labgrid coordinator (a context manager; :meth:`close` ends it).

    Args:
        coordinator: ``HOST[:PORT]``; default ``$LG_COORDINATOR``, else ``127.0.0.1:20408``.
        timeout: seconds to wait for the coordinator to answer.

    Raises:
        ToolMissing: labgrid is not installed.
        DeviceError: no coordinator answers at that address.
    """

    def __init__(self, coordinator: str | None = None, *, timeout: float = CONNECT_TIMEOUT_S) -> None:
        client, self._pb2, session_cls, self._rpc_error = _labgrid()
        self.address = coordinator_address(coordinator)
        self._client = client
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)  # grpc.aio and labgrid look the loop up
        self.session: Any = None
        try:
            session = session_cls(self.address, self._loop)
            self.call(asyncio.wait_for(session.start(), timeout))
        except (client.Error, asyncio.TimeoutError, OSError) as exc:
            self._loop.close()
            asyncio.set_event_loop(None)
            why = f"no answer within {timeout:g} s" if isinstance(exc, asyncio.TimeoutError) else \
                str(exc).removeprefix("Error: ")
            raise DeviceError(f"could not reach the labgrid coordinator at {self.address} ({why})",
                              hint="is labgrid-coordinator running there? Set the address with --coordinator "
                                   "HOST:PORT or LG_COORDINATOR (labgrid's default port is 20408)") from None
        self.session = session

    def call(self, aw: Any) -> Any:
        """Run one of the session's coroutines (e.g. a gRPC request on ``session.stub``) to completion."""
        asyncio.set_event_loop(self._loop)  # another session in this thread may have set (and closed) its own
        with _quiet_root_logger():
            return self._loop.run_until_complete(aw)

    def request(self, method: str, message: Any) -> Any:
        """Send one of the coordinator's gRPC requests (``"AcquirePlace"``, an ``AcquirePlaceRequest``) and wait
        for the answer (the call is made inside this session's event loop, as gRPC's asyncio API requires)."""
        async def send() -> Any:
            return await getattr(self.session.stub, method)(message)

        return self.call(send())

    def close(self) -> None:
        """End the session (safe to call twice)."""
        if self.session is None:
            return
        session, self.session = self.session, None
        with contextlib.suppress(Exception):
            self.call(session.stop())
            self.call(session.close())
        self._loop.close()
        asyncio.set_event_loop(None)  # not a closed loop as this thread's current one

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ state

    @property
    def identity(self) -> str:
        """``host/user`` as the coordinator records an owner (``LG_HOSTNAME`` / ``LG_USERNAME`` override)."""
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    def sync(self) -> None:
        """Wait until the coordinator's updates up to now have arrived."""
        if not self.call(self.session.sync_with_coordinator()):
            raise DeviceError(f"lost the labgrid coordinator {self.address}")

    def place(self, name: str) -> Any:
        """The coordinator's record of place ``name`` (labgrid's ``Place``: tags, matches, ``acquired``)."""
        places = self.session.places
        if name in places:
            return places[name]
        for p in places.values():
            if name in p.aliases:
                return p
        known = ", ".join(sorted(places)) or "none"
        raise UsageError(f"labgrid place '{name}' does not exist on {self.address} (places: {known})",
                         hint="'labgrid-client places' lists them; 'labgrid-client -p NAME create' makes one")

    def owner(self, name: str) -> str | None:
        """Who holds place ``name`` (``host/user``), None when it is free."""
        return self.place(name).acquired or None

    def resources(self, name: str) -> list[Resource]:
        """The resources place ``name`` holds while acquired (its ``acquired_resources``)."""
        out = []
        for exporter, group, _cls, rname in self.place(name).acquired_resources:
            entry = self.session.resources.get(exporter, {}).get(group, {}).get(rname)
            if entry is None:
                continue  # the exporter went away: the coordinator keeps the path, labgrid calls it orphaned
            out.append(Resource(exporter, group, entry.cls, rname, dict(entry.params), bool(entry.avail)))
        return out

    # ------------------------------------------------------------------ acquire / release

    def acquire(self, name: str, *, wait: float = 0.0) -> None:
        """Acquire place ``name`` for this host/user, waiting up to ``wait`` seconds while someone else holds it.

        Raises:
            DeviceError: someone holds it (the message names the owner), or the coordinator refused.
        """
        deadline = time.monotonic() + wait
        place = self.place(name)
        while place.acquired and place.acquired != self.identity and time.monotonic() < deadline:
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
            self.sync()
            place = self.place(name)
        if place.acquired:
            raise self._taken(place.name, place.acquired)
        try:
            self.request("AcquirePlace", self._pb2.AcquirePlaceRequest(placename=place.name))
        except self._rpc_error as exc:
            self.sync()
            owner = self.owner(place.name)
            if owner:
                raise self._taken(place.name, owner) from None
            raise DeviceError(f"labgrid coordinator {self.address} refused to acquire place '{place.name}': "
                              f"{exc.details()}",
                              hint=f"'labgrid-client -p {place.name} show' shows its matches and resources") from None
        self.sync()

    def release(self, name: str) -> None:
        """Release place ``name`` (only when this host/user holds it)."""
        owner = self.owner(name)
        if owner != self.identity:
            return
        try:
            self.request("ReleasePlace", self._pb2.ReleasePlaceRequest(placename=self.place(name).name))
            self.sync()
        except self._rpc_error as exc:
            raise DeviceError(f"could not release labgrid place '{name}': {exc.details()}",
                              hint=f"it stays acquired by {owner}: labgrid-client -p {name} release") from None

    def _taken(self, name: str, owner: str) -> DeviceError:
        if owner == self.identity:
            return DeviceError(f"labgrid place '{name}' is already acquired by you ({owner})",
                               hint=f"release it first: labgrid-client -p {name} release")
        return DeviceError(f"labgrid place '{name}' is acquired by {owner}",
                           hint=f"wait until {owner} releases it, or choose another place ('labgrid-client places')")
