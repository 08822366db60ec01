/** Where flotilla's progress goes: plain timestamped lines (stderr under --json, else stdout). */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  /** Raw tool output (turbo), streamed as it comes. */
  raw(chunk: string): void;
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

export function plainLogger(write: (s: string) => void, opts: { githubActions: boolean; redact: (s: string) => string }): Logger {
  const stamp = () => new Date().toISOString().slice(11, 19);
  const line = (s: string) => write(`${opts.redact(s)}\n`);
  return {
    info: (m) => line(`[${stamp()}] ${m}`),
    warn: (m) => line(opts.githubActions ? `::warning::${m}` : `[${stamp()}] warning: ${m}`),
    raw: (c) => write(opts.redact(c)),
    async group(title, fn) {
      if (opts.githubActions) line(`::group::${title}`);
      else line(`[${stamp()}] ${title}`);
      try {
        return await fn();
      } finally {
        if (opts.githubActions) line("::endgroup::");
      }
    },
  };
}
