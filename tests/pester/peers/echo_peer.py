#!/usr/bin/env python3
"""Echo servers that EchoPS did not write, for Measure-EchoServer's tests.

Usage: echo_peer.py asyncio|threads [port (0 = any free)]
  asyncio  one event loop (epoll on Linux) serves every client at once
  threads  one thread per client (socketserver.ThreadingTCPServer)
Binds 127.0.0.1 only, prints "listening <port>" once bound, and exits when its standard input closes
(so a test that dies takes its server with it).
"""
import asyncio
import resource
import socket
import socketserver
import sys
import threading

# Hold as many connections as the hard limit allows.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def announce(port):
    print(f"listening {port}", flush=True)


def exit_when_stdin_closes(stop):
    sys.stdin.read()
    stop()


async def handle(reader, writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve_asyncio(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    announce(server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    threading.Thread(target=exit_when_stdin_closes, args=(lambda: loop.call_soon_threadsafe(done.set_result, None),), daemon=True).start()
    async with server:
        await done


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except ConnectionError:
            pass


class Threads(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096


def serve_threads(port):
    with Threads(("127.0.0.1", port), Echo) as server:
        announce(server.server_address[1])
        threading.Thread(target=exit_when_stdin_closes, args=(server.shutdown,), daemon=True).start()
        server.serve_forever()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if mode == "asyncio":
        asyncio.run(serve_asyncio(port))
    elif mode == "threads":
        serve_threads(port)
    else:
        sys.exit(f"unknown mode {mode}: use asyncio or threads")
