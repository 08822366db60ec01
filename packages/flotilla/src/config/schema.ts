import { z } from "zod";

/**
 * flotilla.config.json (SPEC §8). Every field is optional: zero config works for a standard
 * pnpm + turbo + changesets repository on GitHub. The editor JSON Schema in `schema/` is
 * generated from this object (`pnpm --filter @flotilla/flotilla gen:schema`); a test keeps it current.
 */

export const IMAGE_TAG_KINDS = ["version", "minor", "major", "latest", "channel", "sha"] as const;

const imageApp = z
  .strictObject({
    name: z.string().min(1).optional().describe("Image name (default: <registry>/<owner>/<package name without scope>)"),
    dockerfile: z.string().min(1).optional().describe("Dockerfile path, relative to the package folder (default: Dockerfile)"),
    context: z.string().min(1).optional().describe("Build context, relative to the package folder (default: the package folder)"),
    buildArgs: z.record(z.string(), z.string()).optional().describe("Extra build arguments (VERSION is always set)"),
    platforms: z
      .array(z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, "must be os/arch[/variant], e.g. linux/arm64"))
      .min(1)
      .refine((ps) => new Set(ps).size === ps.length, "lists a platform twice")
      .optional()
      .describe('Target platforms, e.g. ["linux/amd64", "linux/arm64"]: more than one → one image per platform and an OCI image index'),
  })
  .describe("Per-app image settings");

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    owner: z
      .string()
      .min(1)
      .optional()
      .describe("GitHub owner (user or organization). Default: GITHUB_REPOSITORY_OWNER, GITHUB_REPOSITORY, then the origin remote"),
    npm: z
      .strictObject({
        registry: z.url().optional().describe("npm registry URL (default https://npm.pkg.github.com; env FLOTILLA_NPM_REGISTRY)"),
        access: z.enum(["public", "restricted"]).optional().describe("npm access level for first publishes"),
        promote: z
          .enum(["direct", "last"])
          .optional()
          .describe('"last": publish under a staging dist-tag and move the final dist-tags after every artifact exists'),
      })
      .optional(),
    images: z
      .strictObject({
        registry: z.string().min(1).optional().describe("OCI registry host (default ghcr.io; env FLOTILLA_IMAGE_REGISTRY)"),
        tags: z.array(z.enum(IMAGE_TAG_KINDS)).optional().describe("Which tags to push for each image version"),
        builder: z
          .enum(["buildkit", "classic"])
          .optional()
          .describe(
            'Which of the daemon\'s builders builds images: "buildkit" (default, what `docker build` uses) or "classic" (the legacy builder)',
          ),
        apps: z
          .record(z.string(), z.union([z.literal(false), imageApp]))
          .optional()
          .describe("Per-package image settings, keyed by package name; false: this package's Dockerfile is not released as an image"),
        include: z
          .array(z.string().min(1))
          .optional()
          .describe(
            'Which packages with a Dockerfile are images: globs matched against the package folder (e.g. "apps/*") or name. Default: all',
          ),
        exclude: z
          .array(z.string().min(1))
          .optional()
          .describe(
            'Packages with a Dockerfile that are not images: globs matched against the package folder (e.g. "fixtures/**") or name',
          ),
      })
      .optional(),
    version: z
      .strictObject({
        command: z
          .string()
          .min(1)
          .optional()
          .describe(
            "Shell command run in the workspace root after `flotilla version` applied the changesets, before the lockfile refresh (and the commit in `ci`)",
          ),
      })
      .optional(),
    build: z
      .strictObject({
        tasks: z
          .array(z.string().min(1))
          .optional()
          .describe(
            'Tasks run before publishing, with turbo (or pnpm when there is no turbo.json); [] runs none (default ["build", "test"])',
          ),
      })
      .optional(),
    git: z
      .strictObject({
        tags: z.boolean().optional().describe("Create <name>@<version> git tags (default true)"),
        push: z.boolean().optional().describe("Push the tags to origin (default true)"),
      })
      .optional(),
    github: z
      .strictObject({
        releases: z.union([z.enum(["per-package", "combined"]), z.literal(false)]).optional(),
        apiUrl: z.url().optional().describe("GitHub REST API URL (default https://api.github.com; env GITHUB_API_URL)"),
        versionBranch: z.string().min(1).optional().describe('Branch of the "Version Packages" pull request'),
        latest: z
          .union([z.string().min(1), z.literal(false)])
          .optional()
          .describe('Package whose GitHub releases take "Latest"; false: no release is made Latest (default: see README)'),
      })
      .optional(),
  })
  .describe("flotilla configuration");

export type ImageAppConfig = z.infer<typeof imageApp>;
export type FileConfig = z.infer<typeof configSchema>;
export type ImageTagKind = (typeof IMAGE_TAG_KINDS)[number];
