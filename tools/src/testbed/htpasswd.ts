import { execFileSync } from "node:child_process";

/**
 * One bcrypt htpasswd line (distribution 2.8 accepts only bcrypt; Verdaccio reads it too).
 * Uses Debian's `htpasswd` (apache2-utils), the password on stdin (never in argv).
 */
export function htpasswdLine(user: string, password: string): string {
  return execFileSync("htpasswd", ["-niB", user], { input: password, encoding: "utf8" }).trim();
}
