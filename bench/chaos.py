"""The chaos run at size: three gateway processes on a private PostgreSQL and a private
server Redis, Telegram clients and web chat visitors writing (one in ten asking for a
person), one process SIGKILLed and restarted every few seconds, Redis killed and restarted
once, PostgreSQL crashed and restarted once. Prints what was stored, lost, stuck and
repeated, and how long the Telegram poller took to fail over. Loopback only, bounded.

    .venv/bin/python bench/chaos.py [--telegram 2000] [--web 500] [--visitors 50] [--rate 40]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from chaos_world import run_chaos  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--telegram", type=int, default=2000)
    parser.add_argument("--web", type=int, default=500)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--rate", type=float, default=40.0, help="messages a second")
    parser.add_argument("--kill-every", type=float, default=5.0)
    args = parser.parse_args()
    if args.telegram + args.web > 20_000 or args.visitors > 1000:
        parser.error("bounded: at most 20000 messages and 1000 visitors")
    report = asyncio.run(
        run_chaos(
            telegram_messages=args.telegram,
            web_visitors=args.visitors,
            web_messages=args.web,
            kill_every=args.kill_every,
            rate=args.rate,
        )
    )
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
