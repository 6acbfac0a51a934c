# A stand-in for systemd's notification socket: prints every datagram received
# on the Unix socket argv[1] as one line (newlines in it become '|').
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print('listening', flush=True)
while True:
    data = s.recv(4096)
    print(data.decode('utf-8', 'replace').strip().replace('\n', '|'), flush=True)
