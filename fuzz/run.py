"""The long fuzz and differential run: the suite's fuzzers and laws, thoroughly.

    .venv/bin/python fuzz/run.py [--examples N] [--only NAME] [--seed S]

The same laws the test suite runs with the quick profile (tests/properties/): the random-policy
generator against the plain reference interpreter (few facts on every fact set, 13-40 facts and
deep conditions on sampled fact sets), logic against the definition of `A and not D`, the
front-end mutation fuzzer, and the query-JSON fuzzer. Here every law runs N inputs and a failing
input does not stop the run: it is counted, as a disagreement (a law's assertion failed) or a
crash (any other exception), and the first few are printed. Exit 1 when any was found.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tests' own `from paths import ...`

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.properties import test_engine_laws as engine  # noqa: E402
from tests.properties import test_fuzz as front  # noqa: E402
from tests.properties import test_logic_laws as logic_laws  # noqa: E402
from tests.properties import test_query_fuzz as queries  # noqa: E402


def law(test: Callable[..., None], *strategies: st.SearchStrategy[Any]) -> tuple[Callable[..., None], tuple]:
    return test.hypothesis.inner_test, strategies  # type: ignore[attr-defined]


LAWS: dict[str, tuple[Callable[..., None], tuple]] = {
    "engine-vs-reference": law(engine.test_engine_agrees_with_the_reference, engine.scenarios()),
    "requires-vs-closed-world": law(engine.test_requires_equals_the_closed_world_answer_under_every_fact_set,
                                    engine.scenarios()),
    "engine-many-facts-vs-reference": law(engine.test_many_facts_agree_with_the_reference_on_sampled_fact_sets,
                                          engine.big_scenarios(), st.randoms(use_true_random=False)),
    "logic-few-facts": law(logic_laws.test_few_facts_equal_the_reference_on_every_assignment,
                           logic_laws.rule_lists(logic_laws.SMALL, 8), logic_laws.rule_lists(logic_laws.SMALL, 8)),
    "logic-many-facts": law(logic_laws.test_many_facts_deep_and_wide_equal_the_reference_on_samples,
                            st.lists(logic_laws.conditions(logic_laws.LARGE, 24, width=6), min_size=1, max_size=3),
                            st.lists(logic_laws.conditions(logic_laws.LARGE, 24, width=6), max_size=3),
                            st.integers(0, 60), st.integers(0, 2**32)),
    "logic-constants": law(logic_laws.test_many_facts_constants_are_decided_exactly,
                           logic_laws.conditions(logic_laws.LARGE, 30, width=6),
                           logic_laws.conditions(logic_laws.LARGE, 12), st.integers(0, 40), st.integers(0, 2**32)),
    "front-end-mutations": law(front.test_mutated_policies_never_crash, front.mutated_policies()),
    "front-end-random-bytes": law(front.test_random_bytes_never_crash, st.binary(max_size=200)),
    "front-end-keyword-soup": law(front.test_keyword_soup_never_crashes,
                                  st.lists(st.sampled_from(front.SOUP), max_size=40).map(" ".join)),
    "query-json-values": law(queries.test_any_json_value_is_answered_or_refused, queries.json_values),
    "query-mutated-texts": law(queries.test_mutated_query_texts_are_answered_or_refused, queries.mutated_texts()),
    "query-batch-lines": law(queries.test_a_batch_answers_every_line,
                             st.lists(queries.mutated_texts() | queries.valid_queries().map(
                                 lambda q: __import__("json").dumps(q).encode()), min_size=1, max_size=5)),
}


@dataclass
class Count:
    inputs: int = 0
    disagreements: int = 0
    crashes: int = 0
    shown: list[str] = field(default_factory=list)


def run(name: str, examples: int, seed: int) -> Count:
    inner, strategies = LAWS[name]
    count = Count()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.tuples(*strategies))
    def counted(args: tuple[Any, ...]) -> None:
        count.inputs += 1
        try:
            inner(*args)
        except AssertionError:
            count.disagreements += 1
            if len(count.shown) < 3:
                count.shown.append(f"disagreement: {args!r:.300}\n{traceback.format_exc(limit=3)}")
        except Exception:  # noqa: BLE001 - a crash is what this run counts
            count.crashes += 1
            if len(count.shown) < 3:
                count.shown.append(f"crash: {args!r:.300}\n{traceback.format_exc(limit=6)}")

    from hypothesis import seed as hypothesis_seed

    hypothesis_seed(seed)(counted)()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2_000, help="inputs per law (default 2000)")
    parser.add_argument("--only", action="append", choices=sorted(LAWS), help="run only these laws")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    total = Count()
    print(f"{'law':34} {'inputs':>8} {'disagree':>9} {'crashes':>8} {'seconds':>8}")
    for name in args.only or LAWS:
        started = time.perf_counter()
        c = run(name, args.examples, args.seed)
        print(f"{name:34} {c.inputs:8} {c.disagreements:9} {c.crashes:8} {time.perf_counter() - started:8.1f}",
              flush=True)
        for text in c.shown:
            print("    " + text.replace("\n", "\n    "))
        total.inputs += c.inputs
        total.disagreements += c.disagreements
        total.crashes += c.crashes
    print(f"{'total':34} {total.inputs:8} {total.disagreements:9} {total.crashes:8}")
    return 1 if total.disagreements or total.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
