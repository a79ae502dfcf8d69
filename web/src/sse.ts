/**
 * A Server-Sent Events parser for streams read with fetch + ReadableStream
 * (EventSource cannot send an Authorization header). Pure: feed it text,
 * get events; the caller keeps the last id for Last-Event-ID on reconnect.
 */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  /** The last id seen (persists across events, as the spec says). */
  lastId: string | undefined;
  /** Server-suggested reconnect delay in ms. */
  retryMs: number | undefined;

  /** Feeds a chunk of decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.#buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = this.#nextBreak(start);
      if (nl === -1) break;
      const line = this.#buffer.slice(start, nl.index);
      start = nl.index + nl.length;
      const ev = this.#line(line);
      if (ev) out.push(ev);
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  #nextBreak(from: number): { index: number; length: number } | -1 {
    for (let i = from; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i);
      if (c === 10) return { index: i, length: 1 };
      if (c === 13) {
        // A CR at the very end may be the first half of CRLF: wait for more.
        if (i + 1 >= this.#buffer.length) return -1;
        return { index: i, length: this.#buffer.charCodeAt(i + 1) === 10 ? 2 : 1 };
      }
    }
    return -1;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = '';
        return undefined;
      }
      const ev: SseEvent = { event: this.#event || 'message', data: this.#data.join('\n') };
      if (this.#id !== undefined) ev.id = this.#id;
      this.#data = [];
      this.#event = '';
      return ev;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.#id = value;
          this.lastId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }
}
