# F1 measurement: N slow-body connections against `buildsnap serve` under
# `ulimit -n 1024`, then time fresh /healthz probes. Loopback only, bounded.
# Usage: python3 f1_measure.py BINARY PATH N (see docs/reliability.md, F1).
import os, resource, shutil, socket, subprocess, sys, tempfile, time, json
BIN, PATH, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
d = tempfile.mkdtemp()
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
log = open(os.path.join(d, "serve.log"), "w")
srv = subprocess.Popen(["bash", "-c", f"ulimit -n 1024; exec {BIN} serve --listen 127.0.0.1:{port} --data-dir {d}/data --admin-token admin-token-0123456789abcdef --sync-interval 0 --log warn"], stdout=subprocess.DEVNULL, stderr=log)
def get(path, timeout=5.0):
    t = time.monotonic()
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    c.sendall(f"GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
    out = b""
    while True:
        b = c.recv(65536)
        if not b: break
        out += b
    c.close()
    return out.split(b" ")[1].decode(), time.monotonic() - t
deadline = time.monotonic() + 120
while True:
    try:
        if get("/healthz", 1)[0] == "200": break
    except OSError: pass
    assert time.monotonic() < deadline; time.sleep(0.05)
held, errors = [], 0
for i in range(N):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(f"POST {PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{".encode())
        held.append(c)
    except OSError:
        errors += 1
time.sleep(0.5)
statuses = {}
for c in held:
    c.settimeout(0.05)
    try:
        b = c.recv(4096)
        k = b.split(b" ")[1].decode() if b else "closed"
    except socket.timeout: k = "waiting"
    except OSError as e: k = type(e).__name__
    statuses[k] = statuses.get(k, 0) + 1
probes = []
for _ in range(5):
    try: probes.append(get("/healthz", 5))
    except OSError as e: probes.append((type(e).__name__, 5.0))
srv.terminate(); srv.wait(timeout=60)
for c in held: c.close()
lines = open(os.path.join(d, "serve.log")).read().splitlines()
shutil.rmtree(d, ignore_errors=True)
print(json.dumps({"path": PATH, "connections": N, "connect_errors": errors, "states_after_0.5s": statuses,
  "healthz": [(s, round(t*1000, 1)) for s, t in probes],
  "accept_failed_log_lines": sum("accept failed" in l for l in lines)}))
