#!/usr/bin/env python3
# The project's shared benchmark generator (../shared/bench/gen_data.py), vendored so that a fresh
# checkout can run benches/e2e/run.py; apart from these two lines it is the shared copy, unchanged.
"""Deterministic benchmark-data generator for the splittable-DoFn benchmarks.

Writes, under OUT/<label>/ (label = small | full | custom-<bytes>):

  uniform/part-NNNNN.txt    N text files of (nearly) equal size
  skewed/part-NNNNN.txt     one file holding ~50% of all bytes + many small ones
                            (+ one empty file, + a few one-line files); the big
                            file has the LAST name in sort order, so a scheduler
                            that hands out whole files in listing order starts it
                            last (worst case); with 2 workers a 50% file is exactly
                            the boundary where whole-file scheduling can still balance
  skewed90/part-NNNNN.txt   same with the big file holding ~90% of the bytes: whole-
                            file scheduling cannot beat 0.9 x the 1-worker time
  jsonl/part-NNNNN.jsonl    JSON-lines records
  csv/part-NNNNN.csv        CSV with header, quoted text field, no embedded newlines
  csv-hard/part-NNNNN.csv   CSV whose quoted fields sometimes contain \\n / \\r\\n
  <kind>.manifest.json      expected counts and checksums (kept OUTSIDE the data
                            dir so a glob over the dir never picks it up)

Line/record definition used for every "lines" figure in the manifest (the
contract any line reader is verified against):
  * a file is split on b"\\n"; a trailing b"\\r" is stripped from each piece
    (so LF and CRLF both end a line; a lone CR is NOT a terminator and the
    generator never emits one outside a CRLF pair);
  * a final piece without a terminating "\\n" is a record if it is non-empty;
    an empty file has 0 records;
  * line_checksum = (sum over records of XXH64(record_bytes, seed)) mod 2**64,
    record_bytes = the UTF-8 bytes without the terminator.  Order-independent,
    so it catches loss and duplication regardless of output order.
    Default seed 42 == the fixed seed of Spark SQL's xxhash64(), so Spark can
    compute the same figure natively (signed -> add 2**64 if negative).

CSV / JSONL manifests additionally give record-level figures: records,
id_sum, text_chars_sum (Unicode code points of the parsed text field) and
text_bytes_sum (its UTF-8 bytes).

Requires: pip install xxhash  (numpy not needed).
Deterministic: same --seed/--size/--kinds -> byte-identical files
(every file has its own RNG seeded from (seed, kind, file index)).
"""
import argparse
import json
import os
import random
import sys
import time
from multiprocessing import Pool

try:
    import xxhash
    _xxh64 = xxhash.xxh64_intdigest
except ImportError:  # pragma: no cover
    sys.exit("gen_data.py needs the 'xxhash' package: pip install xxhash")

MASK = (1 << 64) - 1
KINDS = ["uniform", "skewed", "jsonl", "csv", "csv-hard", "skewed90"]
SKEW_FRAC = {"skewed": 0.5, "skewed90": 0.9}
KIND_ID = {k: i + 1 for i, k in enumerate(KINDS)}
SIZES = {"small": 50 * 1024 * 1024, "full": 1024 * 1024 * 1024}
CHUNK = 4 * 1024 * 1024  # generate/write in ~4 MiB chunks of whole lines

# ----------------------------------------------------------------- vocab
_MB_WORDS = [
    "naïve", "café", "Über", "straße", "façade", "señor", "smørrebrød",
    "αλφα", "βήτα", "γάμμα", "δέλτα", "Ωμέγα", "привет", "мир", "данные",
    "数据", "文件", "分割", "流式处理", "日本語", "한국어", "中文字符",
    "🙂", "🚀", "📁", "✓", "→", "€100", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "עִברִית", "العربية",
]
_PUNCT = ['"quoted"', "a,b", "back\\slash", "tab\there", "it's", "{x}", "[1,2]"]


def _vocab(seed):
    r = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    ascii_words = ["".join(r.choice(letters) for _ in range(r.randint(2, 10)))
                   for _ in range(4000)]
    return ascii_words


def _sentence(r, words, target_len):
    """Random text of roughly target_len UTF-8 bytes (never contains \\n/\\r)."""
    out = []
    n = 0
    while n < target_len:
        x = r.random()
        if x < 0.05:
            w = r.choice(_MB_WORDS)
        elif x < 0.07:
            w = r.choice(_PUNCT)
        else:
            w = words[r.randrange(len(words))]
        out.append(w)
        n += len(w.encode("utf-8")) + 1
    return " ".join(out)


def _body_pool(seed, words, n=20000):
    """Pre-built pool of line bodies with a skewed length distribution."""
    r = random.Random(seed)
    pool = []
    for _ in range(n):
        x = r.random()
        if x < 0.75:
            L = r.randint(10, 100)
        elif x < 0.99:
            L = r.randint(100, 300)
        else:
            L = r.randint(1024, 8192)
        pool.append(_sentence(r, words, L).encode("utf-8"))
    return pool


# ------------------------------------------------------- line accounting
def line_stats(data, seed):
    """Reference line splitter (see module doc). `data` must be a run of whole
    lines; only the last chunk of a file may end without a newline."""
    if not data:
        return 0, 0
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    s = 0
    for p in parts:
        if p[-1:] == b"\r":
            p = p[:-1]
        s += _xxh64(p, seed)
    return len(parts), s & MASK


# ------------------------------------------------------------ per-file gen
_STATE = {}


def _init(seed):
    words = _vocab(seed)
    _STATE["words"] = words
    _STATE["pool"] = _body_pool(seed + 1, words)


def _file_rng(seed, kind, idx):
    return random.Random(seed * 1_000_003 + KIND_ID[kind] * 100_003 + idx)


def _gen_text_file(task):
    kind, idx, path, target, seed, ck_seed, opts = task
    r = _file_rng(seed, kind, idx)
    pool = _STATE["pool"]
    words = _STATE["words"]
    # per-file line-ending style and final-newline policy
    x = r.random()
    style = "crlf" if x < 0.25 else ("mixed" if x < 0.375 else "lf")
    no_final_nl = r.random() < 0.33
    long_lines = opts.get("long_lines", True) and target >= (1 << 20)
    lines = recs = 0
    ck = 0
    written = 0
    ln = 0
    guaranteed_long_at = r.randint(0, max(1, target // 200)) if long_lines else -1
    with open(path, "wb") as f:
        if target <= 0:
            return dict(path=path, bytes=0, lines=0, line_checksum=0, style=style)
        while written < target:
            buf = []
            n = 0
            budget = min(CHUNK, target - written)
            while n < budget:
                y = r.random()
                if y < 0.005:
                    content = b""
                elif long_lines and (ln == guaranteed_long_at or y > 0.99999):
                    # long line: 64 KiB .. 512 KiB
                    L = r.randint(64 * 1024, 512 * 1024)
                    parts = [b"%05d:%09d|LONG|" % (idx, ln)]
                    m = 0
                    while m < L:
                        b = pool[r.randrange(len(pool))]
                        parts.append(b)
                        m += len(b) + 1
                    content = b" ".join(parts)
                else:
                    content = b"%05d:%09d|" % (idx, ln) + pool[r.randrange(len(pool))]
                if style == "crlf" or (style == "mixed" and r.random() < 0.5):
                    term = b"\r\n"
                else:
                    term = b"\n"
                buf.append(content)
                buf.append(term)
                n += len(content) + len(term)
                ln += 1
            last = written + n >= target
            if last and no_final_nl:
                # drop the final terminator (ensure the final line is non-empty)
                if buf[-2] == b"":
                    buf[-2] = b"%05d:%09d|final" % (idx, ln)
                buf.pop()
            data = b"".join(buf)
            c, s = line_stats(data, ck_seed)
            lines += c
            ck = (ck + s) & MASK
            f.write(data)
            written += len(data)
            if last:
                break
    return dict(path=path, bytes=written, lines=lines, line_checksum=ck,
                style=style, final_newline=not no_final_nl)


def _json_text(r, words):
    x = r.random()
    L = r.randint(10, 200) if x < 0.95 else r.randint(500, 4000)
    return _sentence(r, words, L)


def _gen_jsonl_file(task):
    kind, idx, path, target, seed, ck_seed, opts = task
    r = _file_rng(seed, kind, idx)
    words = _STATE["words"]
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    recs = id_sum = tchars = tbytes = 0
    lines = 0
    ck = 0
    written = 0
    i = 0
    with open(path, "wb") as f:
        while written < target:
            buf = []
            n = 0
            budget = min(CHUNK, target - written)
            while n < budget:
                rid = idx * 100_000_000 + i
                text = _json_text(r, words)
                rec = {
                    "id": rid,
                    "file": idx,
                    "name": words[r.randrange(len(words))],
                    "score": round(r.random() * 1000, 3),
                    "tags": [words[r.randrange(len(words))] for _ in range(r.randint(0, 3))],
                    "text": text,
                }
                b = dumps(rec).encode("utf-8") + b"\n"
                buf.append(b)
                n += len(b)
                recs += 1
                id_sum += rid
                tchars += len(text)
                tbytes += len(text.encode("utf-8"))
                i += 1
            data = b"".join(buf)
            c, s = line_stats(data, ck_seed)
            lines += c
            ck = (ck + s) & MASK
            f.write(data)
            written += len(data)
    return dict(path=path, bytes=written, lines=lines, line_checksum=ck,
                records=recs, id_sum=id_sum, text_chars_sum=tchars, text_bytes_sum=tbytes)


def _csv_quote(s):
    return '"' + s.replace('"', '""') + '"'


def _gen_csv_file(task):
    kind, idx, path, target, seed, ck_seed, opts = task
    hard = kind == "csv-hard"
    r = _file_rng(seed, kind, idx)
    words = _STATE["words"]
    crlf = hard and r.random() < 0.3
    eol = "\r\n" if crlf else "\n"
    recs = id_sum = tchars = tbytes = 0
    lines = 0
    ck = 0
    written = 0
    i = 0
    with open(path, "wb") as f:
        header = ("id,name,score,text" + eol).encode()
        data = header
        first = True
        while written < target:
            buf = [header] if first else []
            first = False
            n = sum(len(b) for b in buf)
            budget = min(CHUNK, target - written)
            while n < budget:
                rid = idx * 100_000_000 + i
                text = _json_text(r, words)
                if hard and r.random() < 0.05:
                    # embed 1..3 newlines (LF or CRLF) inside the quoted field
                    ws = text.split(" ")
                    for _ in range(r.randint(1, 3)):
                        p = r.randrange(len(ws))
                        ws[p] = ws[p] + r.choice(["\n", "\r\n", "\n\n"])
                    text = " ".join(ws)
                row = "%d,%s,%.3f,%s%s" % (rid, words[r.randrange(len(words))],
                                           r.random() * 1000, _csv_quote(text), eol)
                b = row.encode("utf-8")
                buf.append(b)
                n += len(b)
                recs += 1
                id_sum += rid
                tchars += len(text)
                tbytes += len(text.encode("utf-8"))
                i += 1
            data = b"".join(buf)
            c, s = line_stats(data, ck_seed)
            lines += c
            ck = (ck + s) & MASK
            f.write(data)
            written += len(data)
    return dict(path=path, bytes=written, lines=lines, line_checksum=ck,
                records=recs, id_sum=id_sum, text_chars_sum=tchars, text_bytes_sum=tbytes,
                eol="crlf" if crlf else "lf")


def _run(task):
    kind = task[0]
    if kind in ("uniform", "skewed", "skewed90"):
        return _gen_text_file(task)
    if kind == "jsonl":
        return _gen_jsonl_file(task)
    return _gen_csv_file(task)


# ------------------------------------------------------------------ layout
def plan(kind, total, label, seed):
    """Return list of (file_index, filename, target_bytes)."""
    small = total < (256 << 20)
    if kind == "uniform":
        n = 16 if small else 64
        return [(i, "part-%05d.txt" % i, total // n) for i in range(n)]
    if kind in SKEW_FRAC:
        big = int(total * SKEW_FRAC[kind])
        n = 128 if small else 512
        r = random.Random(seed * 7 + 11)
        mean = (total - big) / n
        sizes = [int(mean * r.uniform(0.5, 1.5)) for _ in range(n)]
        # rescale so the small files hold total-big bytes
        k = (total - big) / sum(sizes)
        sizes = [max(1, int(s * k)) for s in sizes]
        out = [(i, "part-%05d.txt" % i, s) for i, s in enumerate(sizes)]
        # edge cases: an empty file and a few one-line files
        out.append((n, "part-%05d.txt" % n, 0))
        for j in range(3):
            out.append((n + 1 + j, "part-%05d.txt" % (n + 1 + j), 40))
        # the big file sorts last
        out.append((n + 4, "part-%05d.txt" % (n + 4), big))
        return out
    n = 8 if small else 32
    ext = "jsonl" if kind == "jsonl" else "csv"
    return [(i, "part-%05d.%s" % (i, ext), total // n) for i in range(n)]


def pattern_for(kind):
    return {"uniform": "*.txt", "skewed": "*.txt", "skewed90": "*.txt", "jsonl": "*.jsonl"}.get(kind, "*.csv")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("BENCH_DATA", "/tmp/bench-data"))
    ap.add_argument("--size", default="small",
                    help="small (~50 MiB per dataset), full (~1 GiB per dataset) or a byte count")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--checksum-seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--force", action="store_true", help="regenerate even if manifest exists")
    a = ap.parse_args()

    if a.size in SIZES:
        total, label = SIZES[a.size], a.size
    else:
        total, label = int(a.size), "custom-%s" % a.size
    root = os.path.join(a.out, label)
    os.makedirs(root, exist_ok=True)
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            sys.exit("unknown kind %r (choose from %s)" % (k, KINDS))

    with Pool(a.jobs, initializer=_init, initargs=(a.seed,)) as pool:
        for kind in kinds:
            mpath = os.path.join(root, kind + ".manifest.json")
            if os.path.exists(mpath) and not a.force:
                print("%s: manifest exists, skipping (use --force)" % mpath)
                continue
            d = os.path.join(root, kind)
            os.makedirs(d, exist_ok=True)
            for fn in os.listdir(d):
                os.unlink(os.path.join(d, fn))
            t0 = time.time()
            layout = plan(kind, total, label, a.seed)
            tasks = [(kind, i, os.path.join(d, fn), tgt, a.seed, a.checksum_seed, {})
                     for (i, fn, tgt) in layout]
            # biggest first so the big skewed file starts immediately
            order = sorted(range(len(tasks)), key=lambda j: -tasks[j][3])
            res = [None] * len(tasks)
            for j, st in zip(order, pool.imap(_run, [tasks[j] for j in order], chunksize=1)):
                st["path"] = os.path.relpath(st["path"], root)
                res[j] = st
            m = {
                "kind": kind,
                "label": label,
                "generator": "gen_data.py",
                "seed": a.seed,
                "dir": kind,
                "pattern": kind + "/" + pattern_for(kind),
                "files": len(res),
                "total_bytes": sum(x["bytes"] for x in res),
                "max_file_bytes": max(x["bytes"] for x in res),
                "lines": sum(x["lines"] for x in res),
                "line_checksum": sum(x["line_checksum"] for x in res) & MASK,
                "checksum_def": ("sum mod 2^64 of XXH64(line_without_terminator, seed=%d); "
                                 "lines split on LF, trailing CR stripped, "
                                 "unterminated non-empty final line counts" % a.checksum_seed),
                "checksum_seed": a.checksum_seed,
            }
            if kind in ("jsonl", "csv", "csv-hard"):
                for key in ("records", "id_sum", "text_chars_sum", "text_bytes_sum"):
                    m[key] = sum(x[key] for x in res)
            m["per_file"] = res
            with open(mpath + ".tmp", "w") as f:
                json.dump(m, f, indent=1)
            os.replace(mpath + ".tmp", mpath)
            print("%-9s %3d files %8.1f MiB %10d lines%s  %.1fs" % (
                kind, len(res), m["total_bytes"] / 2**20, m["lines"],
                ("  %d records" % m["records"]) if "records" in m else "",
                time.time() - t0), flush=True)


if __name__ == "__main__":
    main()
