"""The server's guarded h11 protocol as a module-level name, so `--workers` > 1 can name it by import string
(uvicorn's worker processes are spawned: a class made inside a function cannot be pickled to them)."""
from deepnodes.server.limits import guarded_protocol

GuardedH11 = guarded_protocol()
