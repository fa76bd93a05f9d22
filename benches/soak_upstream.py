#!/usr/bin/env python3
"""Fault upstream for benches/soak.sh: HTTP/1.1 on 127.0.0.1:PORT, by the path's last part:
ok → 200 (keep-alive), reset → RST after the head, stall → no answer for 10 s then close,
trunc → Content-Length 100 with 10 bytes then close. Anything else → 200."""
import asyncio
import socket
import struct
import sys


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].split(b" ")
            path = line[1].decode("latin-1") if len(line) > 1 else "/"
            kind = path.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            # Request bodies are not used by the soak; heads only.
            if kind == "reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if kind == "stall":
                await asyncio.sleep(10)
                writer.close()
                return
            if kind == "trunc":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                await writer.drain()
                writer.close()
                return
            body = b"fault upstream ok\n"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.transport.abort() if writer.transport else None


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
