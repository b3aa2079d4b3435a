import { simpleParser, type ParsedMail } from "mailparser";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export type SmtpMode = "accept" | "tempfail" | "permfail";

/**
 * A real SMTP server on loopback for mail tests: it receives, parses and keeps
 * every message, and can be told to answer 4xx or 5xx, or be stopped (down).
 */
export class TestSmtpServer {
  readonly messages: ParsedMail[] = [];
  private readonly envelopes = new WeakMap<
    ParsedMail,
    { mailFrom: string; rcptTo: string[] }
  >();

  /** The SMTP envelope a kept message arrived with (MAIL FROM, RCPT TO). */
  envelopeOf(mail: ParsedMail): { mailFrom: string; rcptTo: string[] } {
    const envelope = this.envelopes.get(mail);
    if (!envelope) throw new Error("not a message this server received");
    return envelope;
  }
  mode: SmtpMode = "accept";
  /** A slow server: each message is answered this long after its end. */
  delayMs = 0;
  port = 0;
  private server: SMTPServer | undefined;

  async start(port = this.port): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => setTimeout(finish, this.delayMs));
        const finish = () => {
          if (this.mode === "tempfail") {
            return callback(
              Object.assign(new Error("Try again later"), {
                responseCode: 451,
              }),
            );
          }
          if (this.mode === "permfail") {
            return callback(
              Object.assign(new Error("Mailbox unavailable"), {
                responseCode: 550,
              }),
            );
          }
          simpleParser(Buffer.concat(chunks)).then((mail) => {
            this.messages.push(mail);
            const { mailFrom, rcptTo } = session.envelope;
            this.envelopes.set(mail, {
              mailFrom: mailFrom ? mailFrom.address : "",
              rcptTo: rcptTo.map((r) => r.address),
            });
            callback();
          }, callback);
        };
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening: the next delivery attempt finds nobody there. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server)
      await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Messages to one address. */
  to(address: string): ParsedMail[] {
    return this.messages.filter((m) => {
      const to = Array.isArray(m.to) ? m.to : m.to ? [m.to] : [];
      return to.some((t) => t.value.some((v) => v.address === address));
    });
  }
}
