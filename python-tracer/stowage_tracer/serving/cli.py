"""`python -m stowage_tracer serve`: one model-server process (the local runtime starts one per device)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="serve the models of one device over HTTP (the post's FastAPI server)"
    )
    serve.add_argument("--models", required=True, type=Path, help='JSON: {"models":[{"modelId","path"}]}')
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--device", default="cpu", help="torch device the models run on (cpu, cuda:0)")
    serve.add_argument(
        "--max-batch", type=int, default=8, help="micro-batch size limit; 1 turns batching off"
    )
    serve.add_argument("--batch-window-ms", type=float, default=2.0, help="how long a batch waits to fill")
    serve.add_argument(
        "--workers", type=int, default=1, help="inference threads, each running one forward pass at a time"
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch intra-op threads of each worker (0: the process's cores shared among the workers)",
    )
    serve.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the process that started it dies"
    )
    serve.add_argument("--log-level", default="INFO")
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch
    import uvicorn

    from .app import create_app
    from .batching import BatchPolicy
    from .model import read_specs

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.max_batch < 1 or args.batch_window_ms < 0 or args.workers < 1 or args.threads < 0:
        raise SystemExit("--max-batch and --workers must be ≥ 1, --batch-window-ms and --threads ≥ 0")
    threads = args.threads
    if threads == 0 and args.workers > 1:
        # Torch's default is every core for each worker: N workers would then fight over them.
        threads = max(1, len(os.sched_getaffinity(0)) // args.workers)
    policy = BatchPolicy(args.max_batch, args.batch_window_ms, args.workers, threads)
    if threads > 0:
        torch.set_num_threads(threads)
    specs = read_specs(args.models)
    if args.exit_with_parent:
        _exit_with_parent()
    app = create_app(specs, policy, args.device)
    # uvloop and httptools: the event loop and HTTP parser in C, not uvicorn's pure-Python fallbacks.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )
    return 0


def _exit_with_parent() -> None:
    """A server whose worker was killed outright must not keep its port and memory: when the parent
    changes (re-parented to init), stop as if SIGTERMed so uvicorn shuts down cleanly."""
    import os
    import signal
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
