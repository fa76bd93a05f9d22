#!/usr/bin/env python3
"""Helpers for benches/run.sh: parse wrk/h2load output, collect results, print the tables,
check the targets, draw the chart (hand-written SVG, no third-party modules).

  report.py executable NAME             cargo --message-format=json on stdin -> bench binary path
  report.py record JSON k=v...          JSON object with the fields added, one line
  report.py parse-wrk FILE              wrk --latency output -> JSON
  report.py parse-h2load FILE LOG       h2load output and --log-file -> JSON
  report.py report RESULTS.jsonl --out DIR [--previous OLD.jsonl] [--doc BENCHMARKS.md] ...
"""
import json
import re
import statistics
import sys
from collections import defaultdict

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
# gangway and nginx twice: with their access logs off, and in their default configurations
# (gangway's JSON access line to stdout, nginx's combined access log to a file).
# hyper-floor: hyper's HTTP/1 server and client connections and nothing else (gwbench
# floor-proxy), the floor under any proxy built on them, gangway included.
SYSTEMS = ["direct", "gangway", "gangway-log", "nginx", "nginx-log", "haproxy", "hyper-util", "hyper-floor", "node"]
CLIENTS = ["gangway-pool", "hyper-util", "reqwest"]
COLORS = {
    "direct": "#9e9e9e",
    "gangway": "#1565c0",
    "gangway-log": "#64b5f6",
    "nginx": "#2e7d32",
    "nginx-log": "#81c784",
    "haproxy": "#ef6c00",
    "hyper-util": "#6a1b9a",
    "hyper-floor": "#ce93d8",
    "node": "#558b2f",
}


def executable(name):
    path = None
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            if msg.get("target", {}).get("name") == name:
                path = msg["executable"]
    if not path:
        sys.exit(f"no executable for {name}")
    print(path)


def record(obj, fields):
    data = json.loads(obj) if obj.strip() else {}
    for f in fields:
        k, _, v = f.partition("=")
        try:
            data[k] = int(v)
        except ValueError:
            data[k] = v
    print(json.dumps(data, sort_keys=True))


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", text)
    if not m:
        return None
    n, unit = float(m.group(1)), m.group(2)
    return n * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}[unit]


def parse_wrk(path):
    text = open(path, errors="replace").read()
    out = {"rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": 0, "requests": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        if m:
            out[key] = to_ms(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        # A read error is how wrk counts a server closing a `Connection: close` socket it
        # was told about; counted all the same: the churn table shows them.
        out["errors"] += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["errors"] += int(m.group(1))
    if out["rps"] == 0.0:
        out["failed"] = text.strip().splitlines()[-1:] or ["no output"]
    print(json.dumps(out))


def parse_h2load(path, log):
    text = open(path, errors="replace").read()
    out = {"rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": 0, "requests": 0}
    m = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        out["requests"] = int(m.group(3))
        out["errors"] += int(m.group(4)) + int(m.group(5)) + int(m.group(6))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        out["errors"] += int(m.group(3)) + int(m.group(4))
    durations = []
    try:
        with open(log) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1].isdigit():
                    durations.append(int(parts[2]))
    except OSError:
        pass
    if durations:
        durations.sort()
        pick = lambda q: durations[round((len(durations) - 1) * q)] / 1000.0
        out["p50_ms"], out["p99_ms"] = pick(0.5), pick(0.99)
    if out["rps"] == 0.0:
        out["failed"] = text.strip().splitlines()[-1:] or ["no output"]
    print(json.dumps(out))


# ------------------------------------------------------------------ report

def load(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    except OSError:
        pass
    return rows


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def aggregate(rows, section):
    """(system, proto, conc) -> medians over runs; errors summed."""
    groups = defaultdict(list)
    for r in rows:
        if r.get("section") == section:
            groups[(r.get("system"), r.get("proto", ""), int(r.get("conc", 0) or 0))].append(r)
    out = {}
    for key, rs in groups.items():
        agg = {"runs": len(rs)}
        for k in ("rps", "p50_ms", "p99_ms", "upstream_conns", "mib_per_s", "peak_rss_kib",
                  "bytes", "rss_before_kib", "rss_after_kib", "bytes_per_conn", "open", "requested"):
            vals = [r.get(k) for r in rs if isinstance(r.get(k), (int, float))]
            if vals:
                agg[k] = max(vals) if k == "peak_rss_kib" else med(vals)
        if section == "client":
            agg["p50_ms"] = med([r.get("p50_us", 0) / 1000 for r in rs])
            agg["p99_ms"] = med([r.get("p99_us", 0) / 1000 for r in rs])
        # CPU per request: the system's user and system time over the load (from /proc),
        # divided by the requests completed; the median over runs.
        users, syss = [], []
        for r in rs:
            n, clk = r.get("requests"), r.get("clk_tck")
            if n and clk and isinstance(r.get("user_ticks"), int) and isinstance(r.get("sys_ticks"), int):
                users.append(r["user_ticks"] * 1e6 / clk / n)
                syss.append(r["sys_ticks"] * 1e6 / clk / n)
        if users:
            agg["user_us"], agg["sys_us"] = med(users), med(syss)
            agg["cpu_us"] = med([u + s for u, s in zip(users, syss)])
        agg["errors"] = sum(int(r.get("errors", 0) or 0) for r in rs)
        agg["complete"] = all(r.get("complete", True) for r in rs)
        agg["note"] = next((r.get("note") for r in rs if r.get("note")), "")
        out[key] = agg
    return out


def fmt_rps(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}"


def ratio(a, b):
    return None if not a or not b else a / b


def fmt_x(v):
    return "—" if v is None else f"{v:.2f}×"


def fmt_us(v):
    return "—" if v is None else f"{v:.1f}"


def proxy_table(agg):
    lines = ["| protocol | concurrency | system | req/s | ÷ gangway | p50 ms | p99 ms | user µs/req | sys µs/req | CPU µs/req | CPU ÷ gangway | errors |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    points = sorted({(p, c) for (_, p, c) in agg}, key=lambda pc: (pc[0] != "h1", pc[1]))
    for proto, conc in points:
        gw = agg.get(("gangway", proto, conc), {}).get("rps")
        gw_cpu = agg.get(("gangway", proto, conc), {}).get("cpu_us")
        for s in SYSTEMS:
            a = agg.get((s, proto, conc))
            if not a:
                continue
            name = f"**{s}**" if s.startswith("gangway") else s
            lines.append(f"| {proto} | {conc} | {name} | {fmt_rps(a.get('rps'))} | {fmt_x(ratio(a.get('rps'), gw))} | "
                         f"{fmt_ms(a.get('p50_ms'))} | {fmt_ms(a.get('p99_ms'))} | {fmt_us(a.get('user_us'))} | "
                         f"{fmt_us(a.get('sys_us'))} | {fmt_us(a.get('cpu_us'))} | {fmt_x(ratio(a.get('cpu_us'), gw_cpu))} | {a['errors']} |")
    return lines


def client_table(agg):
    lines = ["| protocol | concurrency | client | req/s | ÷ gangway-pool | p50 ms | p99 ms | errors |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    points = sorted({(p, c) for (_, p, c) in agg}, key=lambda pc: (pc[0], pc[1]))
    for proto, conc in points:
        gp = agg.get(("gangway-pool", proto, conc), {}).get("rps")
        for s in CLIENTS:
            a = agg.get((s, proto, conc))
            if not a:
                continue
            name = f"**{s}**" if s == "gangway-pool" else s
            lines.append(f"| {proto} | {conc} | {name} | {fmt_rps(a.get('rps'))} | {fmt_x(ratio(a.get('rps'), gp))} | "
                         f"{fmt_ms(a.get('p50_ms'))} | {fmt_ms(a.get('p99_ms'))} | {a['errors']} |")
    return lines


def churn_table(agg):
    lines = ["| system | req/s | ÷ gangway | p99 ms | errors | upstream connections opened |",
             "|---|---:|---:|---:|---:|---:|"]
    gw = agg.get(("gangway", "h1", 64), {}).get("rps")
    for s in SYSTEMS:
        a = agg.get((s, "h1", 64))
        if not a:
            continue
        name = f"**{s}**" if s == "gangway" else s
        conns = a.get("upstream_conns")
        lines.append(f"| {name} | {fmt_rps(a.get('rps'))} | {fmt_x(ratio(a.get('rps'), gw))} | {fmt_ms(a.get('p99_ms'))} | "
                     f"{a['errors']} | {'—' if conns is None else f'{conns:,.0f}'} |")
    return lines


def stream_table(agg):
    lines = ["| path | size | MiB/s | ÷ direct | complete | gangway peak RSS |",
             "|---|---:|---:|---:|---|---:|"]
    direct = agg.get(("direct", "", 0), {}).get("mib_per_s")
    for s in ("direct", "gangway", "nginx", "haproxy", "hyper-util"):
        a = agg.get((s, "", 0))
        if not a:
            continue
        rss = f"{a['peak_rss_kib'] / 1024:.1f} MiB" if s == "gangway" and a.get("peak_rss_kib") else "—"
        size = f"{a.get('bytes', 0) / 2**20:,.0f} MiB"
        lines.append(f"| {s} | {size} | {a.get('mib_per_s', 0):,.0f} | {fmt_x(ratio(a.get('mib_per_s'), direct))} | "
                     f"{'yes' if a['complete'] else '**no**'} | {rss} |")
    return lines


def idle_table(agg):
    lines = ["| server | connections open | RSS before | RSS with them | per connection | RSS at 10 000 |",
             "|---|---:|---:|---:|---:|---:|"]
    notes = []
    for s in ("gangway", "hyper-util"):
        a = agg.get((s, "", 0))
        if not a:
            continue
        per = a.get("bytes_per_conn", 0)
        at10k = (a.get("rss_before_kib", 0) * 1024 + per * 10000) / 2**20
        lines.append(f"| {s} | {a.get('open', 0):,.0f} of {a.get('requested', 0):,.0f} | {a.get('rss_before_kib', 0) / 1024:.1f} MiB | "
                     f"{a.get('rss_after_kib', 0) / 1024:.1f} MiB | {per / 1024:.1f} KiB | {at10k:.1f} MiB |")
        if a.get("note"):
            notes.append(f"{s}: {a['note']}")
    return lines, notes


def targets(proxy, client, stream, idle):
    out = []

    def check(ok, text):
        out.append(f"- {'✅' if ok else '❌'} {text}")

    for proto in ("h1", "h2c"):
        gw = proxy.get(("gangway", proto, 64))
        ng = proxy.get(("nginx", proto, 64))
        hu = proxy.get(("hyper-util", proto, 64))
        # h1 c=64 is checked below with CPU per request; here h2c's throughput and p99.
        if gw and ng and proto == "h2c":
            r = ratio(gw.get("rps"), ng.get("rps"))
            if r is not None:
                check(r >= 1.0, f"{proto} c=64: gangway req/s = {r:.2f}× nginx (target ≥ 1.0×; stretch ≥ 1.2×: {'met' if r >= 1.2 else 'not met'})")
            if gw.get("p99_ms") is not None and ng.get("p99_ms") is not None:
                check(gw["p99_ms"] <= ng["p99_ms"], f"{proto} c=64: gangway p99 {fmt_ms(gw['p99_ms'])} ms vs nginx {fmt_ms(ng['p99_ms'])} ms (target ≤)")
        if gw and hu and proto == "h2c":
            r = ratio(gw.get("rps"), hu.get("rps"))
            if r is not None:
                check(r >= 1.2, f"{proto} c=64: gangway req/s = {r:.2f}× the hyper-util proxy (target ≥ 1.2×)")
        g512 = proxy.get(("gangway", proto, 512))
        if g512:
            check(g512["errors"] == 0, f"{proto} c=512: gangway errors = {g512['errors']} (target 0)")
    # CPU per request at h1 c=64, logs off (gangway vs nginx) and in the default
    # configurations (gangway-log vs nginx-log); the hyper-util proxy has no access log.
    for gw_name, ng_name, label in (("gangway", "nginx", "logs off"), ("gangway-log", "nginx-log", "default configs")):
        gw, ng, hu = (proxy.get((n, "h1", 64)) for n in (gw_name, ng_name, "hyper-util"))
        if gw and gw.get("cpu_us") is not None:
            if hu and hu.get("cpu_us"):
                r = gw["cpu_us"] / hu["cpu_us"]
                check(r <= 0.8, f"h1 c=64 ({label}): gangway CPU/request = {r:.2f}× the hyper-util proxy's (target ≤ 0.8×)")
                r = ratio(gw.get("rps"), hu.get("rps"))
                if r is not None:
                    check(r >= 1.25, f"h1 c=64 ({label}): gangway req/s = {r:.2f}× the hyper-util proxy (target ≥ 1.25×)")
            if ng and ng.get("cpu_us"):
                r = gw["cpu_us"] / ng["cpu_us"]
                check(r <= 1.3, f"h1 c=64 ({label}): gangway CPU/request = {r:.2f}× nginx's ({gw['cpu_us']:.1f} vs {ng['cpu_us']:.1f} µs; target ≤ 1.3×)")
                if gw.get("p99_ms") is not None and ng.get("p99_ms") is not None:
                    check(gw["p99_ms"] <= ng["p99_ms"], f"h1 c=64 ({label}): gangway p99 {fmt_ms(gw['p99_ms'])} ms vs nginx {fmt_ms(ng['p99_ms'])} ms (target ≤)")
    on, off = proxy.get(("gangway-log", "h1", 64)), proxy.get(("gangway", "h1", 64))
    if on and off and on.get("cpu_us") is not None and off.get("cpu_us") is not None:
        d = on["cpu_us"] - off["cpu_us"]
        check(d <= 1.0, f"h1 c=64: gangway's default access log costs {d:+.1f} µs CPU per request (target ≤ 1.0 µs)")
    for (s, proto, conc), a in sorted(client.items()):
        if s != "gangway-pool":
            continue
        for other in ("hyper-util", "reqwest"):
            b = client.get((other, proto, conc))
            r = ratio(a.get("rps"), b.get("rps") if b else None)
            if r is not None:
                check(r >= 1.0, f"client {proto} c={conc}: gangway-pool = {r:.2f}× {other} (target ≥ 1.0×)")
    d, g = stream.get(("direct", "", 0)), stream.get(("gangway", "", 0))
    if d and g:
        r = ratio(g.get("mib_per_s"), d.get("mib_per_s"))
        if r is not None:
            check(r >= 0.9, f"stream: gangway = {r:.2f}× direct throughput (target ≥ 0.9×)")
        # Not a target: direct is sendfile, the proxies copy; the other copying proxies
        # in the same run say what copying costs here.
        others = {s: stream[(s, "", 0)]["mib_per_s"] for s in ("nginx", "haproxy", "hyper-util")
                  if stream.get((s, "", 0), {}).get("mib_per_s")}
        if others and g.get("mib_per_s"):
            out.append("- ℹ️ stream, the copying proxies ÷ direct: " + ", ".join(
                f"{s} {v / d['mib_per_s']:.2f}×" for s, v in others.items()) + f" (gangway {r:.2f}×)")
        if g.get("peak_rss_kib"):
            check(g["peak_rss_kib"] < 32 * 1024, f"stream: gangway peak RSS {g['peak_rss_kib'] / 1024:.1f} MiB (target < 32 MiB)")
    i = idle.get(("gangway", "", 0))
    if i and i.get("bytes_per_conn") is not None:
        at10k = (i.get("rss_before_kib", 0) * 1024 + i["bytes_per_conn"] * 10000) / 2**20
        check(at10k < 100 and i["bytes_per_conn"] <= 10 * 1024,
              f"idle: gangway {at10k:.1f} MiB RSS at 10 000 connections, {i['bytes_per_conn'] / 1024:.1f} KiB each (target < 100 MiB, ≤ 10 KiB)")
    return out


def relative_keys(rows):
    """Same-run ratios worth comparing across runs (absolute numbers never are)."""
    proxy, client, stream = aggregate(rows, "proxy"), aggregate(rows, "client"), aggregate(rows, "stream")
    out = {}
    for (s, p, c), a in proxy.items():
        gw = proxy.get(("gangway", p, c), {}).get("rps")
        if s != "gangway" and gw and a.get("rps"):
            out[f"proxy {p} c={c}: gangway ÷ {s}"] = gw / a["rps"]
    for (s, p, c), a in client.items():
        gp = client.get(("gangway-pool", p, c), {}).get("rps")
        if s != "gangway-pool" and gp and a.get("rps"):
            out[f"client {p} c={c}: gangway-pool ÷ {s}"] = gp / a["rps"]
    d, g = stream.get(("direct", "", 0)), stream.get(("gangway", "", 0))
    if d and g and d.get("mib_per_s"):
        out["stream: gangway ÷ direct"] = g["mib_per_s"] / d["mib_per_s"]
    return out


def regressions(rows, previous):
    if not previous:
        return ["- no previous results to compare with"]
    now, before = relative_keys(rows), relative_keys(previous)
    out = []
    for k in sorted(now):
        if k in before and now[k] < 0.9 * before[k]:
            out.append(f"- ⚠️ {k}: {now[k]:.2f} (was {before[k]:.2f}, {100 * (now[k] / before[k] - 1):+.0f}%)")
    return out or ["- none: no same-run ratio fell by more than 10% against the previous results"]


def svg_chart(proxy, path, title):
    points = sorted({(p, c) for (_, p, c) in proxy}, key=lambda pc: (pc[0] != "h1", pc[1]))
    systems = [s for s in SYSTEMS if any((s, p, c) in proxy for p, c in points)]
    if not points:
        return
    bar, gap = 14, 26
    group_w = bar * len(systems) + gap
    left, top, panel_h = 70, 50, 220
    width = left + group_w * len(points) + 20
    height = top + 2 * (panel_h + 70) + 40
    el = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
          f'<rect width="{width}" height="{height}" fill="white"/>',
          f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{title}</text>']
    # legend
    x = left
    for s in systems:
        el.append(f'<rect x="{x}" y="30" width="10" height="10" fill="{COLORS[s]}"/><text x="{x + 14}" y="39">{s}</text>')
        x += 14 + 7 * len(s) + 20

    def panel(y0, key, label, log):
        vals = [proxy[(s, p, c)].get(key) for s in systems for p, c in points if (s, p, c) in proxy]
        vals = [v for v in vals if v]
        if not vals:
            return
        import math
        vmax = max(vals)
        if log:
            lo = 10 ** math.floor(math.log10(min(vals)))
            hi = 10 ** math.ceil(math.log10(vmax))
            scale = lambda v: (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
            ticks = [lo * 10 ** i for i in range(int(round(math.log10(hi / lo))) + 1)]
        else:
            step = 10 ** math.floor(math.log10(vmax))
            if vmax / step < 3:
                step /= 2
            hi = step * math.ceil(vmax / step)
            scale = lambda v: v / hi
            ticks = [step * i for i in range(int(round(hi / step)) + 1)]
        el.append(f'<text x="12" y="{y0 + panel_h / 2}" transform="rotate(-90 12 {y0 + panel_h / 2})" text-anchor="middle">{label}</text>')
        for t in ticks:
            y = y0 + panel_h - scale(t) * panel_h
            txt = f"{t / 1000:.0f}k" if (not log and t >= 1000) else (f"{t:g}")
            el.append(f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>'
                      f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{txt}</text>')
        for gi, (p, c) in enumerate(points):
            gx = left + gi * group_w + gap / 2
            for si, s in enumerate(systems):
                v = proxy.get((s, p, c), {}).get(key)
                if not v:
                    continue
                h = max(scale(v) * panel_h, 1)
                el.append(f'<rect x="{gx + si * bar:.1f}" y="{y0 + panel_h - h:.1f}" width="{bar - 2}" height="{h:.1f}" fill="{COLORS[s]}">'
                          f'<title>{s} {p} c={c}: {v:,.3f}</title></rect>')
            el.append(f'<text x="{gx + bar * len(systems) / 2:.1f}" y="{y0 + panel_h + 14}" text-anchor="middle">{p} c={c}</text>')
        el.append(f'<line x1="{left}" x2="{width - 20}" y1="{y0 + panel_h}" y2="{y0 + panel_h}" stroke="black"/>')

    panel(top + 10, "rps", "throughput (req/s)", False)
    panel(top + panel_h + 80, "p99_ms", "p99 latency (ms, log scale)", True)
    el.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(el) + "\n")


def report(args):
    rows = load(args[0])
    opts = {}
    i = 1
    while i < len(args):
        opts[args[i].lstrip("-")] = args[i + 1]
        i += 2
    out = opts.get("out", ".")
    proxy, client = aggregate(rows, "proxy"), aggregate(rows, "client")
    stream, idle, churn = aggregate(rows, "stream"), aggregate(rows, "idle"), aggregate(rows, "churn")
    md = [f"Run: {opts.get('date', '?')}  ",
          f"Machine: {opts.get('machine', '?')}  ",
          f"Tools: {opts.get('versions', '?')}  ",
          f"Setup: {opts.get('setup', '?')}  ",
          f"Command: `{opts.get('command', 'benches/run.sh')}`", ""]
    if proxy:
        md += ["### Proxy throughput and latency (small response)", ""] + proxy_table(proxy) + [""]
        md += ["![throughput and p99 per system](benches/results/chart.svg)", ""]
    if client:
        md += ["### The pool as a client library", ""] + client_table(client) + [""]
    if stream:
        md += ["### Streaming one large body (HTTP/1.1 download)", ""] + stream_table(stream) + [""]
    if idle:
        lines, notes = idle_table(idle)
        md += ["### Idle keep-alive client connections", ""] + lines + [""]
        md += [f"Note: {n}" for n in notes] + ([""] if notes else [])
    if churn:
        md += ["### Connection churn (`Connection: close` on every request, h1, concurrency 64)", ""] + churn_table(churn) + [""]
    for r in rows:
        if r.get("section") == "gangway_metrics" and r.get("metrics"):
            metrics = [m for m in str(r["metrics"]).split(";") if m and not m.endswith(" 0")]
            md += ["gangway's pool counters after the proxy and churn sections (non-zero): "
                   + ", ".join(f"`{m}`" for m in metrics), ""]
    md += ["### Targets (ratios from this run)", ""] + targets(proxy, client, stream, idle) + [""]
    md += ["### Against the previous results (same-run ratios, > 10% worse flagged)", ""]
    md += regressions(rows, load(opts["previous"]) if "previous" in opts else []) + [""]
    text = "\n".join(md)
    with open(f"{out}/results.md", "w") as f:
        f.write(text)
    if proxy:
        svg_chart(proxy, f"{out}/chart.svg", "gangway vs nginx, HAProxy, hyper-util proxy (and the upstream direct)")
    print(text)
    doc = opts.get("doc")
    if doc:
        try:
            body = open(doc).read()
        except OSError:
            body = f"# Benchmarks\n\n{BEGIN}\n{END}\n"
        if BEGIN in body and END in body:
            head, rest = body.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            body = f"{head}{BEGIN}\n{text}\n{END}{tail}"
            with open(doc, "w") as f:
                f.write(body)
            print(f"\n(updated {doc})", file=sys.stderr)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "executable":
        executable(args[0])
    elif cmd == "record":
        record(args[0], args[1:])
    elif cmd == "parse-wrk":
        parse_wrk(args[0])
    elif cmd == "parse-h2load":
        parse_h2load(args[0], args[1])
    elif cmd == "report":
        report(args)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
