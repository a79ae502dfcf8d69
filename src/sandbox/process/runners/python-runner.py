"""One-shot runner: waits until the host says go on fd 4 (a limits record,
then the program's arguments, each ending in NUL, then EOF), sets the run's
rlimits from the record (soft and hard: a pre-started runner starts with looser
ones, and user code can never raise them back), runs /run/codemode/main.py as
__main__, prints a traceback without runner frames, and reports an uncaught
exception as JSON on fd 3. Waiting lets the host start runners before the code
is known."""
import os
import sys

# The code's directory: /run/codemode in the sandbox, a host directory when unsandboxed.
MAIN = os.environ.pop("CODEMODE_RUN_DIR", "/run/codemode") + "/main.py"


def report(record):
    """One JSON record a line on fd 3, the host's result channel (an error, or a figure)."""
    import json

    data = (json.dumps(record) + "\n").encode("utf-8")
    try:
        while data:
            data = data[os.write(3, data) :]
    except OSError:
        pass


def report_figures():
    """Figures still open at the end (plt.show() is a no-op here) go back as PNG images, as in sessions."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        import base64
        import io

        for num in plt.get_fignums()[:20]:
            buf = io.BytesIO()
            plt.figure(num).savefig(buf, format="png", bbox_inches="tight")
            png = base64.b64encode(buf.getvalue()).decode("ascii")
            report({"kind": "display", "data": {"image/png": png, "text/plain": "<Figure %d>" % num}})
    except Exception as e:  # a figure that cannot be drawn must not hide the program's own result
        sys.stderr.write("codemode: could not capture the figures: %s\n" % e)


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


def apply_limits(record):
    """codemode-limits:<cpu seconds or empty>:<open files>:<file size KiB>, as the launcher's ulimits."""
    import resource

    parts = record.split(":")
    if len(parts) != 4 or parts[0] != "codemode-limits":
        raise ValueError("the go message has no limits record")
    cpu, nofile, fsize = parts[1], int(parts[2]), int(parts[3]) * 1024
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


def main():
    go = wait_for_go()
    try:
        apply_limits(go[0] if go else "")
    except (ValueError, OSError) as e:
        sys.stderr.write("codemode-sandbox: could not set the run's limits: %s\n" % e)
        os._exit(125)
    sys.argv = [MAIN] + go[1:]
    sys.path[0] = os.getcwd()  # the workspace
    with open(MAIN, encoding="utf-8") as f:
        source = f.read()
    namespace = {"__name__": "__main__", "__file__": MAIN, "__builtins__": __builtins__}
    try:
        exec(compile(source, MAIN, "exec"), namespace)
        report_figures()
    except SystemExit:
        report_figures()
        raise
    except BaseException as exc:
        import traceback

        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != MAIN:
            tb = tb.tb_next
        exc.__traceback__ = tb
        report_figures()
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
