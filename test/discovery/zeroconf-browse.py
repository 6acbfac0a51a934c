"""A DNS-SD browser we did not write: Debian's python3-zeroconf.

Browses _graceful-edge._tcp.local. and prints one JSON line per change on
stdout: {"event": "ready"|"added"|"updated"|"removed", "name", "txt", "port", "t"}
(t = epoch ms). Run inside the test's network namespace with /usr/bin/python3.
"""
import json
import signal
import sys
import time

from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

TYPE = "_graceful-edge._tcp.local."


def emit(obj):
    obj["t"] = int(time.time() * 1000)
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def on_change(zeroconf, service_type, name, state_change):
    entry = {"event": state_change.name.lower(), "name": name}
    if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
        info = zeroconf.get_service_info(service_type, name, timeout=1000)
        if info is not None:
            entry["port"] = info.port
            entry["server"] = info.server
            entry["txt"] = {
                k.decode("utf-8", "replace"): (v.decode("utf-8", "replace") if v is not None else None)
                for k, v in info.properties.items()
            }
    emit(entry)


def main():
    zc = Zeroconf()
    browser = ServiceBrowser(zc, TYPE, handlers=[on_change])
    emit({"event": "ready"})

    def stop(*_):
        browser.cancel()
        zc.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
