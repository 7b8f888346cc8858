// PUT /v1/config with the body of the last push: the same text gives the same document, parsed once and marked
// unchanging (nobody but this cache and the push holds it; freezing it cost O(n) per new body), so a no-op push
// neither parses its body again nor makes the core compare the config (push-cache.ts knows an unchanging object it
// accepted has not changed). A JSON body that changed only in some apps (or other top-level list's elements) is
// parsed in those elements alone, the rest shared with the last document (json-splice.ts): the push cache then
// knows the apps it shares by identity. EVE documents are converted anew each time (not kept).
import { unchanging } from '../config/push-cache.ts';
import type { AppliableDocument } from '../eve/eve-load.ts';
import { indexJson, spliceJson, type IndexedJson } from '../util/json-splice.ts';

export interface BodyParse {
  /** the body is JSON (by content type or sniffed): it may be spliced from the last one */
  json: boolean;
  /** parses the whole body, given as text (throws a ConfigError on bad input) */
  parse: (text: string) => unknown;
  /** makes the parsed body a document to apply */
  convert: (parsed: unknown) => AppliableDocument;
}

export class ConfigBodyCache {
  private last: { key: string; bytes: Buffer; doc: AppliableDocument; index: IndexedJson | undefined } | undefined;

  /**
   * `body`: the request's bytes (UTF-8; a string is encoded): decoded whole only when it is parsed whole. `key`: what
   * else the document depends on (content type, query).
   */
  get(body: Buffer | string, key: string, how: BodyParse): AppliableDocument {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const last = this.last;
    if (last !== undefined && last.key === key && last.bytes.equals(bytes)) return last.doc;
    this.last = undefined;
    let index = how.json && last?.index !== undefined && last.key === key ? spliceJson(last.index, bytes) : undefined;
    let parsed: unknown;
    if (index !== undefined) parsed = index.value;
    else {
      const text = bytes.toString('utf8');
      parsed = how.parse(text);
      index = how.json ? indexJson(text, parsed, bytes) : undefined;
    }
    const doc = how.convert(parsed);
    if (doc.eve) return doc;
    unchanging(doc.config);
    this.last = { key, bytes, doc, index: doc.config === parsed ? index : undefined };
    return doc;
  }
}
