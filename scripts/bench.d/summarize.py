"""Turns the benchmark's JSON lines into docs/benchmarks/results.md and results.png."""
import argparse
import json
import statistics
import sys
from collections import defaultdict

p = argparse.ArgumentParser()
p.add_argument("results")
p.add_argument("--backend", required=True)
p.add_argument("--startup-ms", type=float, required=True)
p.add_argument("--idle-rss-kb", type=float, required=True)
p.add_argument("--max-rss-kb", type=float, required=True)
p.add_argument("--argon2-per-s", type=float, required=True)
p.add_argument("--rs256-per-s", type=float, default=0.0)
p.add_argument("--duration", required=True)
p.add_argument("--connections", required=True)
p.add_argument("--runs", required=True)
p.add_argument("--peer", help="the peer's JSON lines, if it was run")
p.add_argument("--peer-startup-ms", type=float)
p.add_argument("--peer-idle-rss-kb", type=float)
p.add_argument("--growth", help="JSON lines of the runs with many tokens stored")
p.add_argument("--out", required=True)
a = p.parse_args()


def load(path):
    runs = defaultdict(list)
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            runs[r["name"]].append(r)
    return runs


def summary(rows):
    def med(key):
        return statistics.median(key(r) for r in rows)
    return {
        # A run that answered nothing has no duration: it did 0 operations a second.
        "ops_per_s": med(lambda r: r["ops"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0),
        "p50_ms": med(lambda r: r["p50_us"] / 1000),
        "p99_ms": med(lambda r: r["p99_us"] / 1000),
        "cpu_us": med(lambda r: 1e6 * r["cpu_s"] / max(r["ops"], 1)),
        "errors": sum(r["errors"] for r in rows),
    }


ours = {k: summary(v) for k, v in load(a.results).items()}
peer = {k: summary(v) for k, v in load(a.peer).items()} if a.peer else {}

lines = [
    "# Benchmark results",
    "",
    f"Portcullis on {a.backend}; wrk, {a.connections} connections, median of {a.runs} runs of "
    f"{a.duration} s, on this 2-core machine. Rerun with `scripts/bench`.",
    "",
    "| scenario | ops/s | p50 ms | p99 ms | CPU µs/op | errors |" + (" peer ops/s | ratio |" if peer else ""),
    "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if peer else ""),
]
for name, s in ours.items():
    row = f"| {name} | {s['ops_per_s']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['cpu_us']:.0f} | {s['errors']} |"
    if peer:
        ps = peer.get(name)
        if not ps:
            row += " – | – |"
        elif ps["ops_per_s"] == 0 or s["ops_per_s"] == 0:
            # One side completed nothing in this scenario: say so, not a ratio.
            row += f" {ps['ops_per_s']:.0f} ({ps['errors']} errors) | n/a |"
        else:
            row += f" {ps['ops_per_s']:.0f} | {s['ops_per_s'] / ps['ops_per_s']:.2f}× |"
    lines.append(row)
pw = ours.get("password sign-in")
signed = [(n, ours[n]) for n in ("code flow", "refresh") if n in ours]
lines += [
    "",
    f"- RSA-2048 signatures/s on all cores, Debian's openssl (the RS256 bound for flows): {a.rs256_per_s:.0f}"
    + "".join(f"; {n} reaches {100 * s['ops_per_s'] / a.rs256_per_s:.1f} % of it" for n, s in signed if a.rs256_per_s),
]
lines += [
    f"- argon2id verifications/s on all cores (the bound for password sign-in): {a.argon2_per_s:.0f}"
    + (f"; password sign-in reaches {100 * pw['ops_per_s'] / a.argon2_per_s:.0f} % of it" if pw and a.argon2_per_s else ""),
    f"- start-up to `/health/ready` on an existing database: {a.startup_ms:.0f} ms"
    + (f" (peer: {a.peer_startup_ms:.0f} ms to listening)" if a.peer_startup_ms else ""),
    f"- RSS idle: {a.idle_rss_kb / 1024:.1f} MiB; after load: {a.max_rss_kb / 1024:.1f} MiB"
    + (f" (peer idle: {a.peer_idle_rss_kb / 1024:.1f} MiB, ratio {a.idle_rss_kb / a.peer_idle_rss_kb:.2f})" if a.peer_idle_rss_kb else ""),
]
if peer:
    lines.append("- peer: node-oidc-provider 9 (npm), in-memory storage, same clients, same machine and load; "
                 "password sign-in has no ratio because the peer's sign-in page checks no password")
if a.growth:
    grown = {k: summary(v) for k, v in load(a.growth).items()}
    lines += [
        "",
        "## With many tokens stored",
        "",
        "| scenario | ops/s | p50 ms | p99 ms | CPU µs/op | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in grown.items():
        lines.append(f"| {name} | {s['ops_per_s']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['cpu_us']:.0f} | {s['errors']} |")
failed = [f"{name}" for name, s in ours.items() if s["ops_per_s"] == 0]
failed += [f"{name} (peer)" for name, s in peer.items() if s["ops_per_s"] == 0]
if failed:
    lines += ["", "**Completed nothing:** " + ", ".join(failed)]
with open(f"{a.out}/results.md", "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(matplotlib is not installed: no chart; pip install matplotlib)", file=sys.stderr)
    sys.exit(1 if failed else 0)
names = list(ours)
fig, ax = plt.subplots(figsize=(8, 4))
xs = range(len(names))
ax.bar([x - 0.2 for x in xs] if peer else xs, [ours[n]["ops_per_s"] for n in names], width=0.4 if peer else 0.6, label="Portcullis")
if peer:
    ax.bar([x + 0.2 for x in xs], [peer.get(n, {}).get("ops_per_s", 0) for n in names], width=0.4, label="node-oidc-provider")
ax.set_xticks(list(xs), names, rotation=15)
ax.set_ylabel("operations per second")
ax.set_yscale("log")
ax.set_title(f"Portcullis on {a.backend}, {a.connections} connections")
ax.legend()
fig.tight_layout()
fig.savefig(f"{a.out}/results.png", dpi=120)
if failed:
    print("scenarios that completed nothing: " + ", ".join(failed), file=sys.stderr)
    sys.exit(1)
