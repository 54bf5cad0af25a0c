#!/usr/bin/env python3
"""scripts/soak_run.py -- the body of scripts/soak.sh (read that file first).

Starts echo_server, http_hello and http_files, loads them at once for the
soak's length with loadgen and scripts/soak_client.py, samples each server
every second, then judges, prints the summary table and writes the chart.
Every process it starts is a child it holds by PID; each is ended by PID,
on success, failure or Ctrl-C. Only the standard library.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

# The growth rule (docs/reliability.md, "The soak"): the run is cut in
# thirds; the first is warm-up. A server fails if the peak of the last third
# is above the peak of the second third by more than the tolerance.
RSS_TOLERANCE = (0.10, 2048)  # 10 % plus 2 MiB (kB)
FD_TOLERANCE = (0.05, 32)     # 5 % plus 32 fds (the exact check is the one after the load)
FD_SETTLE_SECONDS = 15        # after the load, fds must be back to the baseline within this


def env_int(name, default):
    v = os.environ.get(name, "")
    if not v:
        return default
    if not re.fullmatch(r"[0-9]+", v) or int(v) == 0:
        print(f"soak: {name}='{v}' is not a positive whole number", file=sys.stderr)
        sys.exit(2)
    return int(v)


def log(msg):
    print(f"soak: {msg}", flush=True)


# ---- sampling: /proc on Linux, ps and lsof elsewhere -------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def use_proc():
    return os.path.isdir("/proc/self/fd") and os.environ.get("SOAK_SAMPLER") != "ps"


def sample_proc(pid):
    """(rss_kb, fds, cpu_seconds, threads) or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        if rest[0] == "Z":
            return None
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        rss = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
        threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        cpu = (int(rest[11]) + int(rest[12])) / CLK_TCK  # utime, stime
        return rss, fds, cpu, threads
    except (OSError, AttributeError, IndexError, ValueError):
        return None


def parse_ps_time(t):
    days = 0
    if "-" in t:
        d, t = t.split("-", 1)
        days = int(d)
    secs = 0.0
    for part in t.split(":"):
        secs = secs * 60 + float(part)
    return days * 86400 + secs


def sample_ps(pid):
    """The portable fallback: ps for RSS and CPU time, lsof (if present) for fds."""
    try:
        out = subprocess.run(["ps", "-o", "rss=", "-o", "time=", "-o", "stat=", "-p", str(pid)],
                             capture_output=True, text=True, timeout=5).stdout.split()
        if len(out) < 3 or out[2].startswith("Z"):
            return None
        rss, cpu = int(out[0]), parse_ps_time(out[1])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    fds = None
    if shutil.which("lsof"):
        try:
            lines = subprocess.run(["lsof", "-n", "-P", "-p", str(pid), "-Ff"], capture_output=True,
                                   text=True, timeout=5).stdout.splitlines()
            fds = sum(1 for line in lines if re.fullmatch(r"f\d+", line))
        except (OSError, subprocess.TimeoutExpired):
            fds = None
    return rss, fds, cpu, None


def sample(pid):
    return sample_proc(pid) if use_proc() else sample_ps(pid)


def accept_backlogs(ports):
    """Linux: connections the kernel has completed but the server has not
    accepted yet, per listening port (the rx_queue of a LISTEN socket in
    /proc/net/tcp, where listeners come first). A server that falls behind
    (a busy machine) holds fewer fds than it has connections; counting the
    backlog too keeps the growth rule from reading its catching up as a
    leak. Elsewhere: zeros."""
    found = {p: 0 for p in ports}
    if not use_proc():
        return found
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] != "0A":
                    break
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port in found:
                    found[port] += int(fields[4].split(":")[1], 16)
    except (OSError, IndexError, ValueError, StopIteration):
        pass
    return found


# ---- processes ----------------------------------------------------------------

class Proc:
    """A child process held by PID, its output in files under the work dir."""

    def __init__(self, name, argv, workdir, stdout_name=None):
        self.name = name
        self.out_path = os.path.join(workdir, (stdout_name or name) + ".out")
        self.err_path = os.path.join(workdir, name + ".err")
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.popen = subprocess.Popen(argv, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)
        self.pid = self.popen.pid
        self.rc = None
        self.died_at = None

    def poll(self):
        if self.rc is None:
            self.rc = self.popen.poll()
        return self.rc

    def stop(self, sig=signal.SIGTERM, wait=10.0):
        """Signals the child by PID and waits; SIGKILL after `wait` seconds.
        Returns (exit status, True if it had to be killed)."""
        killed = False
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.rc = self.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.rc = self.popen.wait()
                killed = True
        self.out.close()
        self.err.close()
        return self.rc, killed

    def describe_rc(self):
        rc = self.rc
        if rc is None:
            return "running"
        if rc < 0:
            try:
                return f"killed by {signal.Signals(-rc).name}"
            except ValueError:
                return f"killed by signal {-rc}"
        return f"exit {rc}"


def wait_listening(proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        with open(proc.out_path) as f:
            m = re.search(r"listening on [^ ]+:(\d+)", f.read())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    return None


def make_files(root):
    """Files of every interesting size around the 64 KiB slice, random bytes."""
    os.makedirs(root, exist_ok=True)
    sizes = {"empty": 0, "one": 1, "small.txt": 1000, "page.html": 16384, "slice-1": 65535,
             "slice": 65536, "slice+1": 65537, "medium.bin": 200000, "large.bin": 1048583,
             "big.bin": 3000000}
    for name, size in sizes.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(size))


# ---- the chart -------------------------------------------------------------------

def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_max(v):
    if v <= 0:
        return 1
    mag = 10 ** (len(str(int(v))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if v <= step * mag:
            return step * mag
    return 10 * mag


def write_svg(path, title, subtitle, duration, soak_seconds, panels):
    """panels: [(heading, unit, [(label, color, [(t, v), ...]), ...])]; the
    time axis runs to `duration`, the thirds are those of `soak_seconds`."""
    width, left, right = 960, 70, 220
    ph, gap, top = 150, 50, 70
    height = top + len(panels) * (ph + gap) + 10
    pw = width - left - right
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="24" font-size="16" font-weight="bold">{esc(title)}</text>',
           f'<text x="{left}" y="44" fill="#555">{esc(subtitle)}</text>']
    for i, (heading, unit, series) in enumerate(panels):
        y0 = top + i * (ph + gap) + 20
        vmax = nice_max(max([v for _, _, pts in series for _, v in pts if v is not None] + [0]))
        out.append(f'<text x="{left}" y="{y0 - 8}" font-size="13" font-weight="bold">{esc(heading)}'
                   f' <tspan font-weight="normal" fill="#555">({esc(unit)})</tspan></text>')
        out.append(f'<rect x="{left}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        for k in range(5):
            v = vmax * k / 4
            y = y0 + ph - ph * k / 4
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            label = str(int(v)) if v == int(v) else f"{v:.1f}"
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{label}</text>')
        # The thirds: warm-up, then the two compared by the growth rule.
        for frac, label in ((1 / 3, "warm-up ends"), (2 / 3, "last third")):
            x = left + pw * frac * soak_seconds / duration
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y0 + ph}" stroke="#bbb" '
                       f'stroke-dasharray="4,3"/>')
            if i == 0:
                out.append(f'<text x="{x + 3:.1f}" y="{y0 + 12}" fill="#888">{label}</text>')
        for j, (label, color, pts) in enumerate(series):
            coords = [f"{left + pw * min(t, duration) / duration:.1f},{y0 + ph - ph * v / vmax:.1f}"
                      for t, v in pts if v is not None and t >= 0]
            color, _, style = color.partition("|")
            dash = ' stroke-dasharray="2,2"' if style == "dotted" else ""
            if coords:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} '
                           f'points="{" ".join(coords)}"/>')
            ly = y0 + 12 + j * 16
            out.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 32}" y1="{ly - 4}" y2="{ly - 4}" '
                       f'stroke="{color}" stroke-width="2"{dash}/>')
            out.append(f'<text x="{left + pw + 38}" y="{ly}">{esc(label)}</text>')
        if i == len(panels) - 1:
            step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if duration / s <= 10)
            t = 0
            while t <= duration:
                x = left + pw * t / duration
                out.append(f'<text x="{x:.1f}" y="{y0 + ph + 16}" text-anchor="middle" fill="#555">{t}</text>')
                t += step
            out.append(f'<text x="{left + pw / 2}" y="{y0 + ph + 32}" text-anchor="middle">'
                       f'seconds since the load started</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ---- the run ------------------------------------------------------------------------

def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(repo)
    build = os.environ.get("BUILD", "build")
    seconds = env_int("SOAK_SECONDS", 0) or 60 * env_int("SOAK_MINUTES", 5)
    echo_total = env_int("SOAK_ECHO_CONNECTIONS", 10000)
    churn = min(echo_total, env_int("SOAK_CHURN_SLOTS", max(1, echo_total // 5)))
    steady = echo_total - churn
    hello_conns = env_int("SOAK_HTTP_CONNECTIONS", 200)
    files_conns = env_int("SOAK_FILES_CONNECTIONS", 16)
    seed = env_int("SOAK_SEED", int(time.time()) % 100000 + 1)
    workdir = os.path.join(build, "soak")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    root = os.path.join(workdir, "root")
    make_files(root)
    svg_path = os.path.join(build, "soak.svg")
    samples_path = os.path.join(build, "soak-samples.tsv")

    procs = []  # everything we started, ended by PID in `finally`
    failures = []

    def start(name, argv, stdout_name=None):
        p = Proc(name, argv, workdir, stdout_name)
        procs.append(p)
        return p

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        # ---- servers ------------------------------------------------------------
        ex = os.path.join(build, "examples")
        servers = {
            "echo_server": start("echo_server", [f"{ex}/echo_server", "--port", "0"]),
            "http_hello": start("http_hello", [f"{ex}/http_hello", "--port", "0"]),
            "http_files": start("http_files", [f"{ex}/http_files", "--root", root, "--port", "0"]),
        }
        ports = {}
        for name, p in servers.items():
            ports[name] = wait_listening(p)
            if ports[name] is None:
                log(f"{name} did not start ({p.describe_rc()}); its output is in {p.err_path}")
                return 1
        if not use_proc():
            have_lsof = shutil.which("lsof") is not None
            log("no /proc here: sampling with ps" + (" and lsof" if have_lsof else
                "; lsof is missing, so open fds are NOT checked (install lsof to check them)"))
        baseline = {}
        for name, p in servers.items():
            baseline[name] = sample(p.pid)
        log(f"{seconds} s of load, seed {seed}: echo_server (port {ports['echo_server']}) "
            f"{steady} steady + {churn} churning connections; http_hello (port {ports['http_hello']}) "
            f"{hello_conns} keep-alive connections; http_files (port {ports['http_files']}) "
            f"{files_conns} downloading, many abandoned")

        # ---- clients --------------------------------------------------------------
        py = sys.executable or "python3"
        client = os.path.join("scripts", "soak_client.py")
        clients = {}
        if steady:
            clients["loadgen echo"] = start("loadgen", [
                f"{ex}/loadgen", "echo", "--port", str(ports["echo_server"]), "--connections", str(steady),
                "--connect-rate", "4000", "--interval", "1000", "--size", "200", "--duration", str(seconds),
                "--timeout", "30", "--seed", str(seed), "--json"])
        per_proc = 1000
        nproc = (churn + per_proc - 1) // per_proc
        for k in range(nproc):
            slots = churn // nproc + (1 if k < churn % nproc else 0)
            clients[f"echo churn {k + 1}"] = start(f"churn{k + 1}", [
                py, client, "echo-churn", "--port", str(ports["echo_server"]), "--slots", str(slots),
                "--seconds", str(seconds), "--think", "0.5", "--connect-rate", "1000",
                "--seed", str(seed + k + 1)])
        clients["http_hello"] = start("hello", [
            py, client, "http-hello", "--port", str(ports["http_hello"]), "--connections", str(hello_conns),
            "--seconds", str(seconds), "--think", str(hello_conns / 2000), "--seed", str(seed + 100)])
        clients["http_files"] = start("files", [
            py, client, "http-files", "--port", str(ports["http_files"]), "--connections", str(files_conns),
            "--root", root, "--seconds", str(seconds), "--think", "0.2", "--seed", str(seed + 200)])

        # ---- sample every second until the clients are done -----------------------
        t0 = time.monotonic()
        samples = {name: [] for name in servers}  # (t, rss_kb, fds, cpu_s, threads, backlog)
        deadline = t0 + seconds + 45  # clients end at `seconds`, plus their drain
        next_t = t0
        last_status = 0
        while True:
            now = time.monotonic()
            backlog = accept_backlogs(ports.values())
            for name, p in servers.items():
                if p.died_at is not None:
                    continue
                s = sample(p.pid)
                if s is None or p.poll() is not None:
                    p.poll()
                    p.died_at = now - t0
                    failures.append(f"{name} died at {p.died_at:.0f} s ({p.describe_rc()})")
                    log(failures[-1])
                else:
                    samples[name].append((now - t0,) + s + (backlog[ports[name]],))
            if any(p.died_at is not None for p in servers.values()):
                break
            if all(c.poll() is not None for c in clients.values()):
                break
            if now > deadline:
                failures.append("clients still running 45 s after the end of the load")
                break
            if now - t0 >= last_status + 30:
                last_status = now - t0
                parts = [f"{n} {samples[n][-1][1] // 1024} MiB {samples[n][-1][2]} fds"
                         for n in servers if samples[n]]
                log(f"[{now - t0:4.0f} s] " + "; ".join(parts))
            next_t += 1
            time.sleep(max(0.0, next_t - time.monotonic()))
        load_end = time.monotonic() - t0

        # ---- clients' results ------------------------------------------------------------
        # A dead server ends the run at once; the clients stopped then are
        # not failures of their own.
        stopped_early = any(p.died_at is not None for p in servers.values())
        for name, c in clients.items():
            rc, killed = c.stop(signal.SIGTERM, wait=5)
            if (killed or rc != 0) and not (stopped_early and rc == -signal.SIGTERM):
                failures.append(f"client {name} failed ({c.describe_rc()}; see {c.err_path})")
        summaries = {}
        series = {}  # client -> [(t, ops/s)]
        byte_series = {}  # client -> [(t, MB/s)]
        for name, c in clients.items():
            with open(c.out_path) as f:
                text = f.read()
            if name == "loadgen echo":
                m = re.search(r"^\{.*\}$", text, re.M)
                summaries[name] = json.loads(m.group(0)) if m else {}
                with open(c.err_path) as f:
                    series[name] = [(float(a), float(b)) for a, b in
                                    re.findall(r"\[\s*([\d.]+) s\] connections \S+\s+replies/s ([\d.]+)", f.read())]
                byte_series[name] = [(t, v * 200 / 1e6) for t, v in series[name]]
            else:
                m = re.search(r"^SUMMARY (.*)$", text, re.M)
                summaries[name] = json.loads(m.group(1)) if m else {}
                rows = [line.split("\t") for line in text.splitlines() if re.match(r"^[\d.]+\t", line)]
                series[name] = [(float(r[0]), float(r[1])) for r in rows]
                byte_series[name] = [(float(r[0]), float(r[2]) / 1e6) for r in rows]

        # ---- after the load: fds back to the baseline ------------------------------------
        settled = {}
        settle_deadline = time.monotonic() + FD_SETTLE_SECONDS
        for name, p in servers.items():
            if p.died_at is not None or baseline[name] is None or baseline[name][1] is None:
                continue
            while True:
                s = sample(p.pid)
                settled[name] = s[1] if s else None
                if s is None or s[1] <= baseline[name][1] or time.monotonic() > settle_deadline:
                    break
                time.sleep(0.5)
            if settled[name] is not None and settled[name] > baseline[name][1]:
                failures.append(f"{name} holds {settled[name]} fds {FD_SETTLE_SECONDS} s after the load, "
                                f"{baseline[name][1]} before it")

        # ---- the growth rule --------------------------------------------------------------
        verdicts = {}
        for name, pts in samples.items():
            a = [s for s in pts if seconds / 3 <= s[0] < 2 * seconds / 3]
            b = [s for s in pts if 2 * seconds / 3 <= s[0] <= seconds]
            v = {"rss_a": None}
            if a and b:
                v["rss_a"] = max(s[1] for s in a)
                v["rss_b"] = max(s[1] for s in b)
                limit = v["rss_a"] * (1 + RSS_TOLERANCE[0]) + RSS_TOLERANCE[1]
                if v["rss_b"] > limit:
                    failures.append(f"{name}: RSS keeps growing: peak {v['rss_b']} kB in the last third, "
                                    f"{v['rss_a']} kB in the second (limit {limit:.0f} kB)")
                if a[0][2] is not None:
                    # fds plus the accept backlog: what the server holds or owes.
                    v["fd_a"] = max(s[2] + s[5] for s in a)
                    v["fd_b"] = max(s[2] + s[5] for s in b)
                    limit = v["fd_a"] * (1 + FD_TOLERANCE[0]) + FD_TOLERANCE[1]
                    if v["fd_b"] > limit:
                        failures.append(f"{name}: open fds keep growing: peak {v['fd_b']} (fds + accept backlog) "
                                        f"in the last third, {v['fd_a']} in the second (limit {limit:.0f})")
            elif not stopped_early:
                failures.append(f"{name}: too few samples to judge growth")
            verdicts[name] = v

        # ---- stop the servers: a graceful stop must end with status 0 ---------------------
        for name, p in servers.items():
            was_dead = p.died_at is not None
            rc, killed = p.stop(signal.SIGTERM, wait=10)
            if not was_dead and (killed or rc != 0):
                failures.append(f"{name} did not stop cleanly on SIGTERM ({'killed after 10 s' if killed else p.describe_rc()})")

        # ---- clients' errors ----------------------------------------------------------------
        for name, s in summaries.items():
            errs = s.get("errors_total", s.get("errors"))
            if errs:
                failures.append(f"client {name}: {errs} errors ({s.get('error_kinds', '')}; see {clients[name].err_path})")
            if not s and not stopped_early:
                failures.append(f"client {name} printed no summary")

        # ---- the table ---------------------------------------------------------------------
        def mib(kb):
            return "-" if kb is None else f"{kb / 1024:.1f}"

        print()
        print(f"======================== soak: {seconds} s, seed {seed} ========================")
        print(f"{'server':12} {'RSS MiB: start':>15} {'peak':>6} {'2nd/3':>6} {'3rd/3':>6} "
              f"{'fds: start':>11} {'peak':>6} {'2nd/3':>6} {'3rd/3':>6} {'after':>6} "
              f"{'backlog':>8} {'CPU %: mean':>12} {'max':>5}  end")
        for name, pts in samples.items():
            v = verdicts[name]
            base = baseline[name] or (None, None, None, None)
            peak_rss = max((s[1] for s in pts), default=None)
            fd_vals = [s[2] for s in pts if s[2] is not None]
            cpu = []
            for prev, cur in zip(pts, pts[1:]):
                if cur[0] > prev[0]:
                    cpu.append(100 * (cur[3] - prev[3]) / (cur[0] - prev[0]))
            in_load = [c for c, s in zip(cpu, pts[1:]) if s[0] <= seconds]
            mean_cpu = (pts[-1][3] - pts[0][3]) / (pts[-1][0] - pts[0][0]) * 100 if len(pts) > 1 else 0
            p = servers[name]
            end = "died: " + p.describe_rc() if p.died_at is not None else p.describe_rc()
            print(f"{name:12} {mib(base[0]):>15} {mib(peak_rss):>6} {mib(v.get('rss_a')):>6} "
                  f"{mib(v.get('rss_b')):>6} {str(base[1]):>11} {str(max(fd_vals, default='-')):>6} "
                  f"{str(v.get('fd_a', '-')):>6} {str(v.get('fd_b', '-')):>6} {str(settled.get(name, '-')):>6} "
                  f"{max((s[5] for s in pts), default=0):>8} {mean_cpu:>12.1f} {max(in_load, default=0):>5.0f}  {end}")
        print()
        print(f"{'client':14} {'verified':>10} {'per s':>8} {'MB':>9} {'connects':>9} {'errors':>7}  endings")
        for name, s in summaries.items():
            if name == "loadgen echo":
                ops, mb = s.get("replies", 0), s.get("replies", 0) * 200 / 1e6
                connects, errs = s.get("established", 0), s.get("errors_total", "?")
                endings = f"{s.get('established', 0)} held for the whole run"
            else:
                ops, mb = s.get("ops", 0), s.get("bytes", 0) / 1e6
                connects, errs = s.get("connects", 0), s.get("errors", "?")
                endings = ", ".join(f"{k} {v}" for k, v in sorted(s.get("endings", {}).items()))
            print(f"{name:14} {ops:>10} {ops / seconds:>8.0f} {mb:>9.1f} {connects:>9} {errs!s:>7}  {endings}")
        print()
        print(f"growth rule  peak of the last third <= peak of the second third x {1 + RSS_TOLERANCE[0]:.2f} "
              f"+ {RSS_TOLERANCE[1] // 1024} MiB (RSS), x {1 + FD_TOLERANCE[0]:.2f} + {FD_TOLERANCE[1]} "
              f"(fds + accept backlog);")
        print(f"             after the load, fds back to their start value within {FD_SETTLE_SECONDS} s")

        # ---- samples and chart ---------------------------------------------------------------
        with open(samples_path, "w") as f:
            f.write("server\tt_s\trss_kb\tfds\tcpu_s\tthreads\taccept_backlog\n")
            for name, pts in samples.items():
                for s in pts:
                    f.write(f"{name}\t{s[0]:.1f}\t{s[1]}\t{s[2]}\t{s[3]:.2f}\t{s[4]}\t{s[5]}\n")
        colors = {"echo_server": "#1f77b4", "http_hello": "#d62728", "http_files": "#2ca02c"}
        client_colors = ["#1f77b4", "#17becf", "#9467bd", "#8c564b", "#d62728", "#2ca02c", "#ff7f0e"]

        def cpu_series(pts):
            return [(cur[0], 100 * (cur[3] - prev[3]) / (cur[0] - prev[0]))
                    for prev, cur in zip(pts, pts[1:]) if cur[0] > prev[0]]

        panels = [
            ("Resident memory", "MiB", [(n, colors[n], [(s[0], s[1] / 1024) for s in pts])
                                        for n, pts in samples.items()]),
            ("Open file descriptors", "count; dotted: plus the accept backlog",
             [(n, colors[n], [(s[0], s[2]) for s in pts]) for n, pts in samples.items()] +
             [(n + " + backlog", colors[n] + "|dotted", [(s[0], s[2] + s[5]) for s in pts if s[2] is not None])
              for n, pts in samples.items() if any(s[5] for s in pts)]),
            ("CPU", "% of one core", [(n, colors[n], cpu_series(pts)) for n, pts in samples.items()]),
            ("Throughput", "verified replies per second",
             [(n, client_colors[i % len(client_colors)], pts) for i, (n, pts) in enumerate(series.items())]),
            ("Bytes verified", "MB per second",
             [(n, client_colors[i % len(client_colors)], pts) for i, (n, pts) in enumerate(byte_series.items())]),
        ]
        verdict = "PASSED" if not failures else "FAILED"
        write_svg(svg_path, f"reactor soak: {seconds} s, {verdict}",
                  f"echo {steady} steady + {churn} churning, http_hello {hello_conns} keep-alive, "
                  f"http_files {files_conns} (abandoned downloads); seed {seed}",
                  max(seconds, load_end), seconds, panels)
        print(f"files        {svg_path} (chart), {samples_path} (samples), {workdir}/ (client and server output)")
        if failures:
            print("result       FAILED:")
            for f_ in failures:
                print(f"             - {f_}")
            return 1
        print("result       OK")
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.stop(signal.SIGKILL if p.name.startswith(("churn", "hello", "files", "loadgen")) else signal.SIGTERM, wait=5)


if __name__ == "__main__":
    sys.exit(main())
