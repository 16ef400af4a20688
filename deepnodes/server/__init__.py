"""The editor's HTTP/WebSocket server: `create_app(workspace, token)` and `serve(args)` (in `app`)."""
