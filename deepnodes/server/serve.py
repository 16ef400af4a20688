"""`deepnodes serve`: check the arguments, bind the socket, print the URL, run uvicorn.

The socket is bound here, before the URL is printed, so the URL names the port that is really listening and a
bad port, a port in use or an unknown host is one sentence (exit 2) instead of a traceback. The server runs in
the workspace folder, so a relative file option of a node names a file in the workspace."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

HOSTS_LOCAL = ("127.0.0.1", "localhost", "::1")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; raises ValueError with one sentence."""
    if not 0 < port < 65536:
        raise ValueError(f"--port {port} is not a port number; use 1 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise ValueError(f"--host '{host[:200]}' is not an address of this machine ({e})") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno in (98, 48):  # EADDRINUSE on Linux, macOS
            raise ValueError(f"port {port} on {host} is in use; stop the other server or choose --port") from None
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def serve(args: Any) -> int:
    import uvicorn

    from .app import MAX_WS_MESSAGE, STATIC, create_app
    from .limits import guarded_protocol

    workspace = Path(getattr(args, "workspace", None) or ".")
    if not workspace.is_dir():
        return _fail(f"the workspace folder '{workspace}' does not exist")
    allowed = list(getattr(args, "allow_path", None) or [])
    for a in allowed:
        if not Path(a).expanduser().is_dir():
            return _fail(f"--allow-path '{a}' is not a folder")
    open_rel = None
    wf_arg = getattr(args, "workflow", None)
    if wf_arg:
        p = Path(wf_arg).resolve()
        try:
            open_rel = p.relative_to(workspace.resolve()).as_posix()
        except ValueError:
            return _fail(f"the workflow '{wf_arg}' is not inside the workspace '{workspace}'; "
                         "pass --workspace with a folder that holds it")
        if not p.is_file():
            return _fail(f"there is no workflow file '{wf_arg}'")
    host, port = str(args.host), int(args.port)
    try:
        sock = bind(host, port)
    except ValueError as e:
        return _fail(str(e))
    app = create_app(workspace, getattr(args, "token", None), open_rel, allow_paths=allowed,
                     debug=bool(getattr(args, "debug", False)))
    if host not in HOSTS_LOCAL:
        print(f"warning: serving on {host}: anyone who can reach this address and has the token can run code",
              file=sys.stderr)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{sock.getsockname()[1]}/?token={app.state.token}"
    if open_rel:
        from urllib.parse import quote

        url += f"&open={quote(open_rel)}"
    if not (STATIC / "index.html").is_file():
        print("note: the editor's page is not built; run `make web`", file=sys.stderr)
    print(f"DeepNodes editor (workspace {workspace.resolve()}):\n    {url}", flush=True)
    os.chdir(workspace)  # relative file options of nodes mean files in the workspace, as its listing shows
    config = uvicorn.Config(app, log_level="warning", ws_max_size=MAX_WS_MESSAGE, http=guarded_protocol())
    uvicorn.Server(config).run(sockets=[sock])
    return 0
