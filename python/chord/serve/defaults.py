"""Defaults of the server's settings, in one place: ``chord serve``'s flags, ``create_app``,
``Batcher`` and ``random_service`` read them from here (stdlib only: the CLI imports it)."""

#: most requests per planner forward
MAX_BATCH = 64
#: longest wait of a batch's first request for company, milliseconds
MAX_WAIT_MS = 2.0
#: most requests waiting; past it: 503 + Retry-After
QUEUE = 1024
#: longest queue wait admitted, milliseconds (the oldest request's or the predicted one)
MAX_QUEUE_MS = 200.0
#: largest request body, bytes (past it: 413)
MAX_BODY = 64 * 1024

#: the untrained planner of ``--random``: the demo's backbone (SASRec over ML-100K's items)
RANDOM_MODEL = "sasrec"
RANDOM_NUM_ITEMS = 1682
RANDOM_DIM = 64
RANDOM_BLOCKS = 2
