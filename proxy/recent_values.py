"""The short values each client's forwarded requests carried, for a while: so that a value
split over successive requests is seen whole (scanner/across_requests.py).

Held in the proxy process's memory only, never written or logged: they are values the gate
already let through to the server. Bounded three ways: per client (pieces, oldest dropped),
in clients (least recently seen dropped), and in time (older than the window, dropped). A
client is the bearer token's subject where there is one, else the peer address. Each replica
has its own memory: with several replicas behind a balancer, pieces spread over replicas are
not joined (docs/scale-out.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from metagate.scanner.model import Piece

DEFAULT_SECONDS = 600.0
DEFAULT_PIECES_PER_CLIENT = 128
DEFAULT_CLIENTS = 1024   # worst case ~1024 x 128 pieces of <= 64 characters: ~30 MB


class RecentValues:
    def __init__(
        self, seconds: float = DEFAULT_SECONDS, pieces_per_client: int = DEFAULT_PIECES_PER_CLIENT,
        clients: int = DEFAULT_CLIENTS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.pieces_per_client = pieces_per_client
        self.clients = clients
        self._clock = clock
        self._by_client: OrderedDict[str, deque[tuple[float, Piece]]] = OrderedDict()
        self._added = 0   # pieces ever added: a request decided while this moved may need a second look

    @property
    def enabled(self) -> bool:
        return self.seconds > 0 and self.pieces_per_client > 0

    def earlier(self, client: str) -> tuple[Piece, ...]:
        """The client's pieces still inside the window, oldest first."""
        if not self.enabled:
            return ()
        pieces = self._by_client.get(client)
        if not pieces:
            return ()
        horizon = self._clock() - self.seconds
        while pieces and pieces[0][0] < horizon:
            pieces.popleft()
        return tuple(piece for _, piece in pieces)

    @property
    def version(self) -> int:
        return self._added

    def added_since(self, client: str, version: int, places: set[tuple[str, str]]) -> bool:
        """Whether pieces at one of `places` were added for `client` after `version`: a
        request inspected meanwhile (concurrently with the one that added them) has not
        been joined with them."""
        if self._added == version:
            return False
        pieces = self._by_client.get(client) or ()
        fresh = self._added - version
        return any((piece.template, piece.place) in places for _, piece in list(pieces)[-fresh:])

    def remember(self, client: str, pieces: Iterable[Piece]) -> None:
        if not self.enabled:
            return
        now = self._clock()
        kept = self._by_client.get(client)
        if kept is None:
            kept = self._by_client[client] = deque(maxlen=self.pieces_per_client)
            while len(self._by_client) > self.clients:
                self._by_client.popitem(last=False)
        else:
            self._by_client.move_to_end(client)
        last_at: dict[tuple[str, str], str] = {}
        for _, piece in reversed(kept):
            last_at.setdefault((piece.template, piece.place), piece.text)
        for piece in pieces:
            # A value that repeats at its place (the same tag on every run) adds nothing.
            if last_at.get((piece.template, piece.place)) == piece.text:
                continue
            last_at[(piece.template, piece.place)] = piece.text
            kept.append((now, piece))
            self._added += 1

    def __len__(self) -> int:
        return sum(len(pieces) for pieces in self._by_client.values())
