"""Long fuzzing of the readers and the scenario parser (issue 18), beyond the CI budget.

Mutates the valid seed files of ``tests/test_fuzz_readers.py`` (truncation, byte
substitution, splice, random bytes) for ``--seconds`` per reader and prints one JSON line per
reader: inputs tried, how they ended (read, PhusongError, anything else by type and place),
and the slowest input in seconds. Anything other than ``ok`` / ``phusong`` is a bug to fix.

    python benchmarks/fuzz_readers.py --seconds 60 --seed 0
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _mutate(rng: random.Random, b: bytes) -> bytes:
    b = bytearray(b)
    op = rng.choice("tspr")
    if op == "t":
        return bytes(b[:rng.randrange(max(len(b), 1))])
    if op == "s":
        for _ in range(rng.randint(1, 16)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op == "p":
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randrange(256))
        return bytes(b[:i]) + rng.randbytes(rng.randrange(64)) + bytes(b[j:])
    return rng.randbytes(rng.randrange(1024))


def fuzz(case: str, seconds: float, seed: int) -> dict:
    from phusong.errors import PhusongError
    from tests.test_fuzz_readers import CASES

    reader, name, make_seed, embed = CASES[case]
    rng = random.Random(seed)
    data = make_seed()
    seen: collections.Counter = collections.Counter()
    worst = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        blob = _mutate(rng, data)
        blob = embed(blob) if embed else blob
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / name
            p.write_bytes(blob)
            t = time.perf_counter()
            try:
                reader(p)
                seen["ok"] += 1
            except PhusongError:
                seen["phusong"] += 1
            except Exception as exc:  # noqa: BLE001 - what the fuzzer is looking for
                last = traceback.extract_tb(exc.__traceback__)[-1]
                seen[f"{type(exc).__name__} at {Path(last.filename).name}:{last.lineno}"] += 1
            worst = max(worst, time.perf_counter() - t)
    return {"reader": case, "seed": seed, "seconds": seconds, "inputs": sum(seen.values()),
            "outcomes": dict(seen), "slowest_input_s": round(worst, 3),
            "bugs": sum(v for k, v in seen.items() if k not in ("ok", "phusong"))}


def main() -> None:
    import warnings

    from tests.test_fuzz_readers import CASES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="per reader")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reader", action="append", choices=sorted(CASES),
                    help="only these (repeatable); default all")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    for case in args.reader or list(CASES):
        print(json.dumps(fuzz(case, args.seconds, args.seed), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
