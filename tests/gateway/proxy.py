"""A TCP proxy the tests control: a service "goes away" (listener closed, live connections dropped) and comes back."""

from __future__ import annotations

import asyncio


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``upstream``. ``stop()`` then ``start()`` reuses the same port."""

    def __init__(self, upstream_host: str, upstream_port: int, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> int:
        assert self._server is None, "already running"
        # reuse_address (asyncio's default on Unix) lets the port be bound again right after stop().
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Refuse new connections and reset the live ones, as a crashed server or a cut cable would."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        await server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._transports.add(client_writer.transport)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            self._transports.discard(client_writer.transport)
            return
        self._transports.add(upstream_writer.transport)
        if self._server is None:  # stopped while connecting
            client_writer.transport.abort()
            upstream_writer.transport.abort()
            return
        for source, sink in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side hung up: close the other, so neither end waits on a half-open connection.
            sink.close()
            self._transports.discard(sink.transport)
