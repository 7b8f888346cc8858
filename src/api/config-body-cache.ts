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
  /** parses the whole body (throws a ConfigError on bad input) */
  parse: () => unknown;
  /** makes the parsed body a document to apply */
  convert: (parsed: unknown) => AppliableDocument;
}

export class ConfigBodyCache {
  private last: { key: string; text: string; doc: AppliableDocument; index: IndexedJson | undefined } | undefined;

  /** `key`: what else the document depends on (content type, query). */
  get(text: string, key: string, body: BodyParse): AppliableDocument {
    const last = this.last;
    if (last !== undefined && last.key === key && last.text === text) return last.doc;
    this.last = undefined;
    let index = body.json && last?.index !== undefined && last.key === key ? spliceJson(last.index, text) : undefined;
    let parsed: unknown;
    if (index !== undefined) parsed = index.value;
    else {
      parsed = body.parse();
      index = body.json ? indexJson(text, parsed) : undefined;
    }
    const doc = body.convert(parsed);
    if (doc.eve) return doc;
    unchanging(doc.config);
    this.last = { key, text, doc, index: doc.config === parsed ? index : undefined };
    return doc;
  }
}
