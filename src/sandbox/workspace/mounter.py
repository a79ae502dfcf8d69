"""codemode mounter: mount(2) and umount2(2) for workspace volumes, answered
over a pipe by one resident process (as the server's own user, root), so a run
does not pay a fork and exec of mount(8) twice. Requests come only from the
server: one JSON object a line, {"op": "tmpfs", "target", "options"} or
{"op": "umount", "target"}; each reply is {"ok": true} or {"ok": false, "error"}.
"""
import ctypes
import json
import os
import sys

MS_NOSUID = 2
MS_NODEV = 4
MNT_DETACH = 2

# The interpreter's own symbols include libc's: no find_library (it runs /sbin/ldconfig -p, ~10 ms).
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def fail():
    e = ctypes.get_errno()
    return {"ok": False, "error": "%s (errno %d)" % (os.strerror(e), e)}


def handle(req):
    target = req["target"].encode()
    if req["op"] == "tmpfs":
        if libc.mount(b"codemode-ws", target, b"tmpfs", MS_NOSUID | MS_NODEV, req["options"].encode()) != 0:
            return fail()
        return {"ok": True}
    if req["op"] == "umount":
        if libc.umount2(target, 0) != 0 and libc.umount2(target, MNT_DETACH) != 0:
            return fail()
        return {"ok": True}
    return {"ok": False, "error": "unknown operation"}


def main():
    for line in sys.stdin:
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # a bad request is answered, never fatal
            reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
