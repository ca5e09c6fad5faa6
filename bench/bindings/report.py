"""Table of the binding-overhead bench (bench/bindings.sh): reads the JSON lines the four
runners printed, in run order, and prints one markdown row per language.

Each statistic is computed here, the same way for every language, from the raw per-call
wall times: mean, p50 and p99 (nearest rank), and CPU ms per call (process CPU time of the
loop / calls). A language's figure is the median of its rounds. The overheads are the
median over rounds of (language / Rust − 1) within the same round, so a slow spell of the
machine that hits one round counts against everyone in it.
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
        "mean": statistics.fmean(w) / 1e3,
        "p50": pct(w, 0.50) / 1e3,
        "p99": pct(w, 0.99) / 1e3,
        "cpu": line["cpu_s"] / len(w) * 1e3,
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

    def over(lang: str, key: str) -> str:
        if lang == "rust":
            return "—"
        ratios = [(r[key] / base[key] - 1) * 100 for r, base in zip(rounds[lang], rust)]
        return f"{statistics.median(ratios):+.1f} %"

    print("| caller | mean ms | p50 ms | p99 ms | CPU ms/call | p50 per round | "
          "overhead p50 | overhead mean | overhead CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lang in [l for l in ORDER if l in rounds]:
        per_round = " / ".join(f"{r['p50']:.2f}" for r in rounds[lang])
        print(f"| {lang} | {med(lang, 'mean'):.2f} | {med(lang, 'p50'):.2f} | {med(lang, 'p99'):.2f} "
              f"| {med(lang, 'cpu'):.2f} | {per_round} | {over(lang, 'p50')} | {over(lang, 'mean')} "
              f"| {over(lang, 'cpu')} |")


if __name__ == "__main__":
    main()
