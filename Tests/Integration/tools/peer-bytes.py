#!/usr/bin/env python3
"""peer-bytes: runs a helper with the client's socket on one of fds 0-2 and reports what reached
the socket's other end, so a test can prove that no message ever lands in QEMU's socket.

    peer-bytes.py SLOT -- COMMAND...

SLOT (0, 1 or 2) is the descriptor number the socket gets in the child; the other two standard
descriptors are pipes (stdin: /dev/null). Prints one line: `status=exit:N|signal:N peer_bytes=N peer_fds=N` and copies the child's
other standard output stream (the one that is not the socket) to our stderr verbatim.
"""
import os
import socket
import subprocess
import sys


def main() -> int:
    args = sys.argv[1:]
    slot = int(args.pop(0))
    if args and args[0] == "--":
        args.pop(0)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    streams = {0: subprocess.DEVNULL, 1: subprocess.PIPE, 2: subprocess.PIPE}
    streams[slot] = theirs.fileno()

    child = subprocess.Popen(args, stdin=streams[0], stdout=streams[1], stderr=streams[2],
                             close_fds=True)
    theirs.close()
    try:
        out, err = child.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    received = b""
    fds = 0
    ours.settimeout(5)
    while True:
        try:
            data, ancillary, _flags, _addr = ours.recvmsg(65536, socket.CMSG_SPACE(64))
        except socket.timeout:
            break
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for i in range(0, len(payload) - len(payload) % 4, 4):
                    fds += 1
                    os.close(int.from_bytes(payload[i:i + 4], sys.byteorder))
        if not data:
            break
        received += data
    for stream in (out, err):
        if stream:
            sys.stderr.buffer.write(stream)
    code = child.returncode
    status = f"exit:{code}" if code >= 0 else f"signal:{-code}"
    print(f"status={status} peer_bytes={len(received)} peer_fds={fds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
