"""The chaos run at size: three gateway processes on a private PostgreSQL and a private
server Redis, Telegram, VK, email and web chat clients writing (one in ten asking for a
person), operators taking, answering and closing conversations at the console, one process
SIGKILLed and restarted every few seconds, Redis killed and restarted once, PostgreSQL
crashed and restarted once. Prints what was stored, lost, stuck and repeated per channel,
what the operators did, and how long the Telegram poller took to fail over. Loopback
only, bounded.

    .venv/bin/python bench/chaos.py [--telegram 1200] [--vk 400] [--email 200] [--web 400]
        [--visitors 40] [--operators 3] [--rate 40]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from chaos_world import run_chaos  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--telegram", type=int, default=1200)
    parser.add_argument("--vk", type=int, default=400)
    parser.add_argument("--email", type=int, default=200)
    parser.add_argument("--web", type=int, default=400)
    parser.add_argument("--visitors", type=int, default=40)
    parser.add_argument("--operators", type=int, default=3)
    parser.add_argument("--rate", type=float, default=40.0, help="messages a second")
    parser.add_argument("--kill-every", type=float, default=5.0)
    args = parser.parse_args()
    # the local SMTP relay's library logs a deprecation at every sign-in
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    if args.telegram + args.vk + args.email + args.web > 20_000 or args.visitors > 1000:
        parser.error("bounded: at most 20000 messages and 1000 visitors")
    if args.operators > 50:
        parser.error("bounded: at most 50 operators")
    try:
        report = asyncio.run(
            run_chaos(
                telegram_messages=args.telegram,
                vk_messages=args.vk,
                email_messages=args.email,
                web_visitors=args.visitors,
                web_messages=args.web,
                operators=args.operators,
                kill_every=args.kill_every,
                rate=args.rate,
            )
        )
    except pytest.skip.Exception as missing:  # the servers' fixtures, shared with the tests
        sys.exit(f"the chaos run cannot start: {missing.msg}; `make system-deps` installs it")
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
