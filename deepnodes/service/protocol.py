"""The server's guarded protocol as a module-level name, so `--workers` > 1 can name it by import string
(uvicorn's worker processes are spawned: a class made inside a function cannot be pickled to them). Services
use it on httptools' C parser: h11's pure-Python one cost ~0.3 ms more per request."""
from deepnodes.server.limits import guarded_protocol

GuardedH11 = guarded_protocol("httptools")
