/**
 * Where staff read one received message as it arrived (the Inbound mail
 * page), by its Message-ID: what a timeline entry that came by email keeps.
 */
export function inboundMessageHref(messageId: string): string {
  return `/admin/inbound/message/${encodeURIComponent(messageId)}`;
}
