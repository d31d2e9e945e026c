"""Front-end benchmark: one run, one table. `python bench/bench_parse.py [--quick]`

Rows: bench/generate.py's policies of 10,000 rules (~0.9 MB) and ~110,000 rules (~10 MB).
Columns: parse by the fast path (language/fast_parse.py), parse by the tree path (Lark's
contextual lexer and LALR parser, then the tree walked into the AST: what parse() ran before
the fast path and still runs for texts it declines), the whole load (read + parse + check +
compile, policy_engine.loads), and `policy-engine check FILE` run as a command (process start
included). Each figure is the best of a few runs, in seconds of wall time.
"""

from __future__ import annotations

import argparse
import gc
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import policy_engine  # noqa: E402
from generate import generate  # noqa: E402
from policy_engine.language.fast_parse import parse_fast  # noqa: E402
from policy_engine.language.parser import parse_reference  # noqa: E402
from policy_engine.language.source import Source  # noqa: E402


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def check_command(text: str, repeat: int) -> float | None:
    exe = shutil.which("policy-engine") or str(Path(sys.executable).with_name("policy-engine"))
    if not Path(exe).exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.policy"
        path.write_text(text, encoding="utf-8")
        run = lambda: subprocess.run([exe, "check", str(path)], check=True, capture_output=True)  # noqa: E731
        return best(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 10,000-rule policy only")
    args = parser.parse_args()
    sizes = (10_000,) if args.quick else (10_000, 110_000)
    policy_engine.loads('data x "x"', "warm.policy")  # imports and grammar outside the timings
    rows = []
    for n in sizes:
        text = generate(n)
        source = Source(text, f"gen{n}.policy")
        repeat = 3 if n <= 10_000 else 1
        assert parse_fast(source) == parse_reference(source).policy
        rows.append((f"generated {n:,} ({len(text.encode()) / 1e6:.1f} MB)",
                     best(lambda: parse_fast(source), repeat),
                     best(lambda: parse_reference(source), repeat),
                     best(lambda: policy_engine.loads(text, source.path), repeat),
                     check_command(text, repeat)))
    print(f"policy-engine front end · Python {platform.python_version()} · {platform.machine()} · seconds, best of "
          f"3 (1 for the large policy)")
    head = ("policy", "parse fast", "parse tree", "load", "check command")
    cells = [head] + [(r[0], *(f"{v:.3f}" if v is not None else "-" for v in r[1:])) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for k, c in enumerate(cells):
        print("| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
