#!/usr/bin/env python3
"""scripts/talk.py -- a line client for the tutorial's servers, in place of nc.

    python3 scripts/talk.py [HOST] PORT

Sends what you type (standard input) to HOST:PORT (default host 127.0.0.1)
and prints what the server sends back, both as they come, until the server
closes the connection. When standard input ends (Ctrl-D, or the end of a
piped file) it half-closes the connection and keeps printing until the
server closes. Only the Python standard library: a fresh Debian has it.
"""
import selectors
import socket
import sys


def main():
    args = sys.argv[1:]
    if len(args) == 1:
        host, port = "127.0.0.1", args[0]
    elif len(args) == 2:
        host, port = args
    else:
        sys.exit("usage: talk.py [HOST] PORT")
    conn = socket.create_connection((host, int(port)))
    sel = selectors.DefaultSelector()
    sel.register(conn, selectors.EVENT_READ)
    sel.register(sys.stdin, selectors.EVENT_READ)
    out = sys.stdout.buffer
    while True:
        for key, _ in sel.select():
            if key.fileobj is conn:
                data = conn.recv(65536)
                if not data:
                    return  # the server closed
                out.write(data)
                out.flush()
            else:
                line = sys.stdin.buffer.readline()
                if line:
                    conn.sendall(line)
                else:  # end of input: tell the server, keep listening
                    sel.unregister(sys.stdin)
                    conn.shutdown(socket.SHUT_WR)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
    except OSError as e:
        sys.exit("talk.py: %s" % e)
