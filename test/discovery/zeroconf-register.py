"""Registers one _graceful-edge._tcp instance with python3-zeroconf and keeps it
until SIGTERM (then unregisters, which sends zeroconf's own goodbye).
Usage: zeroconf-register.py INSTANCE PORT [cooperating]. Prints {"event": "registered"}.

With "cooperating", zeroconf skips its own probe (cooperating_responders=True)
and announces at once: a responder that starts claiming a name another host
already announced. Without it, zeroconf's probe only looks in its cache for a
PTR naming the instance, so whether it noticed the other host would depend on
timing; with allow_name_change=False it would raise instead of renaming."""
import json
import signal
import socket
import sys
import time

from zeroconf import ServiceInfo, Zeroconf

instance, port = sys.argv[1], int(sys.argv[2])
cooperating = len(sys.argv) > 3 and sys.argv[3] == "cooperating"
TYPE = "_graceful-edge._tcp.local."
info = ServiceInfo(
    TYPE,
    f"{instance}.{TYPE}",
    addresses=[socket.inet_aton("127.0.0.1")],
    port=port,
    properties={"id": "python-owner", "proxyPort": str(port), "meshPort": "7946"},
    server=f"python-{instance}.local.",
)
zc = Zeroconf()
zc.register_service(info, allow_name_change=False, cooperating_responders=cooperating)
sys.stdout.write(json.dumps({"event": "registered", "t": int(time.time() * 1000)}) + "\n")
sys.stdout.flush()


def stop(*_):
    zc.unregister_service(info)
    zc.close()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(3600)
