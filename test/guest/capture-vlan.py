# Captures the frames arriving on an interface for some seconds and prints, as JSON, each source MAC with the
# 802.1Q VLAN id it carried (null: untagged). veths strip the tag into the packet's metadata: read it from
# PACKET_AUXDATA (as tcpdump does), or from the frame when it is still inline. Usage: capture-vlan.py IFNAME SECONDS
import json
import socket
import struct
import sys
import time

ifname, seconds = sys.argv[1], float(sys.argv[2])
SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID = 263, 8, 0x10
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifname, 0))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.settimeout(0.2)
print('capturing', flush=True, file=sys.stderr)
seen = set()
end = time.time() + seconds
while time.time() < end:
    try:
        data, anc, _flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    vid = None
    for level, kind, d in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(d) >= 20:
            status, _len, _snap, _mac, _net, tci, _tpid = struct.unpack('IIIHHHH', d[:20])
            if status & TP_STATUS_VLAN_VALID:
                vid = tci & 0xFFF
    if vid is None and data[12:14] == b'\x81\x00':
        vid = struct.unpack('!H', data[14:16])[0] & 0xFFF
    seen.add((data[6:12].hex(':'), vid))
print(json.dumps([{'mac': m, 'vlan': v} for m, v in sorted(seen, key=lambda x: (x[0], x[1] or 0))]))
