#!/usr/bin/env python3
"""Summarises scripts/bench's runs: medians and spread per scenario, the ratios
Postern/Postfix, and (for a full run) the "Mail flow" section of docs/benchmarks.md."""
import os, platform, statistics, subprocess, sys, time

results, quick, rounds, count = sys.argv[1], sys.argv[2] == "yes", sys.argv[3], sys.argv[4]
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(results) if line.strip()]


def values(label, key, **match):
    out = []
    for r in rows:
        if r.get("label") != label or key not in r:
            continue
        if all(r.get(k) == str(v) for k, v in match.items()):
            out.append(float(r[key]))
    return out


def med(label, key, **match):
    v = values(label, key, **match)
    return statistics.median(v) if v else None


def spread(label, key, **match):
    v = values(label, key, **match)
    return f"{min(v):g}–{max(v):g}" if v else "-"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


labels = ["postfix", "postern"] if not quick else ["postern"]
lines = []
lines.append("| scenario | metric | " + " | ".join(f"{l} (median, spread)" for l in labels) + (" | Postern/Postfix |" if not quick else " |"))
lines.append("|---|---|" + "---|" * len(labels) + ("---|" if not quick else ""))
scenarios = sorted({(r.get("mode", "local"), r["size"], r["sessions"]) for r in rows if "size" in r},
                   key=lambda s: (s[0] == "relay", int(s[1]), -int(s[2])))
for mode, size, sessions in scenarios:
    name = f"{'relay to smtp-sink, ' if mode == 'relay' else ''}{int(size) // 1024} KiB, {sessions} session{'s' if sessions != '1' else ''}"
    match = {"size": size, "sessions": sessions, "mode": mode}
    for key, title in [("accept_rate", "accepted msg/s"), ("e2e_rate", "end-to-end msg/s"), ("cpu_ms", "CPU ms per message")]:
        cells = [f"{med(l, key, **match):g} ({spread(l, key, **match)})" for l in labels]
        r = ratio(med("postern", key, **match), med("postfix", key, **match)) if not quick else None
        lines.append(f"| {name} | {title} | " + " | ".join(cells) + (f" | {r} |" if r else " |"))
for key, title in [("p50_ms", "session latency p50 (ms)"), ("p99_ms", "session latency p99 (ms)")]:
    cells = [f"{med(l, key):g} ({spread(l, key)})" for l in labels]
    r = ratio(med("postern", key), med("postfix", key)) if not quick else None
    lines.append(f"| sequential sessions | {title} | " + " | ".join(cells) + (f" | {r} |" if r else " |"))
programs = sorted({k[4:] for r in rows for k in r if k.startswith("rss_")})
for prog in programs:
    cells = [f"{max(values(l, 'rss_' + prog) or [0]):g}" for l in labels]
    lines.append(f"| peak RSS | {prog} (kB) | " + " | ".join(cells) + (" | |" if not quick else " |"))
table = "\n".join(lines)
print(table)
if not quick:
    local = {"size": "1024", "sessions": "20", "mode": "local"}
    relay = {"size": "1024", "sessions": "20", "mode": "relay"}
    e2e = ratio(med("postern", "e2e_rate", **local), med("postfix", "e2e_rate", **local))
    cpu = ratio(med("postern", "cpu_ms", **local), med("postfix", "cpu_ms", **local))
    relay_e2e = ratio(med("postern", "e2e_rate", **relay), med("postfix", "e2e_rate", **relay))
    relay_cpu = ratio(med("postern", "cpu_ms", **relay), med("postfix", "cpu_ms", **relay))
    rss = ratio(max(values("postern", "rss_smtpd") or [0]), max(values("postfix", "rss_smtpd") or [0]))
    lat = ratio(med("postern", "p50_ms"), med("postfix", "p50_ms"))
    print(f"\n1 KiB x 20 sessions: end-to-end {e2e}x Postfix, CPU per message {cpu}x; smtpd RSS {rss}x; p50 latency {lat}x")
    print(f"relay, 1 KiB x 20 sessions: end-to-end {relay_e2e}x Postfix, CPU per message {relay_cpu}x")
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    postfix_version = subprocess.run(["postconf", "-dh", "mail_version"], capture_output=True, text=True).stdout.strip()
    section = f"""<!-- bench:start -->
## Mail flow: Postern against Postfix (scripts/bench)

Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({cpu_model}), Linux {platform.release()},
Debian's Postfix {postfix_version}, release build of Postern. Both run as private instances
with the same main.cf settings (loopback, `home_mailbox = Maildir/`, one local user), and are
measured alternately, {rounds} rounds of {count} messages (a third of that for 100 KiB), with
`smtp-source` for the load. "End-to-end" runs until every message is in `Maildir/new` (or,
for the relay scenario, until the smtp client has logged every message as sent to
`smtp-sink` through `relayhost`); CPU counts every process of the instance (the master and
all its children, reaped ones too; not smtp-sink).

{table}

Headline (1 KiB, 20 sessions): end-to-end **{e2e}×** Postfix, CPU per message **{cpu}×**,
smtpd peak RSS {rss}×, p50 session latency {lat}×. Relaying to smtp-sink (1 KiB, 20
sessions): end-to-end **{relay_e2e}×**, CPU per message **{relay_cpu}×**.

Reproduce: `scripts/bench` (as root; `BENCH_N`, `BENCH_ROUNDS`, `BENCH_LATENCY` change the
sizes). Where the difference comes from is described under "Profile" below.
<!-- bench:end -->"""
    path = "docs/benchmarks.md"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if "<!-- bench:start -->" in text:
        start, end = text.index("<!-- bench:start -->"), text.index("<!-- bench:end -->") + len("<!-- bench:end -->")
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(path, "w").write(text)
    print(f"wrote {path}")
