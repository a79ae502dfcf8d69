"""One-shot runner: waits until the host says go on fd 4 (the program's
arguments, each ending in NUL, then EOF), runs /run/codemode/main.py as
__main__, prints a traceback without runner frames, and reports an uncaught
exception as JSON on fd 3. Waiting lets the host start runners before the code
is known."""
import os
import sys

MAIN = "/run/codemode/main.py"


def report(record):
    import json

    try:
        with os.fdopen(3, "w") as channel:
            channel.write(json.dumps(record))
    except OSError:
        pass


def user_line(exc):
    if isinstance(exc, SyntaxError) and exc.filename == MAIN:
        return exc.lineno, exc.offset
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == MAIN:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line, None


def wait_for_go():
    chunks = []
    while True:
        chunk = os.read(4, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(4)
    data = b"".join(chunks)
    return [a.decode("utf-8", "surrogateescape") for a in data.split(b"\0")[:-1]]


def main():
    sys.argv = [MAIN] + wait_for_go()
    sys.path[0] = "/workspace"
    with open(MAIN, encoding="utf-8") as f:
        source = f.read()
    namespace = {"__name__": "__main__", "__file__": MAIN, "__builtins__": __builtins__}
    try:
        exec(compile(source, MAIN, "exec"), namespace)
    except SystemExit:
        raise
    except BaseException as exc:
        import traceback

        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != MAIN:
            tb = tb.tb_next
        exc.__traceback__ = tb
        sys.stdout.flush()
        traceback.print_exception(type(exc), exc, tb)
        sys.stderr.flush()
        line, column = user_line(exc)
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        report(
            {
                "type": type(exc).__name__,
                "message": message,
                "line": line,
                "column": column,
                "traceback": "".join(traceback.format_exception(type(exc), exc, tb)),
            }
        )
        sys.exit(1)


main()
