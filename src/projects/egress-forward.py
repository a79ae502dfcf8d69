# Inside the sandbox: listens on 127.0.0.1:3128 in the sandbox's own network
# namespace (no route out) and carries each connection to the host's egress
# proxy over the Unix socket bound at /run/codemode-net/egress.sock. It decides
# nothing: the host proxy applies the policy. Prints "ready" once listening.
import os
import signal
import socket
import sys
import threading

os.closerange(3, 65536)  # never hold the kernel's control pipe or any other inherited descriptor
signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupting a cell must not stop the network
SOCK = os.environ.get("CODEMODE_EGRESS_SOCKET", "/run/codemode-net/egress.sock")


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(client):
    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        up.connect(SOCK)
    except OSError:
        client.close()
        up.close()
        return
    t = threading.Thread(target=pump, args=(up, client), daemon=True)
    t.start()
    pump(client, up)
    t.join()
    client.close()
    up.close()


def main():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(os.environ.get("CODEMODE_EGRESS_PORT", "3128"))))
    srv.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the reader stops listening after "ready"
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


main()
