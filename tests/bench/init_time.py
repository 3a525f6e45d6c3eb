#!/usr/bin/env python3
"""Init time of Lambda binaries: process start -> first poll of the runtime API.

Usage: init_time.py RUNS BINARY...   (each BINARY is a path; environment is inherited)

A loopback server plays the Lambda runtime API just far enough: it records when the
first GET .../invocation/next arrives, then the binary is killed. Prints the median
and the spread of RUNS starts per binary, in milliseconds.
"""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time


class Api(http.server.BaseHTTPRequestHandler):
    first_poll = None

    def do_GET(self):
        if Api.first_poll is None:
            Api.first_poll = time.perf_counter()
        # Never answer: the binary stays in its poll until it is killed.
        time.sleep(5)

    def do_POST(self):
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


def measure(binary, server):
    Api.first_poll = None
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    })
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while Api.first_poll is None:
            if proc.poll() is not None:
                raise SystemExit(f"{binary} exited with {proc.returncode} before polling")
            if time.perf_counter() - start > 20:
                raise SystemExit(f"{binary} did not poll within 20 s")
            time.sleep(0.0002)
        return (Api.first_poll - start) * 1000
    finally:
        proc.kill()
        proc.wait()


def main():
    runs = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for binary in sys.argv[2:]:
        samples = [measure(binary, server) for _ in range(runs)]
        print(f"{os.path.basename(binary):<18} median {statistics.median(samples):6.1f} ms"
              f"  (min {min(samples):.1f}, max {max(samples):.1f}, {runs} runs)")
    server.shutdown()


if __name__ == "__main__":
    main()
