#!/usr/bin/env python3
"""Salus benchmark: ingest throughput and read latency on real Synthea data.

    python3 bench/run.py --salus target/release/salus --out target/bench

1. Builds a scaled data set from the Synthea bulk export in
   ../shared/fixtures/external/synthea-bulk/10-patients/ (relative to the repository root):
   N copies, copy k > 0 with every resource id and every `Type/id` reference suffixed `-k`,
   written as NDJSON under OUT/data/. When the export is absent, says so, writes
   OUT/ingest.json and OUT/reads.json marked skipped, and exits 0.
2. Ingest: for SQLite (always) and PostgreSQL (when psql reaches it), R times on a fresh
   database, `salus --db URL ingest --json OUT/data`; wall time and the child's peak RSS
   (os.wait4). Checks nothing was rejected and every input resource was created.
3. Reads: `salus serve` on the database of the last ingest run, load-tested with wrk
   (installed with apt-get when missing) on 127.0.0.1 only, fixed duration per endpoint.
4. Writes OUT/ingest.json and OUT/reads.json and prints a table against the targets.

Exit status: 0 when everything ran (a MISS against a target is reported, not an error, unless
--strict); 1 when a correctness check failed (rejections, wrong counts, server did not start).
Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "..", "shared", "fixtures", "external", "synthea-bulk", "10-patients")
# The bulk export has no Observations; these Synthea bundles (hundreds of Observations per
# patient, PHQ-9 and GAD-7 among them) are loaded into the read database, untimed, so that the
# Observation search returns full pages.
OBSERVATION_BUNDLES = os.path.join(REPO, "..", "shared", "fixtures", "external", "synthea-bundles",
                                   "spezi-synthea-v3")

TARGETS = {
    "ingest_resources_per_s": {"sqlite": 25000, "postgres": 12000},
    "ingest_peak_rss_mb": 300,
    "read_requests_per_s": 15000,
    "read_p99_ms": 10,
    # Authentication, authorization and audit together, against the same reads without audit
    # writes: at most this fraction of read throughput.
    "security_overhead": 0.10,
}

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# A literal reference `Type/id`, optionally `/_history/vid`. Conditional (`Type?identifier=`),
# contained (`#x`), absolute and urn: references are left alone.
REF_RE = re.compile(r"^([A-Z][A-Za-z]*)/([A-Za-z0-9\-.]{1,64})((?:/_history/[A-Za-z0-9\-.]{1,64})?)$")
RAW_REF_RE = re.compile(
    r'("reference"\s*:\s*")([A-Z][A-Za-z]*)/([A-Za-z0-9\-.]{1,64})((?:/_history/[A-Za-z0-9\-.]{1,64})?")'
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data set


def rewrite_tree(obj, suffix):
    """The reference transformation on parsed JSON: every `reference` string anywhere."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "reference" and isinstance(v, str):
                m = REF_RE.match(v)
                out[k] = f"{m.group(1)}/{m.group(2)}{suffix}{m.group(3)}" if m else v
            else:
                out[k] = rewrite_tree(v, suffix)
        return out
    if isinstance(obj, list):
        return [rewrite_tree(v, suffix) for v in obj]
    return obj


def rewrite_line(line, suffix, stats):
    """Copy of one NDJSON line with the top-level id and literal references suffixed.

    Rewrites the raw text (so numbers and everything else stay byte-for-byte as exported), then
    checks the result against the same transformation done on the parsed JSON; on any
    difference, falls back to serializing the parsed transformation."""
    original = json.loads(line)
    stats["type"] = original.get("resourceType")
    rid = original.get("id")
    if not isinstance(rid, str) or not ID_RE.match(rid + suffix):
        raise ValueError(f"id {rid!r} cannot take the suffix {suffix!r} and stay a valid FHIR id")
    expected = rewrite_tree(original, suffix)
    expected["id"] = rid + suffix
    if not suffix:
        return line
    raw = RAW_REF_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}/{m.group(3)}{suffix}{m.group(4)}", line)
    needle = f'"id":"{rid}"'
    if raw.count(needle) == 1:
        raw = raw.replace(needle, f'"id":"{rid}{suffix}"')
        if json.loads(raw) == expected:
            return raw
    stats["fallbacks"] += 1
    return json.dumps(expected, ensure_ascii=False, separators=(",", ":"))


def source_files(src):
    return sorted(
        f for f in os.listdir(src)
        if f.endswith(".ndjson") and f != "log.ndjson" and not f.startswith(".")
    )


def build_dataset(src, data_dir, copies):
    """Write the scaled data set (reused when the source and copy count are unchanged)."""
    files = source_files(src)
    fingerprint = {
        "copies": copies,
        "generator": 2,
        "source": [(f, os.path.getsize(os.path.join(src, f)), int(os.path.getmtime(os.path.join(src, f))))
                   for f in files],
    }
    stamp = os.path.join(data_dir, ".dataset.json")
    if os.path.exists(stamp):
        with open(stamp) as fh:
            old = json.load(fh)
        if old.get("fingerprint") == json.loads(json.dumps(fingerprint)):
            log(f"data set: reusing {data_dir} ({old['resources']} resources)")
            return old
    if os.path.isdir(data_dir):
        shutil.rmtree(data_dir)
    os.makedirs(data_dir)
    started = time.monotonic()
    stats = {"fallbacks": 0}
    by_type = {}
    total_bytes = 0
    total = 0
    for k in range(copies):
        suffix = f"-{k}" if k > 0 else ""
        for f in files:
            # Patient.000.ndjson -> Patient.000.k003.ndjson: bulk-export style names, one per copy.
            stem = f[: -len(".ndjson")]
            out_path = os.path.join(data_dir, f"{stem}.k{k:03d}.ndjson")
            n = 0
            with open(os.path.join(src, f), encoding="utf-8") as inp, \
                    open(out_path, "w", encoding="utf-8", newline="\n") as out:
                for line in inp:
                    line = line.rstrip("\r\n")
                    if not line.strip():
                        continue
                    out.write(rewrite_line(line, suffix, stats))
                    out.write("\n")
                    by_type[stats["type"]] = by_type.get(stats["type"], 0) + 1
                    n += 1
            total += n
            total_bytes += os.path.getsize(out_path)
    info = {
        "fingerprint": fingerprint,
        "source": os.path.normpath(src),
        "copies": copies,
        "files": copies * len(files),
        "resources": total,
        "bytes": total_bytes,
        "by_type": dict(sorted(by_type.items())),
        "serialization_fallbacks": stats["fallbacks"],
        "build_s": round(time.monotonic() - started, 2),
    }
    with open(stamp, "w") as fh:
        json.dump(info, fh, indent=1)
    log(f"data set: {total} resources, {total_bytes / 1e6:.1f} MB in {info['files']} files "
        f"({info['build_s']} s)")
    return info


def pick_patient(src):
    """A real patient of copy 0 with at least 10 encounters (the one with most, ties by id)."""
    encounters = {}
    path = os.path.join(src, "Encounter.000.ndjson")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    ref = (json.loads(line).get("subject") or {}).get("reference", "")
                    if ref.startswith("Patient/"):
                        encounters[ref[8:]] = encounters.get(ref[8:], 0) + 1
    patients = []
    for f in source_files(src):
        if f.startswith("Patient."):
            with open(os.path.join(src, f), encoding="utf-8") as fh:
                patients += [json.loads(line)["id"] for line in fh if line.strip()]
    if not patients:
        return None, 0
    best = sorted(patients, key=lambda p: (-encounters.get(p, 0), p))[0]
    return best, encounters.get(best, 0)


# --------------------------------------------------------------------------- environment


def child_env():
    env = dict(os.environ)
    # Reproducible: no configuration file, log filter or database from the caller's environment.
    for var in ("SALUS_CONFIG", "SALUS_DB", "SALUS_LOG"):
        env.pop(var, None)
    return env


def git_commit():
    try:
        out = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def loadavg():
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def mem_total_mb():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return None


def postgres_check(base_url):
    if not shutil.which("psql"):
        return "psql is not on PATH"
    try:
        out = subprocess.run(["psql", base_url, "-Atc", "select 1"], capture_output=True, text=True,
                             timeout=20, env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
    except (OSError, subprocess.SubprocessError) as e:
        return f"psql failed: {e}"
    if out.returncode != 0 or out.stdout.strip() != "1":
        return f"psql cannot connect to {base_url}: {(out.stderr or out.stdout).strip()}"
    return None


def psql(base_url, sql):
    subprocess.run(["psql", base_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                   check=True, capture_output=True, text=True, timeout=300)


def ensure_wrk():
    if shutil.which("wrk"):
        return None
    if shutil.which("apt-get"):
        log("wrk is not on PATH: trying apt-get install -y wrk")
        try:
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True,
                           timeout=300, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except (OSError, subprocess.SubprocessError) as e:
            log(f"apt-get failed: {e}")
        if shutil.which("wrk"):
            return None
        return "wrk is not on PATH and `apt-get install -y wrk` did not provide it"
    return "wrk is not on PATH (and apt-get is not available to install it)"


# --------------------------------------------------------------------------- backends


class Backend:
    """A fresh database per run: a new SQLite file, or a new PostgreSQL schema."""

    def __init__(self, name, work_dir, pg_base=None):
        self.name = name
        self.work_dir = work_dir
        self.pg_base = pg_base
        self.live = []  # schemas / files to drop at the end

    def fresh(self, run):
        if self.name == "sqlite":
            path = os.path.join(self.work_dir, f"sqlite-run{run}.db")
            for ext in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(path + ext):
                    os.remove(path + ext)
            self.live.append(path)
            return self.url_of(path)
        schema = f"salus_bench_{os.getpid()}_{run}"
        psql(self.pg_base, f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        self.live.append(schema)
        return self.url_of(schema)

    def url_of(self, item):
        if self.name == "sqlite":
            return f"sqlite://{item}"
        sep = "&" if "?" in self.pg_base else "?"
        return f"{self.pg_base}{sep}options=-csearch_path%3D{item}"

    def discard(self, keep_last=False):
        """Drop every database made, except the last one when keep_last."""
        items = self.live[:-1] if keep_last else self.live
        for item in items:
            try:
                if self.name == "sqlite":
                    for ext in ("", "-wal", "-shm", "-journal"):
                        if os.path.exists(item + ext):
                            os.remove(item + ext)
                else:
                    psql(self.pg_base, f"DROP SCHEMA IF EXISTS {item} CASCADE")
            except (OSError, subprocess.SubprocessError) as e:
                log(f"warning: could not drop {item}: {e}")
        self.live = self.live[-1:] if keep_last else []

    def size_mb(self):
        if not self.live:
            return None
        item = self.live[-1]
        try:
            if self.name == "sqlite":
                return round(sum(os.path.getsize(item + e) for e in ("", "-wal")
                                 if os.path.exists(item + e)) / 1e6, 1)
            out = subprocess.run(
                ["psql", self.pg_base, "-Atc",
                 "select coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))),0)"
                 f" from pg_tables where schemaname = '{item}'"],
                capture_output=True, text=True, timeout=60)
            return round(int(out.stdout.strip()) / 1e6, 1)
        except (OSError, ValueError, subprocess.SubprocessError):
            return None


# --------------------------------------------------------------------------- ingest


def observation_patient(bundles_dir):
    """The patient with the most Observations in the bundles, and that number."""
    best = (None, 0)
    for name in sorted(os.listdir(bundles_dir)) if os.path.isdir(bundles_dir) else []:
        if not name.endswith(".json"):
            continue
        with open(os.path.join(bundles_dir, name), encoding="utf-8") as fh:
            entries = [e.get("resource", {}) for e in json.load(fh).get("entry", [])]
        patients = [r["id"] for r in entries if r.get("resourceType") == "Patient" and "id" in r]
        observations = sum(1 for r in entries if r.get("resourceType") == "Observation")
        if patients and observations > best[1]:
            best = (patients[0], observations)
    return best


def load_observations(args, db_url, out_dir, failures, backend_name):
    """Ingest the Observation bundles into the read database; the patient to search, or None."""
    patient, observations = observation_patient(OBSERVATION_BUNDLES)
    if patient is None:
        log(f"reads {backend_name}: no Observation bundles at {os.path.normpath(OBSERVATION_BUNDLES)}")
        return None, 0
    log_path = os.path.join(out_dir, "logs", f"ingest-observations-{backend_name}.log")
    code, stdout, _, _ = run_ingest(args.salus, db_url, OBSERVATION_BUNDLES, log_path, out_dir)
    if code != 0:
        failures.append(f"reads {backend_name}: ingest of the Observation bundles exited {code} "
                        f"(see {log_path})")
        return None, 0
    return patient, observations


def timed_run(cmd, cwd, log_path):
    """Run a command, timed, with the child's peak RSS from wait4: (exit code, stdout, wall
    seconds, rusage). Standard error goes to log_path."""
    with open(log_path, "w") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=child_env(), cwd=cwd)
        stdout = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    return os.waitstatus_to_exitcode(status), stdout.decode("utf-8", "replace"), wall, usage


def run_ingest(salus, url, data_dir, log_path, cwd):
    """One `salus ingest`, timed, with the child's peak RSS."""
    return timed_run([salus, "--db", url, "ingest", "--json", data_dir], cwd, log_path)


def ingest_benchmark(args, backend, data, out_dir, failures):
    runs = []
    for run in range(1, args.repeats + 1):
        url = backend.fresh(run)
        if run > 1:
            backend.discard(keep_last=True)  # free the previous run's database
        log_path = os.path.join(out_dir, "logs", f"ingest-{backend.name}-run{run}.log")
        log(f"ingest {backend.name} run {run}/{args.repeats} ...")
        load = loadavg()
        code, stdout, wall, usage = run_ingest(args.salus, url, data["data_dir"], log_path, out_dir)
        rss_mb = usage.ru_maxrss / 1024.0  # KiB on Linux
        entry = {
            "run": run,
            "exit_code": code,
            "wall_s": round(wall, 3),
            "resources_per_s": round(data["resources"] / wall, 1),
            "mb_per_s": round(data["bytes"] / 1e6 / wall, 2),
            "peak_rss_mb": round(rss_mb, 1),
            "user_cpu_s": round(usage.ru_utime, 2),
            "sys_cpu_s": round(usage.ru_stime, 2),
            "log": os.path.relpath(log_path, out_dir),
            "loadavg_1m_before": load,
        }
        problems = []
        try:
            report = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            report = None
            problems.append(f"exit code {code}, no JSON report on stdout (see {log_path})")
        if report is not None:
            created = sum(c.get("created", 0) for c in report.get("resources", {}).values())
            updated = sum(c.get("updated", 0) for c in report.get("resources", {}).values())
            unchanged = sum(c.get("unchanged", 0) for c in report.get("resources", {}).values())
            rejected = report.get("rejected", [])
            entry.update({
                "report_elapsed_ms": report.get("elapsed_ms"),
                "report_files": report.get("files"),
                "report_records": report.get("records"),
                "created": created,
                "updated": updated,
                "unchanged": unchanged,
                "rejected": len(rejected),
                "created_by_type": {t: c.get("created", 0) for t, c in sorted(report.get("resources", {}).items())},
            })
            if code != 0:
                problems.append(f"exit code {code}")
            if rejected:
                problems.append(f"{len(rejected)} records rejected, first: {json.dumps(rejected[0])[:300]}")
            if created != data["resources"]:
                problems.append(f"created {created} of {data['resources']} input resources "
                                f"(updated {updated}, unchanged {unchanged})")
        if problems:
            entry["problems"] = problems
            for p in problems:
                failures.append(f"ingest {backend.name} run {run}: {p}")
                log(f"  FAILED: {p}")
        log(f"  {entry['wall_s']} s, {entry['resources_per_s']:.0f} resources/s, "
            f"{entry['mb_per_s']} MB/s, peak RSS {entry['peak_rss_mb']} MB")
        runs.append(entry)
    entry_db_mb = backend.size_mb()
    ok = [r for r in runs if "problems" not in r] or runs
    # The median run; with an even count, the slower of the middle two.
    median = sorted(ok, key=lambda r: r["wall_s"])[len(ok) // 2]
    target = TARGETS["ingest_resources_per_s"][backend.name]
    return {
        "backend": backend.name,
        "median": median,
        "runs": runs,
        "database_mb_after_last_run": entry_db_mb,
        "targets": {"resources_per_s": target, "peak_rss_mb": TARGETS["ingest_peak_rss_mb"]},
        "pass": {
            "resources_per_s": median["resources_per_s"] >= target,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs) <= TARGETS["ingest_peak_rss_mb"],
        },
    }


# --------------------------------------------------------------------------- reads


class Server:
    def __init__(self, salus, url, log_path, cwd, config=None, extra_args=()):
        self.log_fh = open(log_path, "w")
        env = child_env()
        if config is not None:
            env["SALUS_CONFIG"] = config
        self.proc = subprocess.Popen([salus, "--db", url, "serve", "--listen", "127.0.0.1:0",
                                      *extra_args],
                                     stdout=subprocess.PIPE, stderr=self.log_fh, env=env,
                                     cwd=cwd)
        self.base = None
        # `--mllp` listeners report first: host:port.
        self.mllp = None
        self.usage = None
        deadline = time.monotonic() + 60
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline and self.base is None:
            if self.proc.poll() is not None:
                break
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            m = re.search(rb"salus listening on (http://127\.0\.0\.1:\d+)", buf)
            if m:
                self.base = m.group(1).decode()
            m = re.search(rb"salus listening on mllp://(127\.0\.0\.1:\d+)", buf)
            if m:
                self.mllp = m.group(1).decode()
        if self.base is None:
            self.stop()
            raise RuntimeError(f"salus serve did not print its listening line within 60 s "
                               f"(stdout {buf[-300:]!r}; see {log_path})")
        # Keep draining stdout so that the server can never block on it.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        try:
            while self.proc.stdout.read(65536):
                pass
        except (OSError, ValueError):
            pass

    def stop(self):
        if self.proc.returncode is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    self.usage = usage
                    break
                time.sleep(0.1)
            else:
                self.proc.kill()
                _, status, usage = os.wait4(self.proc.pid, 0)
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.usage = usage
        self.log_fh.close()


def busiest_patient(src):
    """The patient of the bulk export with the most resources in its compartment."""
    counts = {}
    ref = re.compile(r'"reference"\s*:\s*"Patient/([A-Za-z0-9\-.]{1,64})"')
    for f in source_files(src):
        if f.startswith("Patient."):
            continue
        with open(os.path.join(src, f), encoding="utf-8") as fh:
            for line in fh:
                m = ref.search(line)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    if not counts:
        return None, 0
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))


def context_benchmark(out_dir, salus, src, requests=200):
    """`GET /fhir/Patient/{id}/$llm-context` for the bulk export's busiest patient (with a Consent
    of the benchmark's own) on SQLite: latency of one request at a time, consent evaluation,
    sections and tokenization included (and the audit entry each call writes). Writes
    OUT/context.json and OUT/context.txt. Never fails the run."""
    path = os.path.join(out_dir, "context.json")
    target_ms = 50
    files = source_files(src) if os.path.isdir(src) else []
    patient, count = busiest_patient(src) if files else (None, 0)
    doc = None
    if not files or not os.path.exists(salus) or patient is None:
        doc = {"skipped": True, "reason": "the Synthea bulk export or the release binary is absent"}
    else:
        work = os.path.join(out_dir, "context")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        db_url = f"sqlite://{os.path.join(work, 'context.db')}"
        consent = {
            "resourceType": "Consent", "id": "bench-consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient}"}, "dateTime": "2020-01-01",
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "OPTIN"}]},
            "provision": {"type": "permit", "actor": [{"role": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                "reference": {"reference": "Device/salus-llm-assistant"}}],
                "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}]},
        }
        consent_file = os.path.join(work, "Consent.ndjson")
        with open(consent_file, "w") as fh:
            fh.write(json.dumps(consent) + "\n")
        log(f"context: ingesting the bulk export and a consent for Patient/{patient} ({count} resources)")
        code, _, _, _ = run_ingest(salus, db_url, src, os.path.join(work, "ingest.log"), work)
        code2, _, _, _ = run_ingest(salus, db_url, consent_file, os.path.join(work, "ingest-consent.log"), work)
        if code not in (0, 2) or code2 != 0:
            doc = {"skipped": True, "reason": f"ingest exited {code}/{code2} (see {work})"}
        else:
            token = make_token(salus, db_url, work)
            server = Server(salus, db_url, os.path.join(work, "serve.log"), work)
            try:
                budgets = {}
                for budget in (2000, 8000):
                    url = f"{server.base}/fhir/Patient/{patient}/$llm-context?max_tokens={budget}"
                    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
                    latencies, body = [], None
                    for i in range(requests + 10):
                        start = time.perf_counter()
                        with urllib.request.urlopen(request, timeout=30) as resp:
                            body = resp.read()
                        if i >= 10:  # the first ones warm the caches
                            latencies.append((time.perf_counter() - start) * 1000)
                    latencies.sort()
                    answer = json.loads(body)
                    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)
                    budgets[str(budget)] = {
                        "requests": len(latencies), "p50_ms": pick(0.50), "p95_ms": pick(0.95),
                        "p99_ms": pick(0.99), "max_ms": round(latencies[-1], 2),
                        "token_count": answer.get("token_count"),
                        "sections": len(answer.get("sections", [])),
                        "cited": len({c for s in answer.get("sections", []) for i in s["items"] for c in i["cite"]}),
                        "omitted": answer.get("omitted"),
                    }
            finally:
                server.stop()
            worst = max(b["p95_ms"] for b in budgets.values())
            doc = {"patient": patient, "patient_resources": count, "backend": "sqlite",
                   "budgets": budgets, "target_p95_ms": target_ms, "pass": worst <= target_ms}
        shutil.rmtree(work, ignore_errors=True)
    write_json(path, doc)
    if doc.get("skipped"):
        table = f"$llm-context: skipped ({doc['reason']})"
    else:
        lines = [f"$llm-context (SQLite, Patient with {doc['patient_resources']} resources, one request at a time)"]
        for budget, b in doc["budgets"].items():
            lines.append(f"  {'max_tokens=' + budget + ' p95_ms':<28} {b['p95_ms']:>8} {'<= ' + str(target_ms):>12} "
                         f"{'ok' if b['p95_ms'] <= target_ms else 'MISS'}   (p50 {b['p50_ms']} ms, "
                         f"{b['token_count']} tokens, {b['cited']} resources cited)")
        table = "\n".join(lines)
    with open(os.path.join(out_dir, "context.txt"), "w") as fh:
        fh.write(table + "\n")
    print(table)
    return doc


def make_token(salus, db_url, cwd):
    """An admin bearer token for the load (`salus token create`)."""
    out = subprocess.run([salus, "--db", db_url, "token", "create", "--role", "admin", "--name", "bench"],
                         capture_output=True, text=True, env=child_env(), cwd=cwd, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"salus token create failed: {out.stderr.strip()}")
    return out.stdout.strip()


def probe(url, token):
    """One request before the load: the status, body size and (for a Bundle) entry count."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        body = e.read()
        status = e.code
    except OSError as e:
        return {"status": None, "error": str(e)}
    out = {"status": status, "bytes": len(body)}
    try:
        doc = json.loads(body)
        if doc.get("resourceType") == "Bundle":
            out["entries"] = len(doc.get("entry") or [])
            if "total" in doc:
                out["total"] = doc["total"]
    except ValueError:
        pass
    return out


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.match(r"^([\d.]+)(us|ms|s|m|h)$", text.strip())
    if not m:
        return None
    return round(float(m.group(1)) * UNIT_MS[m.group(2)], 3)


def parse_wrk(text):
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["requests_per_s"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", text)
    if m:
        out["requests"] = int(m.group(1))
        out["transfer"] = m.group(3)
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+\w+)\s*$", text, re.M)
        out[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"^\s+Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)", text, re.M)
    if m:
        out["latency_avg_ms"], out["latency_stdev_ms"], out["latency_max_ms"] = (to_ms(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return out


def run_wrk(args, url, seconds, token, latency=True):
    assert url.startswith("http://127.0.0.1:"), url  # never anything but the local server
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "5s",
           "-H", f"Authorization: Bearer {token}"]
    if latency:
        cmd.append("--latency")
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    # The token is a secret: the recorded command line carries a placeholder.
    shown = [c if not c.startswith("Authorization:") else "Authorization: Bearer <token>" for c in cmd]
    return shown, out.stdout + out.stderr


def measure_endpoint(args, server, backend_name, name, path, token, failures):
    """Warm up, load-test one endpoint with wrk, and check what came back."""
    url = server.base + path
    check = probe(url, token)
    entry = {"endpoint": name, "path": path, "probe": check, "loadavg_1m_before": loadavg()}
    if check.get("status") != 200:
        failures.append(f"reads {backend_name} {name}: GET {path} answered {check}")
    if "?" in path and not check.get("entries"):
        failures.append(f"reads {backend_name} {name}: GET {path} found nothing to measure")
    if args.warmup > 0:
        run_wrk(args, url, args.warmup, token, latency=False)
    cmd, text = run_wrk(args, url, args.duration, token)
    parsed = parse_wrk(text)
    entry.update(parsed)
    entry["wrk"] = " ".join(cmd)
    entry["wrk_output"] = text
    entry["targets"] = {"requests_per_s": TARGETS["read_requests_per_s"], "p99_ms": TARGETS["read_p99_ms"]}
    entry["pass"] = {
        "requests_per_s": (parsed["requests_per_s"] or 0) >= TARGETS["read_requests_per_s"],
        "p99_ms": parsed["p99_ms"] is not None and parsed["p99_ms"] <= TARGETS["read_p99_ms"],
    }
    if parsed["requests_per_s"] is None:
        failures.append(f"reads {backend_name} {name}: could not parse wrk output: {text[-300:]}")
    if parsed["non_2xx"] or parsed["socket_errors"]:
        failures.append(f"reads {backend_name} {name}: {parsed['non_2xx']} non-2xx responses, "
                        f"{parsed['socket_errors']} socket errors")
    log(f"  {name}: {parsed['requests_per_s']} req/s, p50 {parsed['p50_ms']} ms, "
        f"p99 {parsed['p99_ms']} ms")
    return entry


def reads_benchmark(args, backend_name, db_url, patient, out_dir, failures):
    """Reads with authentication, authorization and an AuditEvent per request (as served), then
    the Patient read again on a server with audit writes off: the difference is what security
    costs."""
    obs_patient, obs_count = load_observations(args, db_url, out_dir, failures, backend_name)
    token = make_token(args.salus, db_url, out_dir)
    endpoints = [
        ("Patient read", f"/fhir/Patient/{patient}"),
        ("Encounter?patient&_count=10", f"/fhir/Encounter?patient={patient}&_count=10"),
    ]
    if obs_patient is not None:
        # The first page (50 entries by default) of a patient with hundreds of Observations.
        endpoints.insert(1, ("Observation?patient", f"/fhir/Observation?patient={obs_patient}"))
    log_path = os.path.join(out_dir, "logs", f"serve-{backend_name}.log")
    server = Server(args.salus, db_url, log_path, out_dir)
    results = []
    try:
        log(f"reads {backend_name}: server at {server.base}")
        for name, path in endpoints:
            results.append(measure_endpoint(args, server, backend_name, name, path, token, failures))
    finally:
        server.stop()
    rss = round(server.usage.ru_maxrss / 1024.0, 1) if server.usage else None
    cpu = round(server.usage.ru_utime + server.usage.ru_stime, 1) if server.usage else None

    # The same Patient read without audit writes (authentication and authorization still run),
    # alternating with fresh audited servers so that drift in the machine's speed over the run
    # falls on both sides: on (above), off, on, off; each side's figure is the mean of its runs.
    config = os.path.join(out_dir, "audit-off.toml")
    with open(config, "w") as fh:
        fh.write("[audit]\nwrite = false\n")
    on_runs, off_runs = [results[0]], []
    for round_no in range(2):
        if round_no > 0:
            again = Server(args.salus, db_url,
                           os.path.join(out_dir, "logs", f"serve-{backend_name}-audit-on-{round_no}.log"), out_dir)
            try:
                on_runs.append(measure_endpoint(args, again, backend_name, "Patient read, audited (again)",
                                                endpoints[0][1], token, failures))
            finally:
                again.stop()
        quiet = Server(args.salus, db_url,
                       os.path.join(out_dir, "logs", f"serve-{backend_name}-audit-off-{round_no}.log"),
                       out_dir, config=config)
        try:
            off_runs.append(measure_endpoint(args, quiet, backend_name, "Patient read, audit writes off",
                                             endpoints[0][1], token, failures))
        finally:
            quiet.stop()
    mean = lambda runs: statistics.mean(r.get("requests_per_s") or 0 for r in runs)
    on_rps, off_rps = round(mean(on_runs)), round(mean(off_runs))
    overhead = round(1 - on_rps / off_rps, 3) if off_rps else None
    security = {"with_audit_requests_per_s": on_rps, "audit_writes_off_requests_per_s": off_rps,
                "overhead": overhead, "target_overhead": TARGETS["security_overhead"],
                "pass": overhead is not None and overhead <= TARGETS["security_overhead"],
                "audited_runs": [r.get("requests_per_s") for r in on_runs],
                "audit_off_runs": [r.get("requests_per_s") for r in off_runs],
                "audit_off_endpoints": off_runs, "audited_again_endpoints": on_runs[1:]}
    log(f"  security overhead on Patient reads: {overhead}")
    return {"backend": backend_name, "server": server.base, "server_peak_rss_mb": rss,
            "server_cpu_s": cpu, "observation_patient": obs_patient,
            "observation_patient_observations": obs_count, "endpoints": results,
            "security": security}


# --------------------------------------------------------------------------- output


def verdict(ok):
    return "PASS" if ok else "MISS"


def print_table(ingest, reads):
    rows = [("benchmark", "figure", "measured", "target", "")]
    for name, res in ingest.get("backends", {}).items():
        if res.get("skipped"):
            rows.append((f"ingest {name}", "-", "skipped", "", res["reason"][:60]))
            continue
        m = res["median"]
        rows.append((f"ingest {name}", "resources/s", f"{m['resources_per_s']:,.0f}",
                     f">= {res['targets']['resources_per_s']:,}", verdict(res["pass"]["resources_per_s"])))
        rows.append((f"ingest {name}", "MB/s", f"{m['mb_per_s']:.1f}", "", ""))
        peak = max(r["peak_rss_mb"] for r in res["runs"])
        rows.append((f"ingest {name}", "peak RSS MB", f"{peak:.0f}",
                     f"<= {res['targets']['peak_rss_mb']}", verdict(res["pass"]["peak_rss_mb"])))
    for name, res in reads.get("backends", {}).items():
        if res.get("skipped"):
            rows.append((f"reads {name}", "-", "skipped", "", res["reason"][:60]))
            continue
        for e in res["endpoints"]:
            label = f"{name} {e['endpoint']}"
            rps = e.get("requests_per_s")
            rows.append((label, "req/s", f"{rps:,.0f}" if rps is not None else "?",
                         f">= {TARGETS['read_requests_per_s']:,}", verdict(e["pass"]["requests_per_s"])))
            rows.append((label, "p50 ms", f"{e['p50_ms']}" if e.get("p50_ms") is not None else "?", "", ""))
            rows.append((label, "p99 ms", f"{e['p99_ms']}" if e.get("p99_ms") is not None else "?",
                         f"<= {TARGETS['read_p99_ms']}", verdict(e["pass"]["p99_ms"])))
        sec = res.get("security")
        if sec:
            on = sec["with_audit_requests_per_s"]
            off = sec["audit_writes_off_requests_per_s"]
            rows.append((f"{name} Patient read, audited (mean)", "req/s", f"{on:,.0f}", "", ""))
            rows.append((f"{name} Patient read, audit off (mean)", "req/s", f"{off:,.0f}", "", ""))
            overhead = sec["overhead"]
            rows.append((f"{name} auth+audit cost", "% of reads/s",
                         f"{overhead * 100:.1f}" if overhead is not None else "?",
                         f"<= {TARGETS['security_overhead'] * 100:.0f}", verdict(sec["pass"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for i, r in enumerate(rows):
        line = "  ".join(c.ljust(w) if j in (0, 1, 4) else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths)))
        print(line.rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- free-text PHI


def phi_text_benchmark(out_dir):
    """Free-text PHI detection on the PhysioNet deid gold standard (salus-phi-text).

    Builds and runs `crates/phi-text/examples/physionet_eval.rs` in release (one core), writes
    OUT/phi_text.json (recall, precision per category and overall, MB/s) and OUT/phi_text.txt (a
    short table), and prints the table. Never fails the run: a build error or a missing fixture is
    recorded as skipped."""
    path = os.path.join(out_dir, "phi_text.json")
    targets = {"phi_text_mb_per_s": 5.0, "recall": 0.98, "precision": 0.85}
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    try:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "salus-phi-text", "--example", "physionet_eval"],
                       cwd=REPO, env=env, check=True, timeout=1800)
        exe = os.path.join(env["CARGO_TARGET_DIR"], "release", "examples", "physionet_eval")
        out = subprocess.run(["taskset", "-c", "0", exe] if shutil.which("taskset") else [exe],
                             cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=600)
        doc = json.loads(out.stdout)
    except (subprocess.SubprocessError, OSError, ValueError) as e:
        doc = {"skipped": True, "reason": f"phi-text evaluation did not run: {e}"}
    doc["targets"] = targets
    if not doc.get("skipped"):
        doc["pass"] = {k: doc.get(k, 0) >= v for k, v in targets.items()}
    write_json(path, doc)
    if doc.get("skipped"):
        table = f"free-text PHI: skipped ({doc['reason']})"
    else:
        rows = [("figure", "value", "target", "")]
        for k, v in targets.items():
            rows.append((k, f"{doc[k]:.3f}" if k != "phi_text_mb_per_s" else f"{doc[k]:.2f}", f">= {v}",
                         "ok" if doc["pass"][k] else "MISS"))
        rows.append(("recall_safe_harbor", f"{doc['recall_safe_harbor']:.3f}", "", ""))
        for c, t in doc.get("recall_by_gold_category", {}).items():
            rows.append((f"recall {c}", f"{t['recall']:.3f}", f"{t['found']}/{t['gold']}", ""))
        for c, t in doc.get("precision_by_detected_category", {}).items():
            rows.append((f"precision {c}", f"{t['precision']:.3f}", f"{t['correct']}/{t['detected']}", ""))
        table = "free-text PHI (PhysioNet deid gold, patients 1-130, one core)\n" + "\n".join(
            f"  {a:<28} {b:>8} {c:>12} {d}" for a, b, c, d in rows)
    with open(os.path.join(out_dir, "phi_text.txt"), "w") as fh:
        fh.write(table + "\n")
    print(table)
    return doc


# --------------------------------------------------------------------------- de-identification


def deid_benchmark(out_dir, salus, src):
    """`salus deid --policy safe-harbor` over the Synthea bulk export, on one core (taskset), best
    of three: reading, parsing, de-identifying (free text of notes and attachments included) and
    writing. Writes OUT/deid.json and OUT/deid.txt. Never fails the run."""
    path = os.path.join(out_dir, "deid.json")
    target = 50000
    files = [os.path.join(src, f) for f in source_files(src)] if os.path.isdir(src) else []
    if not files or not os.path.exists(salus):
        doc = {"skipped": True, "reason": "the Synthea bulk export or the release binary is absent"}
    else:
        resources = 0
        for f in files:
            with open(f) as fh:
                resources += sum(1 for line in fh if line.strip())
        runs = []
        work = os.path.join(out_dir, "deid-out")
        for _ in range(3):
            shutil.rmtree(work, ignore_errors=True)
            cmd = [salus, "deid", "--policy", "safe-harbor", "--out", work,
                   "--report", os.path.join(out_dir, "deid-report.json")] + files
            if shutil.which("taskset"):
                cmd = ["taskset", "-c", "0"] + cmd
            env = dict(os.environ, SALUS_DEID_SECRET="benchmark", SALUS_LOG="warn")
            start = time.monotonic()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            elapsed = time.monotonic() - start
            if done.returncode != 0:
                doc = {"skipped": True, "reason": f"salus deid exited {done.returncode}: {done.stderr[-300:]}"}
                break
            runs.append(elapsed)
        else:
            best = min(runs)
            with open(os.path.join(out_dir, "deid-report.json")) as fh:
                report = json.load(fh)
            doc = {
                "policy": "safe-harbor",
                "resources": resources,
                "seconds_best_of_3": round(best, 3),
                "deid_resources_per_s": round(resources / best),
                "input_bytes": sum(os.path.getsize(f) for f in files),
                "free_text_spans": sum(report.get("free_text", {}).values()),
                "target_resources_per_s": target,
                "pass": resources / best >= target,
            }
        shutil.rmtree(work, ignore_errors=True)
    write_json(path, doc)
    if doc.get("skipped"):
        table = f"de-identification: skipped ({doc['reason']})"
    else:
        table = (f"de-identification (safe-harbor, one core, {doc['resources']} resources, "
                 f"{doc['input_bytes'] / 1e6:.1f} MB)\n"
                 f"  {'deid_resources_per_s':<28} {doc['deid_resources_per_s']:>8} {'>= ' + str(target):>12} "
                 f"{'ok' if doc['pass'] else 'MISS'}")
    with open(os.path.join(out_dir, "deid.txt"), "w") as fh:
        fh.write(table + "\n")
    print(table)
    return doc


# --------------------------------------------------------------------------- HL7 v2


HL7V2_SAMPLES = os.path.join(REPO, "..", "shared", "fixtures", "external", "hl7v2",
                             "microsoft-fhir-converter", "input")


def hl7v2_benchmark(out_dir, salus, seconds=10, connections=8):
    """HL7 v2 on the ADT and ORU samples of Microsoft's FHIR-Converter (real public messages of
    about 6 KB and 17 resources each):

    - parse + map on one core (taskset), `crates/hl7v2-fhir/examples/map_speed.rs` with MODE=map
      (target 20,000 messages/s), and parse + map + serialise for reference;
    - end to end over MLLP into a fresh SQLite database: `salus serve --mllp`, and
      `crates/server/examples/mllp_load.rs` with 8 senders, each waiting for its ACK (sent after
      commit) before the next message; every message's identifiers are made unique so that each
      creates resources (target 3,000 messages/s).

    Writes OUT/hl7v2.json and OUT/hl7v2.txt. Never fails the run."""
    path = os.path.join(out_dir, "hl7v2.json")
    targets = {"parse_map_messages_per_s": 20000, "mllp_messages_per_s": 3000}
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    doc = {"targets": targets, "samples": os.path.relpath(HL7V2_SAMPLES, REPO)}
    samples = sorted(f for f in os.listdir(HL7V2_SAMPLES)
                     if f.endswith(".hl7") and (f.startswith("ADT") or "ORU" in f or f.startswith("LRI"))) \
        if os.path.isdir(HL7V2_SAMPLES) else []
    if not samples or not os.path.exists(salus):
        doc.update(skipped=True, reason="the HL7 v2 samples or the release binary are absent")
    else:
        try:
            for pkg, ex in (("salus-hl7v2-fhir", "map_speed"), ("salus-server", "mllp_load")):
                subprocess.run(["cargo", "build", "--release", "-q", "-p", pkg, "--example", ex],
                               cwd=REPO, env=env, check=True, timeout=1800)
            examples = os.path.join(env["CARGO_TARGET_DIR"], "release", "examples")
            pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
            doc["samples_count"] = len(samples)
            for mode, key in (("map", "parse_map"), ("", "parse_map_serialise")):
                out = subprocess.run(pin + [os.path.join(examples, "map_speed"), HL7V2_SAMPLES],
                                     env=dict(env, MODE=mode), capture_output=True, text=True,
                                     check=True, timeout=600).stdout
                m = re.search(r"([\d.]+) messages/s, ([\d.]+) resources/s", out)
                doc[f"{key}_messages_per_s"] = float(m.group(1))
                doc[f"{key}_resources_per_s"] = float(m.group(2))
            work = os.path.join(out_dir, "db", "hl7v2")
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            db_url = "sqlite://" + os.path.join(work, "hl7v2.db")
            subprocess.run([salus, "--db", db_url, "migrate"], env=child_env(), check=True,
                           capture_output=True, timeout=120)
            server = Server(salus, db_url, os.path.join(out_dir, "logs", "hl7v2-serve.log"), work,
                            extra_args=("--mllp", "127.0.0.1:0"))
            try:
                load = subprocess.run([os.path.join(examples, "mllp_load"), server.mllp,
                                       str(connections), str(seconds)]
                                      + [os.path.join(HL7V2_SAMPLES, f) for f in samples],
                                      capture_output=True, text=True, check=True,
                                      timeout=seconds + 120).stdout
                doc["mllp"] = json.loads(load)
                # For scale: the project's own small ADT A01 + ORU R01 pair (about 6 resources a
                # message against the samples' 17), the size of an everyday feed's messages.
                small = [os.path.join(REPO, "fixtures", "hl7v2", f) for f in ("adt_a01.hl7", "oru_r01.hl7")]
                load = subprocess.run([os.path.join(examples, "mllp_load"), server.mllp,
                                       str(connections), str(seconds)] + small,
                                      capture_output=True, text=True, check=True,
                                      timeout=seconds + 120).stdout
                doc["mllp_small_messages"] = json.loads(load)
            finally:
                server.stop()
            doc["mllp_messages_per_s"] = doc["mllp"]["messages_per_s"]
            doc["pass"] = {
                "parse_map_messages_per_s": doc["parse_map_messages_per_s"] >= targets["parse_map_messages_per_s"],
                "mllp_messages_per_s": doc["mllp_messages_per_s"] >= targets["mllp_messages_per_s"]
                and set(doc["mllp"]["ack_codes"]) == {"AA"},
            }
        except (subprocess.SubprocessError, OSError, ValueError, RuntimeError, AttributeError) as e:
            doc.update(skipped=True, reason=f"the HL7 v2 benchmark did not run: {e}")
    write_json(path, doc)
    if doc.get("skipped"):
        table = f"HL7 v2: skipped ({doc['reason']})"
    else:
        mllp = doc["mllp"]
        rows = [
            ("parse+map, one core (msg/s)", f"{doc['parse_map_messages_per_s']:.0f}", ">= 20000",
             "ok" if doc["pass"]["parse_map_messages_per_s"] else "MISS"),
            ("  resources/s", f"{doc['parse_map_resources_per_s']:.0f}", "", ""),
            ("parse+map+serialise (msg/s)", f"{doc['parse_map_serialise_messages_per_s']:.0f}", "", ""),
            (f"MLLP, {mllp['connections']} senders, SQLite (msg/s)", f"{mllp['messages_per_s']:.0f}",
             ">= 3000", "ok" if doc["pass"]["mllp_messages_per_s"] else "MISS"),
            ("  ACK latency p50 / p99 (ms)", f"{mllp['ack_latency_ms']['p50']:.1f} / "
             f"{mllp['ack_latency_ms']['p99']:.1f}", "", ""),
            ("  ACK codes", ", ".join(f"{k} {v}" for k, v in mllp["ack_codes"].items()), "", ""),
            ("MLLP, fixtures/hl7v2 ADT+ORU (msg/s)", f"{doc['mllp_small_messages']['messages_per_s']:.0f}",
             "", "(for scale)"),
        ]
        table = (f"HL7 v2 ({doc['samples_count']} ADT/ORU samples of Microsoft's FHIR-Converter)\n"
                 + "\n".join(f"  {a:<36} {b:>14} {c:>10} {d}" for a, b, c, d in rows))
    with open(os.path.join(out_dir, "hl7v2.txt"), "w") as fh:
        fh.write(table + "\n")
    print(table)
    return doc

CCDA_SAMPLES = os.path.join(REPO, "..", "shared", "fixtures", "external", "ccda")
CCDA_ID_RE = re.compile(r"<id\b([^>]*?)/>")


def ccda_variant(text, k):
    """Copy k of a document: every `<id/>` made unique (an extension suffixed `-k`, or one added
    to a root-only id), so that each copy is another patient's document whose every entry
    creates resources, rather than a re-ingest that finds everything unchanged."""
    def fix(m):
        attrs = m.group(1)
        if "nullFlavor" in attrs:
            return m.group(0)
        if "extension=" in attrs:
            attrs = re.sub(r'extension="([^"]*)"', lambda e: f'extension="{e.group(1)}-{k}"', attrs, count=1)
        else:
            attrs = attrs + f' extension="bench-{k}"'
        return f"<id{attrs}/>"
    return CCDA_ID_RE.sub(fix, text)


def ccda_benchmark(out_dir, salus, copies=20, repeats=3):
    """C-CDA: the 16 shared sample documents (Microsoft's FHIR-Converter inputs and HL7's full
    CCD), `copies` unique copies each (see ccda_variant), ingested with `salus ingest --format
    ccda DIR` into a fresh SQLite database: parse, map, validate and store, wall time and peak
    RSS of the process (wait4), median of `repeats` runs. Target 300 documents/s.

    Writes OUT/ccda.json and OUT/ccda.txt. Never fails the run."""
    path = os.path.join(out_dir, "ccda.json")
    targets = {"documents_per_s": 300}
    doc = {"targets": targets, "samples": os.path.relpath(CCDA_SAMPLES, REPO), "copies": copies}
    sources = []
    for sub in ("microsoft-fhir-converter/input", "hl7-ccda-examples"):
        d = os.path.join(CCDA_SAMPLES, sub)
        if os.path.isdir(d):
            sources += [os.path.join(d, f) for f in sorted(os.listdir(d))
                        if f.endswith((".ccda", ".xml")) and os.path.isfile(os.path.join(d, f))]
    if not sources or not os.path.exists(salus):
        doc.update(skipped=True, reason="the C-CDA samples or the release binary are absent")
    else:
        try:
            data = os.path.join(out_dir, "data-ccda")
            shutil.rmtree(data, ignore_errors=True)
            os.makedirs(data)
            total_bytes = 0
            for src in sources:
                with open(src, encoding="utf-8-sig") as fh:
                    text = fh.read()
                stem = os.path.splitext(os.path.basename(src))[0]
                for k in range(copies):
                    out = os.path.join(data, f"{stem}-{k}.xml")
                    with open(out, "w", encoding="utf-8") as fh:
                        fh.write(ccda_variant(text, k))
                    total_bytes += os.path.getsize(out)
            documents = len(sources) * copies
            doc.update(documents=documents, megabytes=round(total_bytes / 1e6, 1))
            runs = []
            for r in range(repeats):
                work = os.path.join(out_dir, "db", f"ccda-{r}")
                shutil.rmtree(work, ignore_errors=True)
                os.makedirs(work)
                db_url = "sqlite://" + os.path.join(work, "ccda.db")
                subprocess.run([salus, "--db", db_url, "migrate"], env=child_env(), check=True,
                               capture_output=True, timeout=120)
                log_path = os.path.join(out_dir, "logs", f"ccda-ingest-{r}.log")
                code, stdout, wall, rss = timed_salus(
                    salus, ["--db", db_url, "ingest", "--json", "--format", "ccda", data], work,
                    log_path)
                report = json.loads(stdout)
                created = sum(c.get("created", 0) for c in report["resources"].values())
                runs.append({"wall_s": round(wall, 3), "documents_per_s": round(documents / wall, 1),
                             "resources_created": created,
                             "resources_per_s": round(created / wall, 1),
                             "rejected": len(report["rejected"]),
                             "exit": code, "peak_rss_mb": rss})
                shutil.rmtree(work, ignore_errors=True)
            doc["runs"] = runs
            best = sorted(runs, key=lambda r: r["documents_per_s"])[len(runs) // 2]
            doc.update(documents_per_s=best["documents_per_s"], resources_per_s=best["resources_per_s"],
                       peak_rss_mb=max(r["peak_rss_mb"] for r in runs),
                       rejected_entries=best["rejected"])
            doc["pass"] = {"documents_per_s": doc["documents_per_s"] >= targets["documents_per_s"]}
        except (subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
            doc.update(skipped=True, reason=f"the C-CDA benchmark did not run: {e}")
    write_json(path, doc)
    if doc.get("skipped"):
        table = f"C-CDA: skipped ({doc['reason']})"
    else:
        rows = [
            ("parse+map+store, SQLite (docs/s)", f"{doc['documents_per_s']:.0f}", ">= 300",
             "ok" if doc["pass"]["documents_per_s"] else "MISS"),
            ("  resources/s", f"{doc['resources_per_s']:.0f}", "", ""),
            ("  peak RSS (MB)", f"{doc['peak_rss_mb']:.0f}", "", ""),
            ("  entries rejected per run", f"{doc['rejected_entries']}", "", ""),
        ]
        table = (f"C-CDA ({doc['documents']} documents, {doc['megabytes']} MB: {len(sources)} samples x "
                 f"{copies} copies, median of {repeats})\n"
                 + "\n".join(f"  {a:<36} {b:>14} {c:>10} {d}" for a, b, c, d in rows))
    with open(os.path.join(out_dir, "ccda.txt"), "w") as fh:
        fh.write(table + "\n")
    print(table)
    return doc


SDOH_DIR = os.path.join(REPO, "..", "shared", "fixtures", "external", "sdoh")


def timed_salus(salus, args, cwd, log_path):
    """Run salus with args; (exit code, stdout, wall seconds, peak RSS MB)."""
    code, stdout, wall, usage = timed_run([salus] + args, cwd, log_path)
    return code, stdout, wall, round(usage.ru_maxrss / 1024.0, 1)


def sdoh_csv_benchmark(out_dir, salus, rows=200000, patients=10000, repeats=3):
    """CSV and SDoH:

    - CSV: `rows` observation rows in the Synthea CSV layout (the rows of
      fixtures/csv/synthea/observations.csv, each copy with another patient and time, so every
      row creates a resource), `salus ingest` into a fresh SQLite database: rows/s mapped,
      validated and stored, median of `repeats` (target 100,000 rows/s).
    - SVI linking: `patients` Patients whose addresses carry ZIP codes of the shared HUD-USPS
      crosswalk, in a database with the shared SVI 2020 county table and crosswalk loaded;
      `salus sdoh link` wall time, median of `repeats` on fresh databases (the first link
      creates 5 Observations a patient), and a re-link (everything unchanged). Target ≤ 1 s.

    Writes OUT/sdoh_csv.json and OUT/sdoh_csv.txt. Never fails the run."""
    path = os.path.join(out_dir, "sdoh_csv.json")
    targets = {"csv_rows_per_s": 100000, "link_10000_patients_s": 1.0}
    doc = {"targets": targets}
    fixture = os.path.join(REPO, "fixtures", "csv", "synthea", "observations.csv")
    svi = os.path.join(SDOH_DIR, "svi", "SVI2020_US_COUNTY.csv")
    crosswalk = os.path.join(SDOH_DIR, "hud-usps-crosswalk", "ZIP_COUNTY_032023_MA_KS.csv")
    if not os.path.exists(salus):
        doc.update(skipped=True, reason="the release binary is absent")
        write_json(path, doc)
        return doc
    try:
        data = os.path.join(out_dir, "data-csv")
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        with open(fixture) as fh:
            header, *body = fh.read().splitlines()
        cols = header.split(",")
        at_date, at_patient = cols.index("DATE"), cols.index("PATIENT")
        base = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
        with open(os.path.join(data, "observations.csv"), "w") as out:
            out.write(header + "\n")
            for i in range(rows):
                fields = body[i % len(body)].split(",")
                fields[at_patient] = f"bench-patient-{i % 5000:05d}"
                fields[at_date] = (base + datetime.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
                out.write(",".join(fields) + "\n")
        doc["csv_rows"] = rows
        runs = []
        for r in range(repeats):
            work = os.path.join(out_dir, "db", f"csv-{r}")
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            db = "sqlite://" + os.path.join(work, "csv.db")
            subprocess.run([salus, "--db", db, "migrate"], env=child_env(), check=True,
                           capture_output=True, timeout=120)
            code, out, wall, rss = timed_salus(salus, ["--db", db, "ingest", "--json", data], work,
                                               os.path.join(out_dir, "logs", f"csv-{r}.log"))
            report = json.loads(out)
            created = sum(c.get("created", 0) for c in report["resources"].values())
            runs.append({"wall_s": round(wall, 3), "rows_per_s": round(rows / wall, 1),
                         "created": created, "rejected": len(report["rejected"]),
                         "peak_rss_mb": rss})
            shutil.rmtree(work, ignore_errors=True)
        doc["csv_runs"] = runs
        mid = sorted(runs, key=lambda r: r["rows_per_s"])[len(runs) // 2]
        doc["csv_rows_per_s"] = mid["rows_per_s"]
        doc["csv_peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        if os.path.exists(svi) and os.path.exists(crosswalk):
            zips = []
            with open(crosswalk) as fh:
                next(fh)
                zips = sorted({line.split(",")[0] for line in fh})
            pats = os.path.join(out_dir, "data-patients.ndjson")
            with open(pats, "w") as out:
                for i in range(patients):
                    out.write(json.dumps({
                        "resourceType": "Patient", "id": f"bench-link-{i:05d}",
                        "name": [{"family": "Bench", "given": ["P"]}],
                        "address": [{"use": "home", "line": ["1 Main St"], "city": "X",
                                     "state": "KS", "postalCode": zips[i % len(zips)]}]}) + "\n")
            link_runs = []
            for r in range(repeats):
                work = os.path.join(out_dir, "db", f"link-{r}")
                shutil.rmtree(work, ignore_errors=True)
                os.makedirs(work)
                db = "sqlite://" + os.path.join(work, "link.db")
                for args in (["migrate"], ["ingest", "--format", "svi", svi],
                             ["ingest", "--format", "zip-county", crosswalk], ["ingest", pats]):
                    subprocess.run([salus, "--db", db] + args, env=child_env(), check=True,
                                   capture_output=True, timeout=600)
                logs = os.path.join(out_dir, "logs")
                code, out, wall, rss = timed_salus(salus, ["--db", db, "sdoh", "link", "--json"],
                                                   work, os.path.join(logs, f"link-{r}.log"))
                first = json.loads(out)
                code, out, again_wall, _ = timed_salus(salus, ["--db", db, "sdoh", "link", "--json"],
                                                       work, os.path.join(logs, f"relink-{r}.log"))
                again = json.loads(out)
                link_runs.append({"wall_s": round(wall, 3), "linked": first["linked"],
                                  "unmatched": len(first["unmatched"]),
                                  "created": first["resources"].get("Observation", {}).get("created", 0),
                                  "relink_wall_s": round(again_wall, 3),
                                  "relink_unchanged": again["resources"].get("Observation", {}).get("unchanged", 0),
                                  "peak_rss_mb": rss})
                shutil.rmtree(work, ignore_errors=True)
            doc["link_runs"] = link_runs
            doc["link_patients"] = patients
            doc["link_10000_patients_s"] = sorted(r["wall_s"] for r in link_runs)[len(link_runs) // 2]
            doc["relink_10000_patients_s"] = sorted(r["relink_wall_s"] for r in link_runs)[len(link_runs) // 2]
        doc["pass"] = {
            "csv_rows_per_s": doc["csv_rows_per_s"] >= targets["csv_rows_per_s"],
            "link_10000_patients_s": doc.get("link_10000_patients_s", 1e9) <= targets["link_10000_patients_s"],
        }
    except (subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
        doc.update(skipped=True, reason=f"the CSV/SDoH benchmark did not run: {e}")
    write_json(path, doc)
    if doc.get("skipped"):
        table = f"CSV/SDoH: skipped ({doc['reason']})"
    else:
        rows_t = [
            (f"CSV, {doc['csv_rows']} rows, SQLite (rows/s)", f"{doc['csv_rows_per_s']:.0f}", ">= 100000",
             "ok" if doc["pass"]["csv_rows_per_s"] else "MISS"),
            ("  peak RSS (MB)", f"{doc['csv_peak_rss_mb']:.0f}", "", ""),
        ]
        if "link_10000_patients_s" in doc:
            rows_t += [
                (f"SVI link, {doc['link_patients']} patients (s)", f"{doc['link_10000_patients_s']:.2f}",
                 "<= 1", "ok" if doc["pass"]["link_10000_patients_s"] else "MISS"),
                ("  re-link, all unchanged (s)", f"{doc['relink_10000_patients_s']:.2f}", "", ""),
            ]
        table = "CSV and SDoH (median of 3)\n" + "\n".join(
            f"  {a:<36} {b:>14} {c:>10} {d}" for a, b, c, d in rows_t)
    with open(os.path.join(out_dir, "sdoh_csv.txt"), "w") as fh:
        fh.write(table + "\n")
    print(table)
    return doc


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--salus", default=os.path.join(REPO, "target", "release", "salus"))
    p.add_argument("--out", default=os.path.join(REPO, "target", "bench"))
    p.add_argument("--fixtures", default=FIXTURES, help="the Synthea bulk export directory")
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds of load per read endpoint")
    p.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/test",
                   help="PostgreSQL to benchmark on (a fresh schema per run); 'none' to skip")
    p.add_argument("--no-reads", action="store_true", help="ingest benchmark only")
    p.add_argument("--strict", action="store_true", help="exit 3 when a figure misses its target")
    p.add_argument("--context-only", action="store_true", help="only the $llm-context benchmark")
    p.add_argument("--hl7v2-only", action="store_true", help="only the HL7 v2 benchmark")
    p.add_argument("--ccda-only", action="store_true", help="only the C-CDA benchmark")
    p.add_argument("--sdoh-only", action="store_true", help="only the CSV and SDoH benchmark")
    p.add_argument("--ingest-reads-only", action="store_true",
                   help="only the bulk ingest and read benchmarks (skip free text, de-identification, context, HL7 v2, C-CDA, CSV/SDoH)")
    args = p.parse_args()
    if args.copies < 1 or args.repeats < 1 or args.duration < 1:
        p.error("--copies, --repeats and --duration must be at least 1")

    out_dir = os.path.abspath(args.out)
    # Logs and databases of an earlier run would be mistaken for this one's; the data set is kept.
    for sub in ("logs", "db"):
        shutil.rmtree(os.path.join(out_dir, sub), ignore_errors=True)
        os.makedirs(os.path.join(out_dir, sub))
    args.salus = os.path.abspath(args.salus)
    meta = {
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "mem_total_mb": mem_total_mb(),
        "loadavg_1m_at_start": loadavg(),
        "salus": os.path.relpath(args.salus, REPO) if args.salus.startswith(REPO) else args.salus,
        "targets": TARGETS,
    }
    ingest_path = os.path.join(out_dir, "ingest.json")
    reads_path = os.path.join(out_dir, "reads.json")
    if args.context_only:
        context_benchmark(out_dir, args.salus, os.path.abspath(args.fixtures))
        return 0
    if args.hl7v2_only:
        hl7v2_benchmark(out_dir, args.salus)
        return 0
    if args.ccda_only:
        ccda_benchmark(out_dir, args.salus)
        return 0
    if args.sdoh_only:
        sdoh_csv_benchmark(out_dir, args.salus)
        return 0
    if not args.ingest_reads_only:
        phi_text_benchmark(out_dir)
        deid_benchmark(out_dir, os.path.abspath(args.salus), os.path.abspath(args.fixtures))
        context_benchmark(out_dir, args.salus, os.path.abspath(args.fixtures))
        hl7v2_benchmark(out_dir, args.salus)
        ccda_benchmark(out_dir, args.salus)
        sdoh_csv_benchmark(out_dir, args.salus)

    src = os.path.abspath(args.fixtures)
    if not os.path.isdir(src) or not source_files(src):
        reason = f"the Synthea bulk export is not present at {os.path.normpath(src)}: nothing to benchmark"
        print(f"bench skipped: {reason}")
        for path in (ingest_path, reads_path):
            write_json(path, {**meta, "skipped": True, "reason": reason})
        return 0
    if not os.access(args.salus, os.X_OK):
        print(f"error: {args.salus} is not an executable (build it: cargo build --release -p salus)",
              file=sys.stderr)
        return 1

    failures = []
    data = build_dataset(src, os.path.join(out_dir, "data"), args.copies)
    data["data_dir"] = os.path.join(out_dir, "data")
    patient, patient_encounters = pick_patient(src)
    dataset = {k: v for k, v in data.items() if k not in ("fingerprint", "data_dir")}
    dataset["data_dir"] = os.path.relpath(data["data_dir"], REPO)

    backends = [Backend("sqlite", os.path.join(out_dir, "db"))]
    pg_skip = "--postgres none" if args.postgres == "none" else postgres_check(args.postgres)
    if pg_skip is None:
        backends.append(Backend("postgres", None, args.postgres))
    else:
        log(f"postgres skipped: {pg_skip}")

    ingest = {**meta, "dataset": dataset, "repeats": args.repeats, "backends": {}}
    reads = {**meta, "patient": patient, "patient_encounters_in_copy0": patient_encounters,
             "connections": args.connections, "threads": args.threads, "duration_s": args.duration,
             "warmup_s": args.warmup, "backends": {}}
    wrk_skip = None if not args.no_reads else "--no-reads"
    try:
        for backend in backends:
            try:
                ingest["backends"][backend.name] = ingest_benchmark(args, backend, data, out_dir, failures)
                write_json(ingest_path, ingest)
                if wrk_skip is None:
                    wrk_skip = ensure_wrk()
                if wrk_skip is not None:
                    reads["backends"][backend.name] = {"skipped": True, "reason": wrk_skip}
                elif patient is None:
                    reads["backends"][backend.name] = {"skipped": True, "reason": "no Patient in the data set"}
                else:
                    db_url = backend.url_of(backend.live[-1])  # the last ingest run's database
                    try:
                        reads["backends"][backend.name] = reads_benchmark(
                            args, backend.name, db_url, patient, out_dir, failures)
                    except RuntimeError as e:
                        failures.append(f"reads {backend.name}: {e}")
                        reads["backends"][backend.name] = {"skipped": True, "reason": str(e)}
                write_json(reads_path, reads)
            finally:
                # The SQLite file of the last run is kept (OUT/db/) for poking at; schemas are not.
                backend.discard(keep_last=backend.name == "sqlite")
        if pg_skip is not None:
            ingest["backends"]["postgres"] = {"skipped": True, "reason": pg_skip}
            reads["backends"]["postgres"] = {"skipped": True, "reason": pg_skip}
    finally:
        ingest["failures"] = [f for f in failures if f.startswith("ingest")]
        reads["failures"] = [f for f in failures if f.startswith("reads")]
        write_json(ingest_path, ingest)
        write_json(reads_path, reads)

    print()
    print(f"salus {meta['commit'] or '?'}  {meta['date']}  nproc {meta['nproc']}  "
          f"{data['resources']:,} resources ({data['bytes'] / 1e6:.0f} MB, {args.copies} copies), "
          f"median of {args.repeats} ingest runs; reads: wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s on the same machine; load average at start {meta['loadavg_1m_at_start']}")
    print_table(ingest, reads)
    show = lambda path: os.path.relpath(path, REPO) if path.startswith(REPO + os.sep) else path
    print(f"\nresults: {show(ingest_path)}, {show(reads_path)}")
    if failures:
        print("\nFAILED checks:")
        for f in failures:
            print(f"  {f}")
        return 1
    misses = [r for r in ingest["backends"].values() if not r.get("skipped") and not all(r["pass"].values())]
    misses += [e for r in reads["backends"].values() if not r.get("skipped")
               for e in r["endpoints"] if not all(e["pass"].values())]
    misses += [r["security"] for r in reads["backends"].values()
               if r.get("security") and not r["security"]["pass"]]
    if args.strict and misses:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
