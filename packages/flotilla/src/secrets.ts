/**
 * Secret redaction at the boundary (SPEC §9, STYLE 9): every token flotilla reads is registered
 * here with its encoded forms (base64 and base64url of the value and of `user:value`, and the
 * JSON/base64 X-Registry-Auth form is covered by the base64 of its JSON at the call site), and
 * all output passes through `redact`.
 */
export class Secrets {
  private readonly values = new Set<string>();

  add(value: string | undefined, user?: string): void {
    if (!value || value.length < 4) return;
    const forms = [value, b64(value), b64url(value)];
    if (user) forms.push(b64(`${user}:${value}`), b64url(`${user}:${value}`));
    for (const f of forms) this.values.add(f.replace(/=+$/, ""));
  }

  /** Registers a blob that embeds secrets (e.g. a base64 X-Registry-Auth header). */
  addRaw(value: string): void {
    if (value.length >= 4) this.values.add(value.replace(/=+$/, ""));
  }

  redact(text: string): string {
    // Longest first, so an encoded form is not half-replaced by a shorter raw value. Sorted once
    // per set of values: every line of output passes here.
    if (this.sorted?.length !== this.values.size) this.sorted = [...this.values].sort((a, b) => b.length - a.length);
    let out = text;
    for (const v of this.sorted) if (out.includes(v)) out = out.split(v).join("***");
    return out;
  }

  private sorted: string[] | undefined;
}

function b64(s: string): string {
  return Buffer.from(s).toString("base64");
}
function b64url(s: string): string {
  return Buffer.from(s).toString("base64url");
}

/** The secrets flotilla reads from the environment (SPEC §8), registered with their encoded forms. */
export function secretsFromEnv(env: Record<string, string | undefined>): Secrets {
  const s = new Secrets();
  s.add(env.NODE_AUTH_TOKEN);
  s.add(env.GITHUB_TOKEN, env.GITHUB_ACTOR);
  s.add(env.FLOTILLA_IMAGE_REGISTRY_PASSWORD, env.FLOTILLA_IMAGE_REGISTRY_USERNAME ?? env.GITHUB_ACTOR);
  return s;
}
