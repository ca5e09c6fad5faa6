"""Table of the binding-overhead bench (bench/bindings.sh): reads the JSON lines the
runners printed, in run order, and prints one markdown row per caller.

Each statistic is computed here, the same way for every caller, from the raw per-call wall
times: mean, p50 and p99 (nearest rank), and CPU µs per call (process CPU time of the
loop / calls). A caller's figure is the median of its rounds. The differences against Rust
(the `rust` row: the call spawned on the runtime, as both bindings do) are the median over
rounds of the difference within the same round, so a slow spell of the machine that hits
one round counts against everyone in it.
"""

import json
import statistics
import sys
from collections import defaultdict

ORDER = ["rust", "rust-inline", "python", "python-async", "node"]


def pct(sorted_us: list[float], p: float) -> float:
    return sorted_us[min(len(sorted_us) - 1, round((len(sorted_us) - 1) * p))]


def stats(line: dict) -> dict:
    w = sorted(line["wall_us"])
    return {
        "mean": statistics.fmean(w),
        "p50": pct(w, 0.50),
        "p99": pct(w, 0.99),
        "cpu": line["cpu_s"] / len(w) * 1e6,
    }


def main() -> None:
    rounds: dict[str, list[dict]] = defaultdict(list)
    with open(sys.argv[1]) as f:
        for text in f:
            line = json.loads(text)
            rounds[line["lang"]].append(stats(line))
    rust = rounds["rust"]

    def med(lang: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[lang])

    def delta(lang: str, key: str) -> str:
        if lang == "rust":
            return "—"
        pairs = list(zip(rounds[lang], rust))
        rel = statistics.median((r[key] / b[key] - 1) * 100 for r, b in pairs)
        diff = statistics.median(r[key] - b[key] for r, b in pairs)
        return f"{rel:+.1f} % ({diff:+.0f} µs)"

    print("| caller | mean µs | p50 µs | p99 µs | CPU µs/call | p50 per round | "
          "vs Rust: p50 | mean | CPU |")
    print("|---|--:|--:|--:|--:|---|--:|--:|--:|")
    for lang in [l for l in ORDER if l in rounds]:
        per_round = " / ".join(f"{r['p50']:.0f}" for r in rounds[lang])
        print(f"| {lang} | {med(lang, 'mean'):.0f} | {med(lang, 'p50'):.0f} | {med(lang, 'p99'):.0f} "
              f"| {med(lang, 'cpu'):.0f} | {per_round} | {delta(lang, 'p50')} | {delta(lang, 'mean')} "
              f"| {delta(lang, 'cpu')} |")


if __name__ == "__main__":
    main()
