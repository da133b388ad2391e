// What the user-mode stack needs from the host: byte streams for TCP, datagram flows for UDP,
// name lookups for DNS. The stack terminates the guest's TCP itself, so the host side only ever
// sees connect/listen and bytes: Node implements this over node:net and node:dgram
// (node-relay.ts); a browser can implement it over a Wisp WebSocket, whose streams are exactly
// "open a TCP or UDP stream to host:port, exchange data, close".

/** One host-side TCP connection. Callbacks are set by the stack right after it gets the object. */
export interface RelayStream {
  write(data: Uint8Array): void;
  /** The guest closed its sending side (FIN): half-close toward the host. */
  end(): void;
  /** Abort both directions (guest RST, stack gave up). No callbacks follow. */
  close(): void;
  /** Flow control: stop/restart delivering onData (the guest is not reading fast enough). */
  pause(): void;
  resume(): void;
  /** Bytes written but not yet taken by the host; the guest's window shrinks by this much. */
  readonly buffered: number;
  /** Called when `buffered` has fallen (the stack then reopens the guest's window). */
  onDrain: (() => void) | null;
  /** Connected (only for streams from connect; accepted streams are open already). */
  onOpen: (() => void) | null;
  onData: ((data: Uint8Array) => void) | null;
  /** The host closed its sending side. */
  onEnd: (() => void) | null;
  /** Gone: refused, reset or fully closed. `error` is set when it did not end cleanly. */
  onClose: ((error?: Error) => void) | null;
}

export interface Listener {
  close(): void;
}

export interface TcpRelay {
  /** Start a connection to host:port (a name or dotted quad); open when onOpen is called. */
  connect(host: string, port: number): RelayStream;
  /** Accept connections on the host (port forwarding); each accepted stream is open. */
  listen(port: number, host: string, onAccept: (stream: RelayStream) => void): Listener;
}

/** A UDP association with one remote host:port. */
export interface RelayDatagrams {
  send(data: Uint8Array): void;
  onMessage: ((data: Uint8Array) => void) | null;
  /**
   * The host learned that nothing listens at the remote port (an ICMP port unreachable came
   * back: ECONNREFUSED on a connected socket); the stack tells the guest the same way. A relay
   * that cannot know never calls it.
   */
  onUnreachable?: (() => void) | null;
  close(): void;
}

/** A UDP socket bound on the host (port forwarding), talking to any number of peers. */
export interface BoundDatagrams {
  sendTo(data: Uint8Array, host: string, port: number): void;
  close(): void;
}

export interface UdpRelay {
  connect(host: string, port: number): RelayDatagrams;
  /** Receive datagrams on the host (UDP port forwarding). */
  bind(port: number, host: string, onMessage: (data: Uint8Array, host: string, port: number) => void): BoundDatagrams;
}

/**
 * Host name lookup for the stack's DNS server: the IPv4 addresses of `name`, null when the name
 * does not exist (NXDOMAIN); a rejection means the lookup itself failed (SERVFAIL).
 */
export type HostResolver = (name: string) => Promise<string[] | null>;
