// PUT /v1/config with the body of the last push: the same text gives the same document, parsed once and marked
// unchanging (nobody but this cache and the push holds it; freezing it cost O(n) per new body), so a no-op push
// neither parses its body again nor makes the core compare the config (push-cache.ts knows an unchanging object it
// accepted has not changed). EVE documents are converted anew each time (not kept).
import { unchanging } from '../config/push-cache.ts';
import type { AppliableDocument } from '../eve/eve-load.ts';

export class ConfigBodyCache {
  private last: { key: string; text: string; doc: AppliableDocument } | undefined;

  /** `key`: what else the document depends on (content type, query); `make` parses and converts the body. */
  get(text: string, key: string, make: () => AppliableDocument): AppliableDocument {
    const last = this.last;
    if (last !== undefined && last.key === key && last.text === text) return last.doc;
    this.last = undefined;
    const doc = make();
    if (doc.eve) return doc;
    unchanging(doc.config);
    this.last = { key, text, doc };
    return doc;
  }
}
