"""An ordinary asyncio echo server (the program the posix tests run on
berth): echoes each connection until EOF, then closes it, so a client
that half-closes gets all of its echo. SIGINT ends it with status 0."""
import asyncio
import sys


async def echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main(port):
    server = await asyncio.start_server(echo, "0.0.0.0", port)
    print(f"echo on {server.sockets[0].getsockname()}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
