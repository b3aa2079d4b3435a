/**
 * A real webhook receiver on 127.0.0.1 (node:http), as an organization
 * would run one: it keeps every request it got, and answers as the test
 * says (200, 500, a redirect, a dropped connection, a huge body, silence).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type ReceiverMode =
  "ok" | "error" | "drop" | "redirect" | "huge" | "silent";

export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** How the next requests are answered; a queue of modes is used first. */
  mode: ReceiverMode = "ok";
  readonly next: ReceiverMode[] = [];
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === "string") headers[k] = v;
      this.received.push({
        path: req.url ?? "",
        headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const mode = this.next.shift() ?? this.mode;
      switch (mode) {
        case "ok":
          res.writeHead(200, { "content-type": "text/plain" }).end("ok");
          return;
        case "error":
          res.writeHead(500).end("down for maintenance");
          return;
        case "drop":
          req.socket.destroy();
          return;
        case "redirect":
          res.writeHead(302, { location: "/elsewhere" }).end();
          return;
        case "huge": {
          // Far past the desk's cap: it reads 64 KiB and hangs up.
          res.writeHead(200, { "content-type": "text/plain" });
          const block = Buffer.alloc(64 * 1024, 120);
          let sent = 0;
          const write = () => {
            while (sent < 200 && res.write(block)) sent++;
            if (sent < 200 && !res.destroyed) res.once("drain", write);
            else res.end();
          };
          res.on("error", () => undefined);
          write();
          return;
        }
        case "silent":
          // Never answers; the socket is closed when the server stops.
          return;
      }
    });
  });

  async start(): Promise<this> {
    this.server.listen(0, "127.0.0.1");
    await new Promise((resolve) => this.server.once("listening", resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = "/hook"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
