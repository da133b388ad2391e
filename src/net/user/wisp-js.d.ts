// Types for the parts of @mercuryworkshop/wisp-js (plain JavaScript, no types of its own) that
// wisp-relay.ts and wisp-server.ts use, read from its source (src/client/connection.mjs,
// src/server/*.mjs, version 0.5).

declare module '@mercuryworkshop/wisp-js/client' {
  export namespace client {
    /** One Wisp stream (TCP or UDP) inside a connection. */
    class ClientStream {
      readonly stream_id: number;
      /** Packets the client holds back because the server's buffer is full (flow control). */
      send_buffer: Uint8Array[];
      /** Called with a CONTINUE packet's buffer count; sends what send_buffer holds. */
      continue_received(buffer_size: number): void;
      send(data: Uint8Array): void;
      /** Sends CLOSE with `reason` (a close_reasons value). */
      close(reason?: number): void;
      onopen: () => void;
      onmessage: (data: Uint8Array) => void;
      /** The server closed the stream (or the connection went): a close_reasons value. */
      onclose: (reason: number) => void;
    }
    /** One WebSocket to a Wisp server; the URL must end in '/'. */
    class ClientConnection {
      constructor(url: string, options?: { wisp_version?: number });
      /** True once the server's first CONTINUE arrived (streams may be created). */
      connected: boolean;
      udp_enabled: boolean;
      onopen: () => void;
      onclose: () => void;
      onerror: () => void;
      /** Parses one WebSocket message (replaced in wisp-relay.ts to catch malformed ones). */
      on_ws_msg(event: { data: ArrayBuffer }): void;
      create_stream(hostname: string, port: number, type?: 'tcp' | 'udp'): ClientStream;
      close(): void;
    }
  }
}

declare module '@mercuryworkshop/wisp-js/server' {
  import type { IncomingMessage } from 'node:http';
  import type { Duplex } from 'node:stream';
  export namespace server {
    /** Server-wide settings (module-global in wisp-js: every server in the process shares them). */
    const options: {
      allow_private_ips: boolean;
      allow_loopback_ips: boolean;
      allow_udp_streams: boolean;
      allow_tcp_streams: boolean;
      [key: string]: unknown;
    };
    /** Takes over an HTTP upgrade request: a path ending in '/' speaks Wisp. */
    function routeRequest(request: IncomingMessage, socket: Duplex, head: Buffer, options?: object): void;
  }
  export namespace logging {
    const DEBUG: number;
    const INFO: number;
    const WARN: number;
    const ERROR: number;
    const NONE: number;
    function set_level(level: number): void;
  }
}
