#!/usr/bin/env python3
"""A batchkit worker in plain Python (standard library only).

It pulls jobs of one type from a batchkit service's HTTP API, runs them, and reports each outcome:

    POST {url}api/workers/{job_type}/poll     {"max", "leaseSeconds", "waitSeconds"}
    POST {url}api/leases/{token}/complete     {"result"}
    POST {url}api/leases/{token}/fail         {"error", "retryable"}
    POST {url}api/leases/{token}/release      (gives the job back unstarted)
    POST {url}api/leases/{token}/extend       {"seconds"}

A job's lease runs out unless the worker reports or extends it in time; the job then goes back to
the queue, and this worker's late report is refused (HTTP 409), so it drops the job. Start as many
workers as you like: the batch's limit holds across all of them. Ctrl-C gives the jobs it holds
back. Set BATCHKIT_TOKEN when the server has an authToken.

    python3 worker.py --url http://127.0.0.1:8089/ --job-type summarize
"""

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class LeaseLost(Exception):
    """The lease ran out and the job was given back (or was already reported): drop the job."""


class Refused(Exception):
    """The server refused the request itself (HTTP 4xx): retrying the same request cannot help."""

    def __init__(self, status, message):
        super().__init__("HTTP " + str(status) + ": " + message)
        self.status = status


# what a call may raise when the server is down, restarting or answers garbage: worth a retry
TRANSIENT = (OSError, http.client.HTTPException, ValueError)


class Batchkit:
    """The few HTTP calls a worker needs."""

    def __init__(self, url, token=None, timeout=90):
        self.url = url if url.endswith("/") else url + "/"
        self.token = token
        self.timeout = timeout  # longer than any waitSeconds, so a long poll is never cut short
        host = urllib.parse.urlsplit(self.url).hostname or ""
        # a proxy set in the environment is used for remote servers, never for this machine
        handlers = [urllib.request.ProxyHandler({})] if host in ("localhost", "127.0.0.1", "::1") else []
        self.opener = urllib.request.build_opener(*handlers)

    def _post(self, path, body):
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            try:
                error = json.loads(e.read().decode("utf-8"))
                message = str(error.get("error", e.reason)) if isinstance(error, dict) else str(e.reason)
            except ValueError:
                message = str(e.reason)
            if e.code == 409:
                raise LeaseLost(message) from None
            if 400 <= e.code < 500:
                raise Refused(e.code, message) from None
            raise  # 5xx: the server's trouble, worth another try
        if not isinstance(answer, dict):
            raise ValueError("the server's answer is not a JSON object")
        return answer

    def poll(self, job_type, max_jobs, lease_seconds, wait_seconds):
        path = "api/workers/" + urllib.parse.quote(job_type, safe="") + "/poll"
        body = {"max": max_jobs, "leaseSeconds": lease_seconds, "waitSeconds": wait_seconds}
        jobs = self._post(path, body).get("jobs")
        if not isinstance(jobs, list) or not all(isinstance(j, dict) and "token" in j for j in jobs):
            raise ValueError("the server's answer to a poll has no list of jobs")
        return jobs

    def _report(self, path, body):
        """A report, sent again while the server is unreachable: a report renews the lease for a
        minute before it is recorded, so a report cut off on the way can still be made again."""
        for pause in (1, 2, 4, 8, 0):
            try:
                return self._post(path, body)
            except TRANSIENT:
                if not pause:
                    raise
                time.sleep(pause)

    def complete(self, token, result):
        self._report("api/leases/" + token + "/complete", {"result": result})

    def fail(self, token, error, retryable=True):
        self._report("api/leases/" + token + "/fail", {"error": error, "retryable": retryable})

    def release(self, token):
        self._post("api/leases/" + token + "/release", {})

    def extend(self, token, seconds):
        """Returns "HELD", or "CANCELLED" when the batch was cancelled and the work should stop."""
        return self._post("api/leases/" + token + "/extend", {"seconds": seconds}).get("state")


def summarize(payload):
    """The work: here, a pretend summary. Replace it with yours."""
    words = payload.split()
    return " ".join(words[:4]).upper() + " (" + str(len(words)) + " words)"


def run_job(api, job, leased_at, lease_seconds, work_seconds):
    """Runs one job, extending its lease while the work lasts; reports how it ended."""
    token = job["token"]
    extended_at = leased_at
    done_at = time.monotonic() + work_seconds
    while time.monotonic() < done_at:  # long work, in steps, with the lease kept alive
        time.sleep(min(0.25, max(0.0, done_at - time.monotonic())))
        if time.monotonic() - extended_at > lease_seconds / 3:
            try:
                if api.extend(token, lease_seconds) == "CANCELLED":
                    api.fail(token, "stopped: the batch was cancelled", retryable=False)
                    return "cancelled"
                extended_at = time.monotonic()
            except TRANSIENT as e:  # keep working: the next try may get through in time
                print("could not extend job " + job["id"] + ": " + str(e), file=sys.stderr)
    try:
        result = summarize(job["payload"])
    except Exception as e:  # the job's own failure: batchkit retries it if attempts are left
        api.fail(token, type(e).__name__ + ": " + str(e), retryable=True)
        return "failed"
    try:
        api.complete(token, result)
    except Refused as e:  # the result itself was refused (say, over the size limit): no retry helps
        api.fail(token, "result refused: " + str(e), retryable=False)
        return "failed"
    return "succeeded"


def release_all(api, jobs):
    """Gives jobs this worker holds back to the queue, unstarted, as it stops."""
    for job in jobs:
        try:
            api.release(job["token"])
        except (LeaseLost, Refused) + TRANSIENT:
            pass  # its lease runs out instead


def main(argv=None):
    parser = argparse.ArgumentParser(description="A batchkit worker in plain Python.")
    parser.add_argument("--url", default="http://127.0.0.1:8089/", help="the batchkit server")
    parser.add_argument("--job-type", default="summarize", help="the job type to run")
    parser.add_argument(
        "--max", type=int, default=1,
        help="jobs to lease per poll; each lease runs from the poll, so keep max x work under it")
    parser.add_argument("--lease", type=int, default=30, help="lease in seconds")
    parser.add_argument("--work-seconds", type=float, default=0.0, help="pretend work per job")
    parser.add_argument(
        "--idle-exit", type=float, default=0.0,
        help="exit after this many seconds without work (default: run until stopped)")
    args = parser.parse_args(argv)
    api = Batchkit(args.url, os.environ.get("BATCHKIT_TOKEN"))
    counts = {"succeeded": 0, "failed": 0, "cancelled": 0, "lost": 0}
    wait = 20 if not args.idle_exit else max(1, min(20, int(args.idle_exit)))
    idle_since = time.monotonic()
    held = []
    try:
        while True:
            asked = time.monotonic()
            try:
                held = api.poll(args.job_type, args.max, args.lease, wait_seconds=wait)
            except Refused as e:  # a bad token, a read-only server, bad arguments: stop and say so
                print("the server refused to give jobs: " + str(e), file=sys.stderr)
                return 2
            except TRANSIENT as e:  # the server is down or restarting: try again
                print("cannot reach " + api.url + " (" + str(e) + "); trying again", file=sys.stderr)
                held = []
            if not held:
                if args.idle_exit and time.monotonic() - idle_since >= args.idle_exit:
                    break
                if time.monotonic() - asked < 1:
                    time.sleep(1)  # the server answered without waiting (it is busy): pause
                continue
            while held:
                job = held[0]
                try:
                    counts[run_job(api, job, asked, args.lease, args.work_seconds)] += 1
                except LeaseLost:
                    counts["lost"] += 1  # someone else has the job now
                except (Refused,) + TRANSIENT as e:
                    # the report did not count: the lease runs out and the job is run again
                    print("could not report job " + job["id"] + ": " + str(e), file=sys.stderr)
                    counts["lost"] += 1
                held.pop(0)
            idle_since = time.monotonic()
    except KeyboardInterrupt:
        release_all(api, held)
        print("stopped; gave back " + str(len(held)) + " jobs", file=sys.stderr)
    print("worker done: " + json.dumps(counts, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
