// Port forwarding rules in QEMU's `-nic user` syntax:
//   hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport
// e.g. "tcp::8080-:80", "udp::5353-:53" or "tcp:127.0.0.1:2222-10.0.2.15:22". An empty host address means all
// host interfaces in QEMU; here it defaults to 127.0.0.1 so that a forward does not expose the
// guest to the network unless asked. An empty guest address is the DHCP guest, 10.0.2.15.

export interface HostForward {
  proto: 'tcp' | 'udp';
  hostAddr: string;
  hostPort: number;
  guestAddr: string;
  guestPort: number;
}

const RULE = /^(tcp|udp)?:([^:]*):(\d+)-([^:]*):(\d+)$/;

/** Parses one rule (the text after `hostfwd=`); throws with the rule in the message if it is wrong. */
export function parseHostForward(rule: string, guestAddr = '10.0.2.15'): HostForward {
  const m = RULE.exec(rule.trim());
  const hostPort = m ? Number(m[3]) : 0;
  const guestPort = m ? Number(m[5]) : 0;
  if (!m || hostPort > 65535 || guestPort < 1 || guestPort > 65535) {
    throw new Error(`hostfwd: '${rule}' is not [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`);
  }
  return {
    proto: (m[1] ?? 'tcp') as 'tcp' | 'udp',
    hostAddr: m[2] || '127.0.0.1',
    hostPort,
    guestAddr: m[4] || guestAddr,
    guestPort,
  };
}
