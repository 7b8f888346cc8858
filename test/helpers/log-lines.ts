// Log lines as the daemon writes them: JSON objects whose keys are unique. JSON.parse keeps the last of two equal
// keys silently, so the keys are read off the raw text with a small scanner of JSON's own grammar.

/** The keys of every object in one JSON text, each object's keys in order (nested objects listed after theirs). */
export function objectKeys(text: string): string[][] {
  const out: string[][] = [];
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const keys: string[] = [];
      out.push(keys);
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        keys.push(str());
        ws();
        i++; // colon
        value();
        ws();
        if (text[i++] === '}') return;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i++] === ']') return;
      }
    }
    if (c === '"') {
      str();
      return;
    }
    while (i < text.length && !/[,}\]\s]/.test(text[i] ?? '')) i++;
  };
  JSON.parse(text); // throws on anything that is not JSON at all
  value();
  return out;
}

/** `key` for each key that occurs twice in one object of the line. */
export function duplicateKeys(line: string): string[] {
  return objectKeys(line).flatMap((keys) => keys.filter((k, n) => keys.indexOf(k) !== n));
}
