#!/usr/bin/env python3
"""One measured load run against an SMTP server on loopback, for scripts/bench.

Sends COUNT messages of SIZE bytes over SESSIONS parallel sessions with Postfix's
smtp-source, then waits until the delivered count has grown by COUNT: files in a
Maildir's new/ (--count-dir), or `status=sent` log lines that name a relay
(--count-log, --count-match) for mail sent on by the smtp client. Prints one line of
key=value pairs:
  accept_rate   messages per second until smtp-source exits (every message got its 250)
  e2e_rate      messages per second until all were delivered
  cpu_ms        CPU milliseconds per message of the server's processes (the master and
                every descendant, reaped ones included through cutime/cstime)
  rss_<name>    peak resident set (kB) of the largest process of each program name
With --latency N it instead times N sequential whole sessions (connect, EHLO, MAIL, RCPT,
DATA, QUIT) and prints p50_ms and p99_ms.
"""
import argparse, os, smtplib, statistics, subprocess, sys, threading, time

HZ = os.sysconf("SC_CLK_TCK")


def tree(root):
    """The pids of ROOT and all its descendants."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(p))
        except OSError:
            pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def cpu_ticks(root):
    """CPU ticks of the live tree: each process's own time plus that of its reaped
    children (cutime/cstime), so processes that came and went are counted too."""
    total = 0
    for p in tree(root):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total


def sample_rss(root, peaks, stop):
    while not stop.is_set():
        for p in tree(root):
            try:
                name = open(f"/proc/{p}/comm").read().strip()
                for line in open(f"/proc/{p}/status"):
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
                        peaks[name] = max(peaks.get(name, 0), kb)
            except OSError:
                pass
        stop.wait(0.2)


class LogCounter:
    """Counts `status=sent` lines containing MATCH in a growing log file, reading only
    what was appended since the last call."""

    def __init__(self, path, match):
        self.path, self.match, self.offset, self.count, self.partial = path, match, 0, 0, ""

    def __call__(self):
        try:
            with open(self.path, errors="replace") as f:
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except OSError:
            return self.count
        lines = (self.partial + data).split("\n")
        self.partial = lines.pop()
        self.count += sum(1 for l in lines if "status=sent" in l and self.match in l)
        return self.count


def delivered_counter(a):
    """A function giving the delivered count now."""
    if a.count_log:
        return LogCounter(a.count_log, a.count_match)

    def files():
        try:
            return len(os.listdir(a.count_dir))
        except OSError:
            return 0
    return files


def load(a):
    delivered = delivered_counter(a)
    before = delivered()
    root = int(open(a.pidfile).read().split()[0])
    peaks, stop = {}, threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(root, peaks, stop), daemon=True)
    sampler.start()
    cpu0, t0 = cpu_ticks(root), time.time()
    subprocess.run(["smtp-source", "-s", str(a.sessions), "-m", str(a.count), "-l", str(a.size),
                    "-f", "bench@example.org", "-t", a.rcpt, a.server], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_accept = time.time() - t0
    deadline = time.time() + a.timeout
    while delivered() - before < a.count and time.time() < deadline:
        time.sleep(0.02)
    t_e2e = time.time() - t0
    done = delivered() - before
    # Let just-finished agents be reaped so their CPU lands in the master's cutime.
    time.sleep(0.3)
    cpu = cpu_ticks(root) - cpu0
    stop.set()
    sampler.join()
    fields = {
        "label": a.label, "mode": a.mode, "count": a.count, "size": a.size, "sessions": a.sessions,
        "accept_rate": round(a.count / t_accept, 1), "e2e_rate": round(done / t_e2e, 1) if done >= a.count else 0,
        "cpu_ms": round(cpu * 1000 / HZ / a.count, 3),
    }
    fields.update({f"rss_{k}": v for k, v in sorted(peaks.items())})
    print(" ".join(f"{k}={v}" for k, v in fields.items()))


def latency(a):
    host, port = a.server.rsplit(":", 1)
    times = []
    for _ in range(a.latency):
        t = time.perf_counter()
        s = smtplib.SMTP(host, int(port), timeout=30)
        s.ehlo("bench.example.org")
        s.sendmail("bench@example.org", [a.rcpt], "Subject: latency\r\n\r\nping\r\n")
        s.quit()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"label={a.label} p50_ms={statistics.median(times):.2f} p99_ms={p99:.2f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--rcpt", required=True)
    p.add_argument("--label", default="run")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--mode", default="local")
    p.add_argument("--count-dir")
    p.add_argument("--count-log")
    p.add_argument("--count-match", default="")
    p.add_argument("--pidfile")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--latency", type=int, default=0)
    a = p.parse_args()
    latency(a) if a.latency else load(a)
