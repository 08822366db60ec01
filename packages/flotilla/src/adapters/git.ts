import { execa } from "execa";

/** The origin remote's URL, or undefined when there is no repository or no origin. Read-only. */
export async function originUrl(cwd: string): Promise<string | undefined> {
  const r = await execa("git", ["remote", "get-url", "origin"], { cwd, reject: false });
  return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
}
