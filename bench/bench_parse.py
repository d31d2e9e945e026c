"""Front-end benchmark: one run, one table. `python bench/bench_parse.py [--quick]`

Rows: bench/generate.py's policies of 10,000 rules (~0.9 MB) and ~110,000 rules (~10 MB).
Columns: parse by the fast path (language/fast_parse.py), parse by the tree path (Lark's
contextual lexer and LALR parser, then the tree walked into the AST: what parse() ran before
the fast path and still runs for texts it declines), the whole load (read + parse + check +
compile, policy_engine.loads), and `policy-engine check FILE` run as a command (process start
included). Each cell is `wall / CPU` seconds, each the best of a few runs, with the cycle
collector paused in-process as parse() and the loader pause it. CPU time is the figure to
compare on a shared machine: wall time there includes waiting for a core.
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
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


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (this process and its children); the cycle collector
    paused, as parse() and the loader pause it."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0, c0 = time.perf_counter(), _cpu()
            fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
        finally:
            gc.enable()
    return min(walls), min(cpus)


def check_command(text: str, repeat: int) -> tuple[float, float] | None:
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
          f"3 (1 for the large policy) · wall / CPU")
    head = ("policy", "parse fast", "parse tree", "load", "check command")
    cells = [head] + [(r[0], *(f"{v[0]:.3f} / {v[1]:.3f}" if v is not None else "-" for v in r[1:]))
                      for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for k, c in enumerate(cells):
        print("| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
