#!/usr/bin/env python3
"""The end-to-end benchmark: `sdf read` side by side with the physical limit and with the tools
users compare it to, on the same files, in one run.

    python3 benches/e2e/run.py --size small --quick   # ~50 MiB per kind, a few minutes
    python3 benches/e2e/run.py --size full            # 1 GiB per kind (BENCHMARKS.md)

What it does, in order (everything it creates is under the cargo target directory,
$CARGO_TARGET_DIR or ./target; nothing is committed):

1. a virtualenv `bench-venv` with `xxhash` (the data generator) and `duckdb` (a yardstick);
2. the data, `bench-data/<size>/<kind>/` from `benches/e2e/gen_data.py` (deterministic; kept
   when its manifest matches the files on disk): uniform, skewed, skewed90, csv, jsonl;
3. release builds of `sdf` and of the tools (`benches/tools`: `limit`, `watch_latency`,
   `peak_rss`);
4. the page cache warmed by reading every file once;
5. the measurements, each child process timed with a wall clock, its CPU time taken from
   `os.wait4` and its peak RSS from `peak_rss` (benches/tools), which starts it; REPS
   repetitions interleaved (so a burst of load elsewhere hits every contender alike), median
   and min reported:
   - text (uniform): the limit (`limit lines`, a memchr count over byte ranges on WORKERS
     threads), the limit with an XXH64 of every line (`limit checksum`), a plain loop doing
     what `sdf read --count` does (`limit text`: every line framed, UTF-8 checked per buffer,
     counted), `sdf read --count` and `sdf read --checksum` with WORKERS workers;
   - skewed and skewed90 (one file with 50% / 90% of the bytes, listed last): the same, as a
     ratio of wall time to the uniform set's;
   - csv and jsonl, records parsed: `sdf read --format csv|jsonl --count`, the plain crate
     loops (`limit csv|jsonl`) and DuckDB (python package, WORKERS threads; its query time is
     measured inside its process, so interpreter start-up is not held against it);
   - a 10 GB single line (a sparse file) read with `--max-record-length 16MiB`: must fail
     cleanly, naming the file; its time and peak RSS;
   - watch latency from a rename into a watched directory to the record at the sink, with
     notifications and with polling (`watch_latency`);
   - the checkpoint size of continuous matching after 1 M files (the `watch_state_size` test).
6. Every count and checksum is compared with the manifest: a mismatch stops the run with an
   error (a fast wrong answer is not a result).

Prints a table (MB = 10^6 bytes; CPU s = the child's user + system time, median, which for
DuckDB includes starting Python and importing duckdb) and writes it with the raw figures to
`bench-results/<size>-<time>.json`.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"))
VENV = os.path.join(TARGET, "bench-venv")
DATA = os.path.join(TARGET, "bench-data")
RESULTS = os.path.join(TARGET, "bench-results")
KINDS = ["uniform", "skewed", "skewed90", "csv", "jsonl"]
SEED = 20261121
MASK = (1 << 64) - 1


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log("\nBENCHMARK FAILED: " + msg)
    sys.exit(1)


# ------------------------------------------------------------------ setup
def python():
    return os.path.join(VENV, "bin", "python")


def ensure_venv():
    stamp = os.path.join(VENV, ".bench-packages")
    if os.path.exists(stamp):
        return
    log("creating %s with xxhash and duckdb" % VENV)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    subprocess.run([python(), "-m", "pip", "install", "--quiet", "xxhash", "duckdb"], check=True)
    open(stamp, "w").close()


def manifest(size, kind):
    with open(os.path.join(DATA, size, kind + ".manifest.json")) as f:
        return json.load(f)


def manifest_matches(size, kind):
    path = os.path.join(DATA, size, kind + ".manifest.json")
    if not os.path.exists(path):
        return False
    m = manifest(size, kind)
    if m.get("seed") != SEED or m.get("label") != size:
        return False
    for f in m["per_file"]:
        p = os.path.join(DATA, size, f["path"])
        if not os.path.exists(p) or os.path.getsize(p) != f["bytes"]:
            return False
    return True


def ensure_data(size):
    for kind in KINDS:
        if manifest_matches(size, kind):
            continue
        log("generating %s/%s" % (size, kind))
        subprocess.run([python(), os.path.join(HERE, "gen_data.py"), "--out", DATA, "--size", size,
                        "--seed", str(SEED), "--kinds", kind, "--force"], check=True)
        if not manifest_matches(size, kind):
            die("the generated %s data does not match its manifest" % kind)


def build():
    log("building release binaries")
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "sdf", "--bin", "sdf",
                    "-p", "sdf-bench-tools"], cwd=ROOT, check=True)
    global PEAK_RSS
    bins = {name: os.path.join(TARGET, "release", name)
            for name in ("sdf", "limit", "watch_latency", "peak_rss")}
    PEAK_RSS = bins["peak_rss"]
    return bins


def files_of(size, kind):
    m = manifest(size, kind)
    return sorted(os.path.join(DATA, size, f["path"]) for f in m["per_file"])


def warm(paths):
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.read(8 << 20):
                pass


# ------------------------------------------------------------ measuring
PEAK_RSS = None  # benches/tools peak_rss, set by build()


class Child:
    """One run of a command: wall time, peak RSS (MB), CPU time, stdout, exit status.

    The command is started by `peak_rss`, a small process that reports its peak RSS: a child
    forked from this Python process would report at least this process's own RSS (Linux
    records the pre-exec memory's peak), ~27 MB."""

    def __init__(self, cmd, check=True):
        with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
            t0 = time.perf_counter()
            p = subprocess.Popen([PEAK_RSS, rss.name, "--"] + cmd, stdout=subprocess.PIPE,
                                 stderr=err)
            out = p.stdout.read()
            _, status, usage = os.wait4(p.pid, 0)
            self.seconds = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            self.stderr = err.read().decode(errors="replace")
            peak_kib = rss.read().strip()
        if not peak_kib:
            die("peak_rss wrote no figure for %s:\n%s" % (" ".join(cmd[:6]), self.stderr[-2000:]))
        self.rss_mb = int(peak_kib) * 1024 / 1e6
        # CPU time (the command's, which wait4 includes) is less disturbed than wall time by
        # other load on a shared machine.
        self.cpu = usage.ru_utime + usage.ru_stime
        self.stdout = out.decode(errors="replace")
        self.status = p.returncode
        if check and self.status != 0:
            die("%s exited with %s:\n%s" % (" ".join(cmd[:6]), self.status, self.stderr[-2000:]))


class Row:
    def __init__(self, group, name, nbytes, records, cmd, verify, inner_time=None):
        self.group, self.name, self.nbytes, self.records = group, name, nbytes, records
        self.cmd, self.verify, self.inner_time = cmd, verify, inner_time
        self.seconds, self.rss, self.cpu = [], [], []
        self.vs = None  # (name of the yardstick row, ratio of throughputs)

    def run(self):
        c = Child(self.cmd)
        self.verify(c.stdout)
        t = self.inner_time(c.stdout) if self.inner_time else c.seconds
        self.seconds.append(t)
        self.rss.append(c.rss_mb)
        self.cpu.append(c.cpu)

    @property
    def median(self):
        return statistics.median(self.seconds)

    def summary(self):
        med = self.median
        return dict(group=self.group, name=self.name, median_s=med, min_s=min(self.seconds),
                    runs_s=self.seconds, mb_s=self.nbytes / 1e6 / med,
                    m_records_s=self.records / 1e6 / med, peak_rss_mb=max(self.rss),
                    cpu_s=statistics.median(self.cpu), vs=self.vs)


def measure(rows, reps):
    for rep in range(reps):
        for row in rows:
            row.run()
        log("  rep %d/%d: %s" % (rep + 1, reps, ", ".join(
            "%s %.3fs" % (r.name, r.seconds[-1]) for r in rows)))


def expect(what, got, want):
    if got != want:
        die("%s: got %s, the manifest says %s" % (what, got, want))


def parse_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- groups
def text_rows(bins, size, kind, workers):
    m = manifest(size, kind)
    paths = files_of(size, kind)
    pattern = os.path.join(DATA, size, m["pattern"])
    n, nbytes, ck = m["lines"], m["total_bytes"], m["line_checksum"]
    w = str(workers)

    def lines(out):
        expect(kind + " limit lines", parse_json(out)["records"], n)

    def checksum(out):
        j = parse_json(out)
        expect(kind + " limit checksum", (j["records"], j["checksum"]), (n, ck))

    def count(out):
        expect(kind + " sdf --count", int(out.split()[0]), n)

    def sdf_checksum(out):
        c, s = out.split()
        expect(kind + " sdf --checksum", (int(c), int(s)), (n, ck))

    return [
        Row(kind, "limit: memchr line count", nbytes, n,
            [bins["limit"], "lines", "--threads", w] + paths, lines),
        Row(kind, "limit + XXH64 per line", nbytes, n,
            [bins["limit"], "checksum", "--threads", w] + paths, checksum),
        Row(kind, "plain loop: lines framed, UTF-8 checked, counted", nbytes, n,
            [bins["limit"], "text", "--threads", w] + paths, lines),
        Row(kind, "sdf read --count", nbytes, n,
            [bins["sdf"], "read", pattern, "--count", "--quiet", "--workers", w], count),
        Row(kind, "sdf read --checksum", nbytes, n,
            [bins["sdf"], "read", pattern, "--checksum", "--quiet", "--workers", w], sdf_checksum),
    ]


DUCKDB = r"""
import duckdb, json, sys, time
kind, pattern, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute("SET threads TO %d" % threads)
if kind == "csv":
    src = ("read_csv('%s', header=true, columns={'id': 'BIGINT', 'name': 'VARCHAR', "
           "'score': 'DOUBLE', 'text': 'VARCHAR'})" % pattern)
else:
    src = ("read_json('%s', format='newline_delimited', columns={'id': 'BIGINT', "
           "'file': 'BIGINT', 'name': 'VARCHAR', 'score': 'DOUBLE', 'tags': 'VARCHAR[]', "
           "'text': 'VARCHAR'})" % pattern)
t0 = time.perf_counter()
n, ids, chars = con.execute("SELECT count(*), sum(id), sum(length(text)) FROM " + src).fetchone()
t = time.perf_counter() - t0
print(json.dumps({"records": n, "id_sum": int(ids), "text_chars_sum": int(chars), "seconds": t}))
"""


def record_rows(bins, size, kind, workers):
    m = manifest(size, kind)
    paths = files_of(size, kind)
    pattern = os.path.join(DATA, size, m["pattern"])
    n, nbytes, w = m["records"], m["total_bytes"], str(workers)

    def loop(out):
        j = parse_json(out)
        expect(kind + " plain loop", (j["records"], j["id_sum"]), (n, m["id_sum"] & MASK))

    def duck(out):
        j = parse_json(out)
        expect(kind + " duckdb", (j["records"], j["id_sum"], j["text_chars_sum"]),
               (n, m["id_sum"], m["text_chars_sum"]))

    def count(out):
        expect(kind + " sdf --count", int(out.split()[0]), n)

    crate = "csv" if kind == "csv" else "serde_json"
    return [
        Row(kind, "DuckDB, %d threads" % workers, nbytes, n,
            [python(), "-c", DUCKDB, kind, pattern, w], duck,
            inner_time=lambda out: parse_json(out)["seconds"]),
        Row(kind, "%s crate, a loop per core" % crate, nbytes, n,
            [bins["limit"], kind, "--threads", w] + paths, loop),
        Row(kind, "sdf read --format %s --count" % kind, nbytes, n,
            [bins["sdf"], "read", pattern, "--format", kind, "--count", "--quiet", "--workers", w],
            count),
    ]


def huge_line(bins, workers):
    """A 10 GB single line, sparse, read with a 16 MiB record-length limit."""
    d = os.path.join(DATA, "huge")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "one-line.txt")
    if not os.path.exists(path) or os.path.getsize(path) != 10 ** 10:
        subprocess.run(["truncate", "-s", str(10 ** 10), path], check=True)
    c = Child([bins["sdf"], "read", path, "--count", "--quiet", "--workers", str(workers),
               "--max-record-length", "16MiB"], check=False)
    ok = c.status != 0 and path in c.stderr and "16777216" in c.stderr.replace(",", "")
    if not ok:
        die("the 10 GB line did not fail cleanly (status %s):\n%s%s"
            % (c.status, c.stdout[-500:], c.stderr[-2000:]))
    return dict(seconds=c.seconds, peak_rss_mb=c.rss_mb, status=c.status,
                error=c.stderr.strip().splitlines()[-1])


def watch(bins, files_notify, files_poll, poll_ms):
    out = {}
    for name, args in (("notify", ["--files", str(files_notify), "--notify"]),
                       ("poll %d ms" % poll_ms, ["--files", str(files_poll), "--poll-ms", str(poll_ms)])):
        log("  watch latency, %s" % name)
        c = Child([bins["watch_latency"]] + args)
        out[name] = parse_json(c.stdout)
    return out


def checkpoint_size():
    log("  continuous-matching checkpoint after 1 M files (cargo test --release)")
    p = subprocess.run(["cargo", "test", "--release", "--quiet", "-p", "sdf-connectors",
                        "--test", "watch_state_size", "a_million", "--", "--nocapture"],
                       cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        die("watch_state_size failed:\n" + p.stdout[-2000:] + p.stderr[-2000:])
    found = re.findall(r"1M files seen \(1M/day, allowance ([^)]*)\): (\d+) remembered, "
                       r"checkpoint (\d+) bytes", p.stderr)
    if not found:
        die("watch_state_size printed no checkpoint size:\n" + p.stderr[-2000:])
    return [dict(allowance=a, remembered=int(r), bytes=int(b)) for a, r, b in found]


# ----------------------------------------------------------------- report
def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return dict(cpu=cpu, cores=os.cpu_count(), memory_gib=round(mem, 1), kernel=platform.release(),
                rustc=rustc, python=platform.python_version())


def table(rows):
    head = ("| set | contender | median s | min s | CPU s | MB/s | M records/s | peak RSS MB "
            "| ratio |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r.summary()
        ratio = "%.2f× %s" % (s["vs"][1], s["vs"][0]) if s["vs"] else "(yardstick)"
        lines.append("| %s | %s | %.3f | %.3f | %.3f | %.0f | %.2f | %.0f | %s |" % (
            s["group"], s["name"], s["median_s"], s["min_s"], s["cpu_s"], s["mb_s"], s["m_records_s"],
            s["peak_rss_mb"], ratio))
    return "\n".join(lines)


def ratio(row, base, label):
    row.vs = (label, base.median / row.median)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["small", "full"], default="small")
    ap.add_argument("--reps", type=int, help="repetitions (default 5, or 2 with --quick)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true",
                    help="fewer repetitions and watched files, no checkpoint-size test build")
    a = ap.parse_args()
    reps = a.reps or (2 if a.quick else 5)
    started = time.strftime("%Y%m%dT%H%M%S")

    ensure_venv()
    ensure_data(a.size)
    bins = build()
    log("warming the page cache")
    for kind in KINDS:
        warm(files_of(a.size, kind))

    results = dict(machine=machine(), size=a.size, reps=reps, workers=a.workers, started=started)
    all_rows = []

    log("text")
    groups = {}
    for kind in ("uniform", "skewed", "skewed90"):
        rows = text_rows(bins, a.size, kind, a.workers)
        groups[kind] = rows
    # One interleaved measurement over the three sets: the skew ratios compare like with like.
    measure([r for k in groups for r in groups[k]], reps)
    for kind, (lim, limck, loop, count, ck) in groups.items():
        ratio(limck, lim, "memchr limit")
        ratio(loop, lim, "memchr limit")
        ratio(count, lim, "memchr limit")
        ratio(ck, lim, "memchr limit")
        all_rows += [lim, limck, loop, count, ck]
    skew = {}
    for kind in ("skewed", "skewed90"):
        skew[kind] = {groups[kind][i].name: groups[kind][i].median / groups["uniform"][i].median
                      for i in range(len(groups[kind]))}
    results["skew_time_ratio_to_uniform"] = skew
    # The same work on both sides: every line hashed.
    results["checksum_vs_limit_checksum"] = {
        k: groups[k][1].median / groups[k][4].median for k in groups}
    # The same work on both sides: every line framed, UTF-8 checked and counted.
    results["count_vs_plain_loop"] = {
        k: groups[k][2].median / groups[k][3].median for k in groups}

    for kind in ("csv", "jsonl"):
        log(kind)
        duck, loop, sdf = record_rows(bins, a.size, kind, a.workers)
        measure([duck, loop, sdf], reps)
        ratio(loop, duck, "DuckDB")
        sdf.vs = ("DuckDB", duck.median / sdf.median)
        results.setdefault("vs_plain_loop", {})[kind] = loop.median / sdf.median
        all_rows += [duck, loop, sdf]

    log("a 10 GB single line, 16 MiB record limit")
    results["huge_line"] = huge_line(bins, a.workers)
    log("watch latency")
    results["watch"] = watch(bins, 50 if a.quick else 300, 30 if a.quick else 150, 100)
    if not a.quick:
        results["checkpoint"] = checkpoint_size()
    results["rows"] = [r.summary() for r in all_rows]

    print("\n## %s run, %d workers, %d repetitions (MB = 10^6 bytes; ratio = throughput ratio)\n"
          % (a.size, a.workers, reps))
    print(table(all_rows))
    print("\nskewed sets, wall time / uniform's:")
    for kind, r in skew.items():
        print("  %-9s " % kind + ", ".join("%s %.2f×" % (k, v) for k, v in r.items()))
    print("sdf read --checksum vs limit + XXH64 per line (throughput): " + ", ".join(
        "%s %.2f×" % (k, v) for k, v in results["checksum_vs_limit_checksum"].items()))
    print("sdf read --count vs the plain loop framing, checking and counting lines (throughput): "
          + ", ".join("%s %.2f×" % (k, v) for k, v in results["count_vs_plain_loop"].items()))
    print("sdf vs the plain crate loop: " + ", ".join(
        "%s %.2f×" % (k, v) for k, v in results["vs_plain_loop"].items()))
    h = results["huge_line"]
    print("10 GB single line, --max-record-length 16MiB: failed (exit %d) in %.3f s, peak RSS %.0f MB: %s"
          % (h["status"], h["seconds"], h["peak_rss_mb"], h["error"]))
    for name, w in results["watch"].items():
        print("watch latency, %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d files"
              % (name, w["p50_ms"], w["p99_ms"], w["max_ms"], w["files"]))
    for c in results.get("checkpoint", []):
        print("continuous matching, 1 M files seen (allowance %s): %d remembered, checkpoint %d bytes"
              % (c["allowance"], c["remembered"], c["bytes"]))
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, "%s-%s.json" % (a.size, started))
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print("\nall figures: " + out)


if __name__ == "__main__":
    main()
