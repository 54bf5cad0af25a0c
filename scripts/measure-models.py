#!/usr/bin/env python3
"""scripts/measure-models.py -- the measuring half of scripts/compare-models.sh
and scripts/flood-demo.sh: samples a server process from /proc, turns the
samples into tables, and draws the charts as hand-written SVG (no packages).

  measure-models.py sample --pid P --out FILE [--interval S] [--port N --ss-out FILE --snapshot-at EPOCH]
  measure-models.py report --out DIR --models M... (and the run's settings; see compare-models.sh)
  measure-models.py flood  --out DIR --servers S... (see flood-demo.sh)
  measure-models.py flood-client --port N --seconds S --max-mib M --rate MIB_PER_S --out FILE

The shell scripts start and stop every process; this file only reads /proc
and files, and writes files. Linux only (/proc).
"""
import argparse
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

# ---- sampling ---------------------------------------------------------------------

SAMPLE_FIELDS = ["t", "threads", "rss_kb", "vm_kb", "cpu_ticks", "fds", "kstack_kb", "tasks"]


def read_status(pid):
    """Threads, VmRSS and VmSize (kB) from /proc/PID/status."""
    got = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Threads", "VmRSS", "VmSize"):
                got[key] = int(value.split()[0])
    return got.get("Threads", 0), got.get("VmRSS", 0), got.get("VmSize", 0)


def read_cpu_ticks(pid):
    """utime + stime of the whole process, in clock ticks (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rpartition(")")[2].split()
    return int(rest[11]) + int(rest[12])  # fields 14 and 15


def read_meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def tasks_on_machine():
    """Every thread of every process: the total in /proc/loadavg ("2/345")."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[1])


def slab_object_sizes():
    """Object sizes of the kernel caches one TCP socket fd allocates from:
    the socket (TCP), its inode (sock_inode_cache), its struct file (filp)
    and its dentry. {} when /proc/slabinfo is not readable (it needs root)."""
    sizes = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] in ("TCP", "sock_inode_cache", "filp", "dentry"):
                    sizes[parts[0]] = int(parts[3])
    except OSError:
        pass
    return sizes


def sample_once(pid):
    threads, rss, vm = read_status(pid)
    return {
        "t": time.time(),
        "threads": threads,
        "rss_kb": rss,
        "vm_kb": vm,
        "cpu_ticks": read_cpu_ticks(pid),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "kstack_kb": read_meminfo("KernelStack"),
        "tasks": tasks_on_machine(),
    }


def cmd_sample(a):
    """Samples `pid` every `interval` seconds into a TSV until it exits or we
    are told to stop (SIGTERM); once, at `snapshot_at`, saves `ss -tm` of the
    sockets whose local port is `port` (the server's side)."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(a.out + ".slab.json", "w") as f:
        json.dump(slab_object_sizes(), f)
    shot = a.snapshot_at is None or a.port is None
    first = None
    with open(a.out, "w") as out:
        out.write("\t".join(SAMPLE_FIELDS) + "\n")
        while not stop:
            try:
                s = sample_once(a.pid)
            except (OSError, IndexError, ValueError):
                break  # the process is gone
            first = first or s
            out.write("\t".join(f"{s[k]:.3f}" if k == "t" else str(s[k]) for k in SAMPLE_FIELDS) + "\n")
            out.flush()
            if not shot and time.time() >= a.snapshot_at:
                shot = True
                # The kernel's socket dump can come back short while the
                # sockets are busy: up to five tries, keeping the fullest,
                # until it lists at least 90 % of the connections held.
                expected = 0.9 * (s["fds"] - first["fds"])
                text, why = "", ""
                for _ in range(5):
                    try:
                        r = subprocess.run(["ss", "-Htmn", "state", "established", f"( sport = :{a.port} )"],
                                           capture_output=True, text=True, timeout=20)
                        why = f"exit {r.returncode}: {r.stderr.strip()}"
                        if r.stdout.count("skmem:") > text.count("skmem:"):
                            text = r.stdout
                    except (OSError, subprocess.SubprocessError) as e:
                        why = str(e)
                    if text.count("skmem:") >= expected:
                        break
                with open(a.ss_out, "w") as f:
                    f.write(text if text else f"# no sockets from ss ({why})\n")
            time.sleep(a.interval)


def read_samples(path):
    rows = []
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            values = line.rstrip("\n").split("\t")
            if len(values) == len(header):
                rows.append({k: float(v) for k, v in zip(header, values)})
    return rows


def at(rows, t, key):
    """`key` at time t, linearly between the two samples around it."""
    before = [r for r in rows if r["t"] <= t]
    after = [r for r in rows if r["t"] >= t]
    if not before:
        return after[0][key]
    if not after:
        return before[-1][key]
    a, b = before[-1], after[0]
    if b["t"] == a["t"]:
        return a[key]
    return a[key] + (b[key] - a[key]) * (t - a["t"]) / (b["t"] - a["t"])


def skmem_totals(path):
    """(sockets, bytes) from an `ss -tm` dump: per socket r + w + f + o
    (received and unread, queued to send, reserved ahead, options)."""
    sockets = 0
    total = 0
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return 0, None
    for m in re.finditer(r"skmem:\(([^)]*)\)", text):
        fields = dict(re.match(r"([a-z]+)(\d+)", x).groups() for x in m.group(1).split(","))
        sockets += 1
        total += sum(int(fields.get(k, 0)) for k in ("r", "w", "f", "o"))
    return sockets, total


# ---- SVG ---------------------------------------------------------------------------

def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Svg:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.items = []

    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill="#222"):
        self.items.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                          f'font-weight="{weight}" fill="{fill}">{esc(s)}</text>')

    def rect(self, x, y, w, h, fill, stroke="none", dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
                          f'fill="{fill}" stroke="{stroke}"{d}/>')

    def line(self, x1, y1, x2, y2, stroke="#999", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                          f'stroke="{stroke}" stroke-width="{width}"{d}/>')

    def polyline(self, points, stroke, width=2):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.items.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="{width}"/>')

    def save(self, path):
        with open(path, "w") as f:
            f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                    f'viewBox="0 0 {self.w} {self.h}" font-family="sans-serif">\n')
            f.write(f'<rect width="{self.w}" height="{self.h}" fill="white"/>\n')
            for item in self.items:
                f.write(item + "\n")
            f.write("</svg>\n")


def nice_max(v):
    """A round number at or above v, for an axis."""
    if v <= 0:
        return 1
    p = 10 ** len(str(int(v))) / 10
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * p >= v:
            return m * p
    return 10 * p


def fmt_bytes(b):
    if b is None:
        return "n/a"
    if abs(b) >= 1024 * 1024:
        return f"{b / 1048576:.1f} MiB"
    if abs(b) >= 10 * 1024:
        return f"{b / 1024:.0f} KiB"
    if abs(b) >= 1024:
        return f"{b / 1024:.1f} KiB"
    return f"{b:.0f} B"


# ---- compare-models: the report --------------------------------------------------------

LABELS = {
    "blocking": "blocking_echo",
    "thread": "thread_echo",
    "busy": "busy_echo",
    "bare": "bare_poller_echo",
    "poll": "echo_server (poll)",
    "epoll": "echo_server (epoll)",
}


def measure_model(out, model, clk_tck):
    with open(f"{out}/{model}.json") as f:
        lg = json.load(f)
    with open(f"{out}/{model}.window") as f:
        t_start, t_end = (float(x) for x in f.read().split())
    rows = read_samples(f"{out}/{model}.tsv")
    with open(f"{out}/{model}.tsv.slab.json") as f:
        slab = json.load(f)
    base = [r for r in rows if r["t"] <= t_start] or rows[:1]
    base = base[-1]
    window = [r for r in rows if t_start <= r["t"] <= t_end + 0.5] or rows
    held = max(r["fds"] for r in window) - base["fds"]
    threads = max(r["threads"] for r in window)
    rss_peak = max(r["rss_kb"] for r in window)
    vm_peak = max(r["vm_kb"] for r in window)
    cpu_s = (at(rows, t_end, "cpu_ticks") - at(rows, t_start, "cpu_ticks")) / clk_tck
    wall = t_end - t_start
    # One kernel stack per task: KernelStack over every task on the machine,
    # taken in each sample (other work comes and goes; the ratio holds).
    per_task_kb = sorted(r["kstack_kb"] / r["tasks"] for r in window if r["tasks"] > 0)
    per_task_kb = per_task_kb[len(per_task_kb) // 2] if per_task_kb else 0
    ss_sockets, ss_bytes = skmem_totals(f"{out}/{model}.ss")
    per = max(held, 1)
    objects = sum(slab.values()) if slab else None
    m = {
        "model": model,
        "label": LABELS[model],
        "connections": lg["connections"],
        "established": lg["established"],
        "connect_failed": lg["connect_failed"],
        "held": int(held),
        "replies_per_s": lg["replies_per_s"],
        "requests": lg["requests"],
        "replies": lg["replies"],
        "timeouts": lg["errors"]["timeout"],
        "errors": lg["errors_total"],
        "p50_ms": lg["latency_us"]["p50"] / 1000 if lg["replies"] else None,
        "p99_ms": lg["latency_us"]["p99"] / 1000 if lg["replies"] else None,
        "cpu_s": cpu_s,
        "cpu_pct": 100 * cpu_s / wall if wall > 0 else 0,
        "threads": int(threads),
        "rss_per_conn": (rss_peak - base["rss_kb"]) * 1024 / per,
        "vm_per_conn": (vm_peak - base["vm_kb"]) * 1024 / per,
        "kstack_per_task": per_task_kb * 1024,
        "kstack_per_conn": (threads - base["threads"]) * per_task_kb * 1024 / per,
        "objects_per_conn": objects,
        "buffers_per_conn": ss_bytes / ss_sockets if ss_sockets else None,
        "ss_sockets": ss_sockets,
        "slab": slab,
    }
    parts = [m["rss_per_conn"], m["kstack_per_conn"], m["objects_per_conn"] or 0, m["buffers_per_conn"] or 0]
    m["resident_per_conn"] = sum(parts)
    return m


def ms(v):
    return "n/a" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.0f}")


def tables(ms_list):
    service = [["model", "held", "established", "replies/s", "timeouts", "p50 ms", "p99 ms", "CPU s", "CPU %"]]
    for m in ms_list:
        service.append([m["label"], f'{m["held"]}/{m["connections"]}', str(m["established"]),
                        f'{m["replies_per_s"]:.0f}', str(m["timeouts"]), ms(m["p50_ms"]), ms(m["p99_ms"]),
                        f'{m["cpu_s"]:.2f}', f'{m["cpu_pct"]:.0f}'])
    memory = [["model", "threads", "user RSS", "addr space", "kernel stacks", "socket objects",
               "socket buffers", "resident total"]]
    for m in ms_list:
        memory.append([m["label"], str(m["threads"]), fmt_bytes(m["rss_per_conn"]), fmt_bytes(m["vm_per_conn"]),
                       fmt_bytes(m["kstack_per_conn"]), fmt_bytes(m["objects_per_conn"]),
                       fmt_bytes(m["buffers_per_conn"]), fmt_bytes(m["resident_per_conn"])])
    return service, memory


def text_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(rows):
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


NOTES = """\
Service (from loadgen's JSON and /proc/PID of the server):
  held         the server's own connections at their peak (its fds during the run minus before it)
               / connections loadgen asked for
  established  connections whose handshake completed: the kernel completes them into the listen
               backlog even when the server never accept()s (blocking_echo); past the backlog's
               size (net.core.somaxconn) the handshake itself times out
  replies/s    echoes verified byte for byte, over loadgen's whole run
  timeouts     messages with no complete echo within 5 s (loadgen then closes that connection)
  p50/p99 ms   round trip of the verified echoes (send() to the last byte back)
  CPU s / %    the server's utime + stime during loadgen's run; % of one CPU over that time
Memory per connection held (what one more connection costs):
  threads          the server's peak thread count (Threads: in /proc/PID/status)
  user RSS         (peak VmRSS - VmRSS before the load) / held: the server's own resident memory,
                   thread stacks' touched pages included
  addr space       (peak VmSize - before) / held: address space reserved, resident or not
                   (thread_echo: one 64 KiB stack + guard page per thread)
  kernel stacks    (peak threads - threads before) x one kernel stack / held; one kernel stack =
                   KernelStack / all tasks on the machine (/proc/meminfo, /proc/loadavg)
  socket objects   the slab objects one TCP socket fd takes: TCP + sock_inode_cache + filp + dentry
                   object sizes (/proc/slabinfo, root only); the same for every model
  socket buffers   r + w + f + o of `ss -tm` for the server's sockets at one moment mid-run, per
                   socket: bytes received and unread, queued to send, reserved ahead, options
  resident total   user RSS + kernel stacks + socket objects + socket buffers (addr space not
                   included: most of a reserved stack is never touched)
The client's side of each connection (loadgen, on the same machine) is not counted anywhere.
blocking_echo holds one connection, so its memory row is that one connection's."""


def chart_compare(ms_list, path, title, subtitle):
    rows = len(ms_list)
    panel_h = 26 * rows + 40
    width = 1100
    label_w = 170
    bar_w = width / 2 - label_w - 150  # room on the right for the value
    svg = Svg(width, 80 + 2 * (panel_h + 20) + 30)
    svg.text(20, 28, title, 17, weight="bold")
    svg.text(20, 48, subtitle, 12, fill="#555")
    colors = {"rss": "#4878d0", "kstack": "#ee854a", "objects": "#6acc64", "buffers": "#d65f5f"}

    def panel(px, py, heading, values, fmt, color, note=None, texts=None):
        svg.text(px, py, heading, 13, weight="bold")
        top = max((v for v in values if v is not None), default=0)
        scale = bar_w / nice_max(top) if top > 0 else 0
        for i, (m, v) in enumerate(zip(ms_list, values)):
            y = py + 14 + i * 26
            svg.text(px + label_w - 8, y + 14, m["label"], 12, anchor="end")
            svg.rect(px + label_w, y + 2, (v or 0) * scale, 16, color)
            svg.text(px + label_w + (v or 0) * scale + 5, y + 14, texts[i] if texts else fmt(v), 11, fill="#333")
        svg.line(px + label_w, py + 12, px + label_w, py + 14 + rows * 26, "#666")
        if note:
            svg.text(px, py + 14 + rows * 26 + 16, note, 10, fill="#666")

    half = width / 2
    y1 = 80
    n = ms_list[0]["connections"]
    panel(20, y1, f"Connections served at once (of {n}), and echoes per second",
          [m["held"] for m in ms_list], None, "#4878d0",
          "held = the server's open connections at the peak; echoes verified by loadgen",
          [f'{m["held"]} ({m["replies_per_s"]:,.0f}/s)' if m["held"] >= m["connections"] else
           f'{m["held"]} ({m["replies_per_s"]:,.0f}/s; {m["connections"] - m["held"]:,} never served)'
           for m in ms_list])
    panel(half, y1, "Server CPU, seconds of one CPU", [m["cpu_s"] for m in ms_list], lambda v: f"{v:.2f} s",
          "#ee854a", "the same messages for every model; busy_echo spins")
    y2 = y1 + panel_h + 20
    panel(20, y2, "p99 round trip, ms", [m["p99_ms"] for m in ms_list], lambda v: ms(v) + " ms" if v is not None else "n/a",
          "#d65f5f", "of the echoes that came back (blocking_echo: one client's)")

    # Memory per connection: stacked.
    px, py = half, y2
    svg.text(px, py, "Memory per connection (resident)", 13, weight="bold")
    top = max(m["resident_per_conn"] for m in ms_list)
    scale = bar_w / nice_max(top) if top > 0 else 0
    for i, m in enumerate(ms_list):
        y = py + 14 + i * 26
        svg.text(px + label_w - 8, y + 14, m["label"], 12, anchor="end")
        x = px + label_w
        for key, v in (("rss", m["rss_per_conn"]), ("kstack", m["kstack_per_conn"]),
                       ("objects", m["objects_per_conn"] or 0), ("buffers", m["buffers_per_conn"] or 0)):
            w = max(v, 0) * scale
            svg.rect(x, y + 2, w, 16, colors[key])
            x += w
        svg.text(x + 5, y + 14, fmt_bytes(m["resident_per_conn"]), 11, fill="#333")
    svg.line(px + label_w, py + 12, px + label_w, py + 14 + rows * 26, "#666")
    ly = py + 14 + rows * 26 + 12
    lx = px
    for key, name in (("rss", "user RSS"), ("kstack", "kernel stacks"), ("objects", "socket objects"),
                      ("buffers", "socket buffers")):
        svg.rect(lx, ly, 10, 10, colors[key])
        svg.text(lx + 14, ly + 9, name, 10, fill="#444")
        lx += 105
    reserved = [f'{m["label"]} {fmt_bytes(m["vm_per_conn"])}' for m in ms_list if m["vm_per_conn"] >= 8192]
    if reserved:
        svg.text(px, ly + 26, "address space reserved per connection, not in the bars: " + ", ".join(reserved),
                 10, fill="#666")
    svg.save(path)


def cmd_report(a):
    ms_list = [measure_model(a.out, m, a.clk_tck) for m in a.models]
    service, memory = tables(ms_list)
    slab = next((m["slab"] for m in ms_list if m["slab"]), {})
    kst = ms_list[0]["kstack_per_task"]
    header = (f"{a.connections} connections, {a.rate} messages/s in all (one every {a.interval} ms each), "
              f"{a.size}-byte messages, {a.duration} s per model; {a.pinning}")
    facts = (f"one kernel stack measured at {fmt_bytes(kst)}; socket objects: "
             + (", ".join(f"{k} {v} B" for k, v in slab.items()) if slab else "n/a (/proc/slabinfo not readable)")
             + f"; load average at the end {a.load_end}")
    text = "\n".join([header, "", "Service", text_table(service), "", "Memory per connection held",
                      text_table(memory), "", facts, "", NOTES])
    print()
    print(text)
    with open(f"{a.out}/table.txt", "w") as f:
        f.write(text + "\n")
    with open(f"{a.out}/table.md", "w") as f:
        f.write(f"{header}\n\n{md_table(service)}\n\n{md_table(memory)}\n\n{facts}\n")
    with open(f"{a.out}/results.json", "w") as f:
        json.dump(ms_list, f, indent=1)
    chart_compare(ms_list, f"{a.out}/compare-models.svg",
                  f"One echo workload, six server models: {a.connections} connections",
                  f"{a.rate} messages/s in all, {a.size} bytes, {a.duration} s each; {a.pinning}; "
                  f"measured by scripts/compare-models.sh (load average {a.load_end})")
    print(f"\nfiles: {a.out}/table.txt, {a.out}/table.md, {a.out}/compare-models.svg")


# ---- flood-demo: the report -------------------------------------------------------------

def cmd_flood(a):
    series = {}
    for s in a.servers:
        rows = read_samples(f"{a.out}/{s}.tsv")
        with open(f"{a.out}/{s}.window") as f:
            t0, t1 = (float(x) for x in f.read().split())
        with open(f"{a.out}/{s}.sent") as f:
            sent = f.read().split()
        base = ([r for r in rows if r["t"] <= t0] or rows[:1])[-1]
        rows = [r for r in rows if r["t"] >= t0 - 0.5]
        series[s] = {"rows": rows, "t0": t0, "left": t1 - t0, "end": rows[-1]["t"] - t0, "base": base,
                     "sent": int(sent[0]) if sent else 0, "why": " ".join(sent[1:])}
    # The table: each server's RSS once a second, from the client's start.
    width = max(len(s) for s in a.servers) + 4
    lines = [f"{'t (s)':>6}  " + "  ".join(f"{s + ' RSS':>{width + 4}}" for s in a.servers)]
    t_max = max(v["end"] for v in series.values())
    for t in range(0, int(t_max) + 1):
        cells = []
        for s in a.servers:
            v = series[s]
            if t <= v["end"]:
                mark = "*" if t > v["left"] else " "
                cells.append(f"{at(v['rows'], v['t0'] + t, 'rss_kb') / 1024:>{width + 2}.1f} MiB{mark}")
            else:
                cells.append(" " * (width + 7))
        lines.append(f"{t:>6}  " + "  ".join(cells).rstrip())
    lines.append("(* the client had gone)")
    summary = []
    for s in a.servers:
        v = series[s]
        peak = max(r["rss_kb"] for r in v["rows"])
        summary.append(f"{s}: RSS {v['base']['rss_kb'] / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB, "
                       f"{v['rows'][-1]['rss_kb'] / 1024:.1f} MiB 1.5 s after the client left; the client sent "
                       f"{v['sent'] / 1048576:.1f} MiB and read nothing ({v['why']})")
    text = "\n".join(lines + [""] + summary)
    print(text)
    with open(f"{a.out}/flood.txt", "w") as f:
        f.write(text + "\n")

    # The chart: RSS over time, one line per server.
    width, height = 820, 440
    left, right, top, bottom = 70, 30, 70, 80
    svg = Svg(width, height)
    svg.text(20, 28, "A client that sends and never reads: the server's memory", 16, weight="bold")
    svg.text(20, 48, a.subtitle, 11, fill="#555")
    y_top = nice_max(max(max(r["rss_kb"] for r in v["rows"]) for v in series.values()) / 1024)
    x_top = max(1, int(t_max + 0.999))
    pw, ph = width - left - right, height - top - bottom

    def xy(t, mib):
        return left + pw * max(t, 0) / x_top, top + ph * (1 - mib / y_top)

    for i in range(6):
        v = y_top * i / 5
        _, y = xy(0, v)
        svg.line(left, y, left + pw, y, "#e4e4e4")
        svg.text(left - 6, y + 4, f"{v:g}", 11, anchor="end", fill="#555")
    for t in range(0, x_top + 1, max(1, x_top // 10)):
        x, _ = xy(t, 0)
        svg.line(x, top + ph, x, top + ph + 4, "#666")
        svg.text(x, top + ph + 18, str(t), 11, anchor="middle", fill="#555")
    svg.line(left, top, left, top + ph, "#666")
    svg.line(left, top + ph, left + pw, top + ph, "#666")
    svg.text(left + pw / 2, top + ph + 38, "seconds since the client started", 12, anchor="middle")
    svg.text(18, top + ph / 2, "server RSS, MiB", 12, anchor="middle")
    svg.items[-1] = svg.items[-1].replace("<text ", f'<text transform="rotate(-90 18 {top + ph / 2:.1f})" ', 1)
    palette = ["#d65f5f", "#4878d0", "#6acc64", "#ee854a"]
    for i, s in enumerate(a.servers):
        v = series[s]
        color = palette[i % len(palette)]
        pts = [xy(r["t"] - v["t0"], r["rss_kb"] / 1024) for r in v["rows"]]
        svg.polyline(pts, color)
        x, _ = xy(v["left"], 0)
        svg.line(x, top, x, top + ph, color, 1, "4,3")
        peak = max(r["rss_kb"] for r in v["rows"]) / 1024
        svg.text(left + 12, top + 16 + 16 * i,
                 f"{s}: peak {peak:.0f} MiB after {v['sent'] / 1048576:.0f} MiB sent", 12, fill=color, weight="bold")
    svg.text(left, height - 12, "dashed: the client stops (cap reached or time up) and closes; "
             "the server then drops the connection and what it held", 10, fill="#666")
    svg.save(f"{a.out}/flood.svg")
    print(f"\nfiles: {a.out}/flood.txt, {a.out}/flood.svg")


# ---- flood-demo: the client that never reads -----------------------------------------

def cmd_flood_client(a):
    """Connects to 127.0.0.1:port and sends at `rate` MiB/s without ever
    reading, until `seconds` have passed or `max_mib` MiB are sent. Writes
    "BYTES_SENT how it stopped" to `out`, and one line per second on stdout."""
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    sock.setblocking(False)
    chunk = b"flood, never read\n" * 3641  # about 64 KiB
    limit = a.max_mib << 20
    sent = 0
    start = time.time()
    next_report = 1
    why = f"ran {a.seconds:g} s"
    while True:
        now = time.time() - start
        if now >= next_report:
            print(f"flood-client: {next_report:>3} s  {sent / 1048576:8.1f} MiB sent", flush=True)
            next_report += 1
        if now >= a.seconds:
            break
        if sent >= limit:
            why = f"stopped at the {a.max_mib} MiB cap after {now:.1f} s"
            break
        allowed = min(int(a.rate * 1048576 * now) - sent, len(chunk), limit - sent)
        if allowed <= 0:
            time.sleep(0.002)
            continue
        _, writable, _ = select.select([], [sock], [], 0.05)
        if not writable:
            continue  # the server stopped reading: the kernel buffers are full
        try:
            sent += sock.send(chunk[:allowed])
        except BlockingIOError:
            pass
    with open(a.out, "w") as f:
        f.write(f"{sent} {why}\n")
    sock.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--interval", type=float, default=0.25)
    s.add_argument("--port", type=int)
    s.add_argument("--ss-out")
    s.add_argument("--snapshot-at", type=float)
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--models", nargs="+", required=True)
    for k in ("connections", "duration", "rate", "size"):
        r.add_argument("--" + k, type=int, required=True)
    r.add_argument("--interval", required=True)
    r.add_argument("--clk-tck", type=int, default=100)
    r.add_argument("--pinning", default="")
    r.add_argument("--load-end", default="")
    f = sub.add_parser("flood")
    f.add_argument("--out", required=True)
    f.add_argument("--servers", nargs="+", required=True)
    f.add_argument("--subtitle", default="")
    c = sub.add_parser("flood-client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--seconds", type=float, default=10)
    c.add_argument("--max-mib", type=int, default=256)
    c.add_argument("--rate", type=float, default=32)
    c.add_argument("--out", required=True)
    a = p.parse_args()
    {"sample": cmd_sample, "report": cmd_report, "flood": cmd_flood, "flood-client": cmd_flood_client}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
