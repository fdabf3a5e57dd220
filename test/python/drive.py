"""Drives a running daemon through adi_client.py and prints one JSON object
per step on stdout; test/python/python-client.test.ts checks them.

usage: drive.py GENERATED_DIR SOCKET SERVICE_NAME
"""
import json
import sys
import time

sys.path.insert(0, sys.argv[1])
from adi.daemon.v1 import daemon_pb2 as pb  # noqa: E402
from adi_client import Client, DaemonError  # noqa: E402

socket_path, name = sys.argv[2], sys.argv[3]


def report(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def state_of(client, svc):
    for info in client.call(list_services=pb.ListServices()).services.list:
        if info.name == svc:
            return pb.ServiceState.Name(info.state), info.pid
    return None, 0


c = Client(socket_path)

pong = c.call(ping=pb.Ping()).pong
report("ping", version=pong.version, uptime=pong.uptime_secs)

names = [s.name for s in c.call(list_services=pb.ListServices()).services.list]
report("list_before", names=names)

script = 'i=0; while :; do i=$((i+1)); echo "py line $i"; sleep 0.02; done'
config = pb.ServiceConfig(command="/bin/sh", args=["-c", script], env={"PY_CLIENT": "1"})
ok = c.call(start_service=pb.StartService(name=name, config=config))
report("start", kind=ok.WhichOneof("kind"))

deadline = time.time() + 10
state, pid = state_of(c, name)
while state != "SERVICE_STATE_RUNNING" and time.time() < deadline:
    time.sleep(0.02)
    state, pid = state_of(c, name)
report("running", state=state, pid=pid)

# Follow the log; a ping sent while the stream is open must be answered in between.
stream_id = c.send(service_logs=pb.ServiceLogs(name=name, lines=0, follow=True))
lines = []
services = set()
while len(lines) < 5:
    resp = c.next_for(stream_id)
    kind = resp.WhichOneof("kind")
    if kind == "log_line":
        lines.append(resp.log_line.text)
        services.add(resp.log_line.service)
    elif kind == "logs":
        lines.extend(l.text for l in resp.logs.lines)
        services.update(l.service for l in resp.logs.lines)
    else:
        report("follow_unexpected", kind=kind, error=resp.error.message if kind == "error" else "")
        sys.exit(1)
    if len(lines) == 2:
        ping_id = c.send(ping=pb.Ping())
        report("ping_during_stream", kind=c.next_for(ping_id).WhichOneof("kind"))
report("follow", lines=lines, services=sorted(services))

cancel_id = c.send(cancel_stream=pb.CancelStream(stream_id=stream_id))
# Frames already in flight may precede stream_end: skip log lines until it comes.
while True:
    resp = c.next_for(stream_id)
    if resp.WhichOneof("kind") != "log_line":
        break
report("stream_end", kind=resp.WhichOneof("kind"), cancel=c.next_for(cancel_id).WhichOneof("kind"))

ok = c.call(stop_service=pb.StopService(name=name))
report("stop", kind=ok.WhichOneof("kind"))
state, pid = state_of(c, name)
deadline = time.time() + 10
while state != "SERVICE_STATE_STOPPED" and time.time() < deadline:
    time.sleep(0.02)
    state, pid = state_of(c, name)
report("stopped", state=state, pid=pid)

try:
    c.call(stop_service=pb.StopService(name="py-no-such-service"))
    report("not_found", code="none")
except DaemonError as err:
    report("not_found", code=pb.ErrorCode.Name(err.code), message=err.message)

c.close()
report("done")
