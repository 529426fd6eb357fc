"""`python -m stowage_tracer worker`: the entry that `stowage dev` starts."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import logs
from .serving import cli as serving_cli

# The worker's modules import the Temporal SDK, which the model-server image does not install: `serve`
# must reach its server without them, so they are imported where the worker needs them.
if TYPE_CHECKING:
    from .wire import Processor


def parse_processors(value: str) -> list[Processor] | None:
    from .wire import PROCESSORS

    if value == "auto":
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in PROCESSORS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or a comma list of {', '.join(PROCESSORS)}; got {value!r}"
        )
    return list(dict.fromkeys(names))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stowage_tracer")
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser(
        "worker", help="serve the tracer task queues (connection from TEMPORAL_* variables)"
    )
    worker.add_argument(
        "--processors", type=parse_processors, default=None, help="auto (default) or cpu,gpu,inf"
    )
    worker.add_argument(
        "--concurrency", type=int, default=1, help="activities at a time per queue (default 1)"
    )
    worker.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process dies")
    worker.add_argument("--log-level", default="INFO")
    tiny = sub.add_parser("make-tiny-models", help="write N small BERT QA models in Hugging Face layout")
    tiny.add_argument("--out", required=True, type=Path, help="folder to create the models in")
    tiny.add_argument("--count", type=int, default=3)
    tiny.add_argument("--prefix", default="tiny-bert-qa", help="model folder names: <prefix>-<i>")
    tiny.add_argument(
        "--size", choices=["tiny", "bert-base"], default="tiny", help="bert-base: BertConfig defaults (110M)"
    )
    tiny.add_argument(
        "--shapes", type=int, default=1, help="tiny only: cycle through this many BERT shapes (1 to 4)"
    )
    tiny.add_argument(
        "--keep-existing",
        action="store_true",
        help="keep model folders already written (model i depends on i)",
    )
    serving_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return args.run(args)
    if args.command == "make-tiny-models":
        from .models.tiny import TINY_SHAPES, make_tiny_models

        if args.count < 1:
            parser.error("--count must be at least 1")
        if not 1 <= args.shapes <= len(TINY_SHAPES) or (args.shapes > 1 and args.size != "tiny"):
            parser.error(f"--shapes must be 1 to {len(TINY_SHAPES)}, and more than 1 only with --size tiny")
        folders = make_tiny_models(
            args.out, args.count, prefix=args.prefix, size=args.size, shapes=args.shapes
        )
        print(json.dumps([str(f) for f in folders]))
        return 0

    logs.configure(args.log_level)
    from .connection import TemporalSettings
    from .devices import discover
    from .worker import RefusedQueueError, choose_processors, run_worker

    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    devices = discover()
    try:
        processors = choose_processors(args.processors, devices)
    except RefusedQueueError as err:
        print(f"stowage tracer: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(
            run_worker(
                TemporalSettings.from_env(), processors, devices, args.concurrency, args.exit_with_parent
            )
        )
    except RuntimeError as err:
        # The SDK reports an unreachable server as a RuntimeError: one line, not a traceback.
        print(f"stowage tracer: cannot connect to Temporal: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
