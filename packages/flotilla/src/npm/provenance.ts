import type { Problem } from "../errors.ts";

/** True when the package asks for provenance (`publishConfig.provenance: true`, as npm reads it). */
export function wantsProvenance(manifest: Record<string, unknown>): boolean {
  return (manifest.publishConfig as { provenance?: unknown } | undefined)?.provenance === true;
}

/**
 * Where provenance cannot be produced, the problems that refuse the publish before anything is
 * written (exit 2), instead of publishing without it as pnpm does. npm's libnpmpublish signs
 * provenance through Sigstore with the CI's OIDC identity: on GitHub Actions it needs the job's
 * `id-token: write` permission (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN), on GitLab CI an
 * `SIGSTORE_ID_TOKEN`; no other CI is supported. GitHub Packages does not accept provenance.
 */
export function provenanceProblems(
  /** The packages to publish, each with its registry and whether that is GitHub Packages. */
  packages: { name: string; relDir: string; manifest: Record<string, unknown>; registry: string; githubPackages: boolean }[],
  env: Record<string, string | undefined>,
): Problem[] {
  const wanting = packages.filter((p) => wantsProvenance(p.manifest));
  if (wanting.length === 0) return [];
  const problems: Problem[] = [];
  const off = 'or remove "provenance": true from publishConfig';
  for (const p of wanting) {
    if (p.githubPackages) {
      problems.push({
        code: "NPM_PROVENANCE_UNSUPPORTED_REGISTRY",
        file: `${p.relDir}/package.json`,
        field: "publishConfig.provenance",
        message: `${p.name}: ${p.registry} (GitHub Packages) does not accept npm provenance`,
        hint: `publish it to a registry that does (registry.npmjs.org via publishConfig.registry), ${off}`,
      });
    }
  }
  const ci = ciIdentity(env);
  if (ci !== "ok") {
    const names = wanting.map((p) => p.name).join(", ");
    problems.push({
      code: ci === "github-no-id-token" ? "NPM_PROVENANCE_NO_ID_TOKEN" : "NPM_PROVENANCE_NO_CI",
      file: `${wanting[0]!.relDir}/package.json`,
      field: "publishConfig.provenance",
      message:
        ci === "github-no-id-token"
          ? `${names}: provenance needs GitHub's OIDC token, and this job has none (no ACTIONS_ID_TOKEN_REQUEST_URL)`
          : ci === "gitlab-no-token"
            ? `${names}: provenance on GitLab CI needs SIGSTORE_ID_TOKEN (an id_token with the "sigstore" audience)`
            : `${names}: provenance can only be generated on GitHub Actions or GitLab CI (signed with the CI's OIDC identity), not here`,
      hint:
        ci === "github-no-id-token"
          ? `add "permissions: id-token: write" to the release job, ${off}`
          : ci === "gitlab-no-token"
            ? `add id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore to the job, ${off}`
            : `publish from the release workflow on GitHub Actions, ${off} for a local publish`,
    });
  }
  return problems;
}

function ciIdentity(env: Record<string, string | undefined>): "ok" | "github-no-id-token" | "gitlab-no-token" | "none" {
  if (env.GITHUB_ACTIONS === "true")
    return env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN ? "ok" : "github-no-id-token";
  if (env.GITLAB_CI) return env.SIGSTORE_ID_TOKEN ? "ok" : "gitlab-no-token";
  return "none";
}
