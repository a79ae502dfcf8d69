"""codemode workspace agent: file operations on /workspace, done inside the
sandbox as the sandbox's own uid, so the host never resolves a path that
sandboxed code can change. Every path is walked one component at a time with
directory fds and O_NOFOLLOW: a symbolic link anywhere in a path is refused.

Framing, both ways, on stdin/stdout: 4-byte big-endian header length, 4-byte
big-endian payload length, a UTF-8 JSON header, then the payload bytes.
Requests: {"op": "write"|"read"|"list"|"delete"|"stat", "path": ..., ...}.
Replies: {"ok": true, ...} or {"ok": false, "code": ..., "message": ...}.
"""
import errno
import json
import os
import stat
import struct
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "/workspace"
MAX_HEADER = 1 << 20
MAX_VISITS = 200_000
MAX_DEPTH = 128


class Refused(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def parts_of(rel):
    if not isinstance(rel, str):
        raise Refused("INVALID_ARGUMENT", "path must be a string")
    if rel in ("", "."):
        return []
    parts = rel.split("/")
    for p in parts:
        if p in ("", ".", "..") or "\0" in p:
            raise Refused("PATH_ESCAPE", "%s is not a plain relative path" % rel)
    return parts


def open_dir(parts, rel, create=False):
    """An fd for the directory parts[] below the root, never following a link."""
    return walk_dirs(os.open(ROOT, os.O_RDONLY | os.O_DIRECTORY), parts, rel, create)


def walk_dirs(fd, parts, rel, create):
    """Descend from fd (consumed) one component at a time with O_NOFOLLOW; create what is missing if asked."""
    for p in parts:
        if create:
            try:
                os.mkdir(p, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            except OSError as e:
                os.close(fd)
                raise refuse_os(e, rel, p)
        try:
            nfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            os.close(fd)
            raise Refused("NOT_FOUND", "no file %s in the workspace" % rel)
        except OSError as e:
            link = is_link(fd, p)
            os.close(fd)
            if link:
                raise Refused("PATH_ESCAPE", "%s goes through a symbolic link (%s); refusing to follow it" % (rel, p))
            raise refuse_os(e, rel, p)
        os.close(fd)
        fd = nfd
    return fd


def is_link(dfd, name):
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def refuse_os(e, rel, part=None):
    if e.errno in (errno.ELOOP, errno.EMLINK):
        where = " (%s)" % part if part else ""
        return Refused("PATH_ESCAPE", "%s goes through a symbolic link%s; refusing to follow it" % (rel, where))
    if e.errno == errno.ENOTDIR:
        return Refused("NOT_FOUND", "%s: %s is not a directory" % (rel, part or rel))
    if e.errno == errno.ENOENT:
        return Refused("NOT_FOUND", "no file %s in the workspace" % rel)
    if e.errno == errno.EISDIR:
        return Refused("INVALID_ARGUMENT", "%s is a directory" % rel)
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return Refused("TOO_LARGE", "the workspace is full (%s)" % os.strerror(e.errno))
    if e.errno == errno.EACCES or e.errno == errno.EPERM:
        return Refused("FORBIDDEN", "%s: permission denied" % rel)
    return Refused("INTERNAL", "%s: %s" % (rel, os.strerror(e.errno or 0)))


def op_write(req, payload):
    rel = req.get("path")
    parts = parts_of(rel)
    if not parts:
        raise Refused("INVALID_ARGUMENT", "path names the workspace itself, not a file")
    mode = req.get("mode", "truncate")
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    flags |= os.O_APPEND if mode == "append" else os.O_TRUNC
    dfd = open_dir(parts[:-1], rel, create=True)
    try:
        try:
            fd = os.open(parts[-1], flags, 0o644, dir_fd=dfd)
        except OSError as e:
            raise refuse_os(e, rel)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Refused("INVALID_ARGUMENT", "%s is not a regular file" % rel)
            view = memoryview(payload)
            while view:
                try:
                    n = os.write(fd, view)
                except OSError as e:
                    raise refuse_os(e, rel)
                view = view[n:]
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
    finally:
        os.close(dfd)
    return {"path": rel, "size": size}, b""


def op_read(req, _payload):
    rel = req.get("path")
    parts = parts_of(rel)
    if not parts:
        raise Refused("INVALID_ARGUMENT", "path names the workspace itself, not a file")
    limit = int(req.get("max", 0))
    dfd = open_dir(parts[:-1], rel)
    try:
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        except OSError as e:
            raise refuse_os(e, rel)
    finally:
        os.close(dfd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("INVALID_ARGUMENT", "%s is not a regular file" % rel)
        if st.st_size > limit:
            raise Refused("TOO_LARGE", "%s is %d bytes; at most %d can be read" % (rel, st.st_size, limit))
        chunks = []
        total = 0
        while total <= limit:
            b = os.read(fd, min(1 << 20, limit + 1 - total))
            if not b:
                break
            chunks.append(b)
            total += len(b)
        if total > limit:
            raise Refused("TOO_LARGE", "%s grew past %d bytes while being read" % (rel, limit))
        return {"path": rel, "size": total}, b"".join(chunks)
    finally:
        os.close(fd)


def lstat_path(parts, rel):
    """lstat of the last component, reached without following a link on the way."""
    dfd = open_dir(parts[:-1], rel)
    try:
        return os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
    except OSError as e:
        raise refuse_os(e, rel)
    finally:
        os.close(dfd)


def op_stat(req, _payload):
    rel = req.get("path")
    parts = parts_of(rel)
    if not parts:
        return {"type": "directory", "size": 0}, b""
    st = lstat_path(parts, rel)
    kind = "file" if stat.S_ISREG(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode) else "symlink" if stat.S_ISLNK(st.st_mode) else "other"
    return {"type": kind, "size": st.st_size}, b""


def op_list(req, _payload):
    rel = req.get("path") or ""
    parts = parts_of(rel)
    limit = max(0, int(req.get("max", 1000)))
    prefix = "/".join(parts)
    if parts:
        # A single file lists as itself.
        st = lstat_path(parts, rel)
        if stat.S_ISREG(st.st_mode):
            return {"entries": [[prefix, st.st_size]], "truncated": False}, b""
        if stat.S_ISLNK(st.st_mode):
            raise Refused("PATH_ESCAPE", "%s is a symbolic link; refusing to follow it" % rel)
    top = open_dir(parts, rel)
    state = {"entries": [], "truncated": False, "visits": 0}
    try:
        walk(top, prefix, 0, limit, state)
    finally:
        os.close(top)
    state["entries"].sort()
    return {"entries": state["entries"], "truncated": state["truncated"]}, b""


def walk(fd, base, depth, limit, state):
    """List regular files below fd; at most one open fd per level, MAX_DEPTH levels, MAX_VISITS entries."""
    subdirs = []
    with os.scandir(fd) as it:
        for e in it:
            state["visits"] += 1
            if state["visits"] > MAX_VISITS:
                state["truncated"] = True
                return
            child = base + "/" + e.name if base else e.name
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append((e.name, child))
            elif stat.S_ISREG(st.st_mode):
                if len(state["entries"]) < limit:
                    state["entries"].append([child, st.st_size])
                else:
                    state["truncated"] = True
    for name, child in subdirs:
        if depth + 1 >= MAX_DEPTH:
            state["truncated"] = True
            return
        try:
            cfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError:
            continue
        try:
            walk(cfd, child, depth + 1, limit, state)
        finally:
            os.close(cfd)
        if state["visits"] > MAX_VISITS:
            return


def remove_tree(dfd, name):
    """Delete name (below dfd) and everything in it, never following a link."""
    st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dfd)
        return
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
    try:
        for child in os.listdir(fd):
            remove_tree(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dfd)


def op_delete(req, _payload):
    rel = req.get("path")
    parts = parts_of(rel)
    if not parts:
        raise Refused("INVALID_ARGUMENT", "path names the workspace itself; delete its files instead")
    dfd = open_dir(parts[:-1], rel)
    try:
        try:
            remove_tree(dfd, parts[-1])
        except Refused:
            raise
        except OSError as e:
            raise refuse_os(e, rel)
    finally:
        os.close(dfd)
    return {"path": rel}, b""


MAX_ARCHIVE_ENTRIES = 20_000


def archive_members(payload, limit_bytes):
    """Every entry of a tar (any compression) or zip archive as (name, kind, size, link, reader), checked
    before anything is written: relative names with no "..", regular files, directories, and symlinks
    whose target stays inside the archive's folder; hard links only to a file of the archive itself;
    no devices or FIFOs; at most MAX_ARCHIVE_ENTRIES entries and limit_bytes of content."""
    import io
    import tarfile
    import zipfile

    entries = []
    total = 0
    buf = io.BytesIO(payload)
    if zipfile.is_zipfile(buf):
        z = zipfile.ZipFile(buf)
        infos = z.infolist()
        if len(infos) > MAX_ARCHIVE_ENTRIES:
            raise Refused("TOO_LARGE", "the archive has %d entries; at most %d are taken" % (len(infos), MAX_ARCHIVE_ENTRIES))
        for info in infos:
            mode = (info.external_attr >> 16) & 0xFFFF
            if stat.S_ISLNK(mode):
                entries.append((info.filename, "symlink", 0, z.read(info).decode("utf-8", "replace"), None))
            elif info.is_dir():
                entries.append((info.filename, "dir", 0, None, None))
            elif stat.S_IFMT(mode) == 0 or stat.S_ISREG(mode):
                total += info.file_size
                entries.append((info.filename, "file", info.file_size, None, (lambda i=info: z.open(i))))
            else:
                raise Refused("INVALID_ARGUMENT", "%s is a device, FIFO or socket; archives may hold files, folders and links only" % info.filename)
    else:
        buf.seek(0)
        try:
            t = tarfile.open(fileobj=buf, mode="r:*")
        except tarfile.TarError as e:
            raise Refused("INVALID_ARGUMENT", "not a tar or zip archive (%s)" % e)
        count = 0
        for m in t:
            count += 1
            if count > MAX_ARCHIVE_ENTRIES:
                raise Refused("TOO_LARGE", "the archive has more than %d entries" % MAX_ARCHIVE_ENTRIES)
            if m.isfile():
                total += m.size
                entries.append((m.name, "file", m.size, None, (lambda m=m: t.extractfile(m))))
            elif m.isdir():
                entries.append((m.name, "dir", 0, None, None))
            elif m.issym():
                entries.append((m.name, "symlink", 0, m.linkname, None))
            elif m.islnk():
                entries.append((m.name, "hardlink", 0, m.linkname, None))
            else:
                raise Refused("INVALID_ARGUMENT", "%s is a device, FIFO or socket; archives may hold files, folders and links only" % m.name)
    if total > limit_bytes:
        raise Refused("TOO_LARGE", "the archive unpacks to %d bytes; at most %d fit" % (total, limit_bytes))
    files = set()
    checked = []
    for name, kind, size, link, reader in entries:
        clean = name.strip("/") if not name.startswith("/") else None
        if not clean or "\0" in name:
            raise Refused("PATH_ESCAPE", "archive entry %r has an absolute or empty name" % name)
        parts = [p for p in clean.split("/") if p not in ("", ".")]
        if not parts and kind == "dir":
            continue  # "./", the folder itself, as `tar -C dir -cf - .` writes it
        if not parts:
            raise Refused("PATH_ESCAPE", "archive entry %r names the folder itself" % name)
        if ".." in parts:
            raise Refused("PATH_ESCAPE", "archive entry %r leaves its folder (..)" % name)
        rel = "/".join(parts)
        if kind == "symlink":
            if link.startswith("/"):
                raise Refused("PATH_ESCAPE", "archive link %s points to an absolute path (%s)" % (rel, link))
            target = os.path.normpath(os.path.join(os.path.dirname(rel), link))
            if target == ".." or target.startswith("../"):
                raise Refused("PATH_ESCAPE", "archive link %s points outside its folder (%s)" % (rel, link))
        if kind == "hardlink":
            target = os.path.normpath(link.lstrip("/"))
            if target not in files:
                raise Refused("PATH_ESCAPE", "archive hard link %s points to %s, which is not a file of the archive" % (rel, link))
            link = target
        if kind == "file":
            files.add(rel)
        checked.append((rel, kind, size, link, reader))
    return checked


def op_import(req, payload):
    """Unpack an archive into a folder of the workspace (created if missing), every entry checked first."""
    rel = req.get("path") or ""
    base = parts_of(rel)
    limit = int(req.get("max", 0))
    entries = archive_members(payload, limit)
    root = open_dir(base, rel or ".", create=True)
    written = 0
    try:
        for name, kind, size, link, reader in entries:
            parts = name.split("/")
            if kind == "dir":
                os.close(open_dir_at(root, parts, name))
                continue
            dfd = open_dir_at(root, parts[:-1], name)
            try:
                if kind == "symlink":
                    try:
                        os.unlink(parts[-1], dir_fd=dfd)
                    except FileNotFoundError:
                        pass
                    os.symlink(link, parts[-1], dir_fd=dfd)
                    continue
                src = reader() if kind == "file" else None
                try:
                    fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644, dir_fd=dfd)
                except OSError as e:
                    raise refuse_os(e, name)
                try:
                    if kind == "hardlink":
                        # A copy of the file it names (already written): links never share inodes across the boundary.
                        with open(os.path.join(ROOT, *base, link), "rb") as other:
                            src_bytes = other.read(limit + 1)
                        os.write(fd, src_bytes)
                        written += len(src_bytes)
                    else:
                        while True:
                            chunk = src.read(1 << 20)
                            if not chunk:
                                break
                            written += len(chunk)
                            if written > limit:
                                raise Refused("TOO_LARGE", "the archive unpacks to more than %d bytes" % limit)
                            view = memoryview(chunk)
                            while view:
                                view = view[os.write(fd, view):]
                except OSError as e:
                    raise refuse_os(e, name)
                finally:
                    os.close(fd)
            finally:
                os.close(dfd)
    finally:
        os.close(root)
    return {"path": rel, "entries": len(entries), "bytes": written}, b""


def open_dir_at(fd, parts, rel):
    """Like open_dir, below an already open folder, creating what is missing."""
    return walk_dirs(os.dup(fd), parts, rel, True)


def op_export(req, _payload):
    """A gzip'd tar of a folder of the workspace: files, folders and links as they are (links not followed)."""
    import io
    import tarfile

    rel = req.get("path") or ""
    parts = parts_of(rel)
    limit = int(req.get("max", 0))
    fd = open_dir(parts, rel or ".")
    os.close(fd)  # the folder exists and no link leads to it
    top = os.path.join(ROOT, *parts)
    out = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                count += 1
                if count > MAX_ARCHIVE_ENTRIES * 5:
                    raise Refused("TOO_LARGE", "the folder has more than %d entries" % (MAX_ARCHIVE_ENTRIES * 5))
                st = os.lstat(full)
                if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                    continue
                t.add(full, arcname=os.path.relpath(full, top), recursive=False)
                if out.tell() > limit:
                    raise Refused("TOO_LARGE", "the archive grew past %d bytes; export a smaller folder" % limit)
    data = out.getvalue()
    if len(data) > limit:
        raise Refused("TOO_LARGE", "the archive is %d bytes; at most %d can be exported" % (len(data), limit))
    return {"path": rel, "entries": count, "size": len(data)}, data


OPS = {
    "write": op_write,
    "read": op_read,
    "list": op_list,
    "delete": op_delete,
    "stat": op_stat,
    "import": op_import,
    "export": op_export,
}


def read_exact(stream, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def send(out, header, payload=b""):
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    out.write(struct.pack(">II", len(h), len(payload)) + h)
    if payload:
        out.write(payload)
    out.flush()


def widen_pipes():
    # 1 MiB pipes (the unprivileged maximum) move a file in a few wake-ups instead of sixteen.
    try:
        import fcntl
        for fd in (0, 1):
            fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
    except (ImportError, OSError):
        pass


def main():
    widen_pipes()
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    send(out, {"ok": True, "ready": True})
    while True:
        head = read_exact(inp, 8)
        if head is None:
            return
        hlen, plen = struct.unpack(">II", head)
        if hlen > MAX_HEADER:
            return
        raw = read_exact(inp, hlen)
        payload = read_exact(inp, plen) if plen else b""
        if raw is None or payload is None:
            return
        try:
            req = json.loads(raw)
            fn = OPS.get(req.get("op"))
            if fn is None:
                raise Refused("INVALID_ARGUMENT", "unknown operation")
            reply, data = fn(req, payload)
            reply["ok"] = True
            send(out, reply, data)
        except Refused as r:
            send(out, {"ok": False, "code": r.code, "message": r.message})
        except Exception as e:  # never die on one bad request: report it
            send(out, {"ok": False, "code": "INTERNAL", "message": "%s: %s" % (type(e).__name__, e)})


if __name__ == "__main__":
    main()
