#!/usr/bin/env python3
"""syslog-listener: a stand-in for the system log daemon, for t-audit.

    syslog-listener.py PATH OUT read|stuck|stream
    syslog-listener.py --send PATH TEXT

`read`: binds an AF_UNIX datagram socket at PATH (mode 0666) and appends one line to OUT per
datagram: the datagram itself when every byte is printable ASCII (0x20-0x7e), otherwise
`NONPRINTABLE ` and its bytes in hex, so a record with a raw control byte can never pass for a
clean one and a raw newline can never split a record into two lines.
`stuck`: binds the datagram socket, never reads, and first fills its receive queue itself
(non-blocking sends until EAGAIN); writes the number of datagrams queued to OUT.
`stream`: binds a listening stream socket at PATH (a datagram sent there is refused).
Each mode writes OUT.ready once the socket is in place, then runs until killed.
`--send`: sends TEXT as one datagram to PATH (the test's markers between calls).
"""
import os
import signal
import socket
import sys


def bind(path: str, kind: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, kind)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock.bind(path)
    os.chmod(path, 0o666)
    return sock


def main() -> int:
    if sys.argv[1] == "--send":
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.sendto(sys.argv[3].encode(), sys.argv[2])
        return 0
    path, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "stream":
        sock = bind(path, socket.SOCK_STREAM)
        sock.listen(1)
    else:
        sock = bind(path, socket.SOCK_DGRAM)
    if mode == "stuck":
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.setblocking(False)
        queued = 0
        while queued < 100000:
            try:
                sender.sendto(b"filler", path)
            except BlockingIOError:
                break
            queued += 1
        with open(out, "w") as f:
            f.write(f"{queued}\n")
    with open(out + ".ready", "w"):
        pass
    if mode != "read":
        while True:
            signal.pause()
    with open(out, "ab", buffering=0) as f:
        while True:
            data = sock.recv(1 << 20)
            if all(0x20 <= b <= 0x7E for b in data):
                f.write(data + b"\n")
            else:
                f.write(b"NONPRINTABLE " + data.hex().encode() + b"\n")


if __name__ == "__main__":
    sys.exit(main())
