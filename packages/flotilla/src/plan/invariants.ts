import { isArtifact, isFloating, type PublishPlan, type Step } from "./publish-plan.ts";

export type Rule =
  | "graph"
  | "tags-follow-artifacts"
  | "releases-follow-tags"
  | "bound-to-commit"
  | "one-latest"
  | "latest-last"
  | "floating-last";

export interface Violation {
  rule: Rule;
  step?: string;
  message: string;
}

/**
 * Checks a publish plan against SPEC §5a before anything runs (pure). One check per rule;
 * "waits for" means through `deps`, transitively (a step runs only when those ended well),
 * except for Latest's ordering, which `after` also satisfies.
 */
export function checkInvariants(plan: PublishPlan): Violation[] {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const out: Violation[] = [...checkGraph(plan.steps, byId)];
  if (out.length > 0) return out; // the other checks walk the graph
  const waitsFor = closure(plan.steps, byId, (s) => s.deps);
  const ordersAfter = closure(plan.steps, byId, (s) => [...s.deps, ...(s.after ?? [])]);
  const artifactsOf = (pkg: string | undefined) => plan.steps.filter((s) => isArtifact(s) && s.pkg === pkg).map((s) => s.id);
  const allArtifacts = plan.steps.filter(isArtifact).map((s) => s.id);
  const unitByName = new Map(plan.units.map((u) => [u.name, u]));
  const unitByTag = new Map(plan.units.flatMap((u) => (u.gitTag ? [[u.gitTag.tag, u] as const] : [])));
  const tagSteps = new Map(plan.steps.flatMap((s) => (s.kind === "git-tag" ? [[s.payload.tag, s] as const] : [])));

  for (const s of plan.steps) {
    // 1. Tags follow artifacts: a tag (new, or left local) waits for every artifact of its package.
    if (s.kind === "git-tag") {
      for (const a of artifactsOf(s.pkg)) {
        if (!waitsFor.get(s.id)!.has(a))
          out.push({ rule: "tags-follow-artifacts", step: s.id, message: `${s.payload.tag} does not wait for ${a}` });
      }
      // … and for the artifacts this run does not make (`--only` without their stage): those
      // must be in the registries already, or the tag is not planned at all.
      const missing = unitByName.get(s.pkg ?? "")?.missing ?? [];
      if (missing.length)
        out.push({
          rule: "tags-follow-artifacts",
          step: s.id,
          message: `${s.payload.tag} is planned while ${missing.join(", ")} is not there and no step of this run makes it`,
        });
    }
    // 2. Releases follow tags on origin, and a failed or skipped package gets none.
    if (s.kind === "github-release") {
      const parts = s.payload.combined ?? [{ tag: s.payload.tag, requires: [...s.deps] }];
      for (const part of parts) {
        const tagStep = tagSteps.get(part.tag);
        const unit = unitByTag.get(part.tag);
        // What this release (or this part of a combined one) may go out only after, done or noop.
        const gate = new Set(part.requires.flatMap((id) => [id, ...(waitsFor.get(id) ?? [])]));
        if (s.payload.combined && !part.requires.every((id) => ordersAfter.get(s.id)!.has(id)))
          out.push({ rule: "releases-follow-tags", step: s.id, message: `is not ordered after what ${part.tag} requires` });
        if (tagStep) {
          if (!tagStep.payload.push)
            out.push({ rule: "releases-follow-tags", step: s.id, message: `${part.tag} is never pushed to origin` });
          if (!gate.has(tagStep.id)) out.push({ rule: "releases-follow-tags", step: s.id, message: `does not wait for ${tagStep.id}` });
        } else if (unit?.gitTag?.action !== "none") {
          out.push({ rule: "releases-follow-tags", step: s.id, message: `${part.tag} is not on origin and no step pushes it` });
        }
        for (const a of artifactsOf(unit?.name)) {
          if (!gate.has(a)) out.push({ rule: "releases-follow-tags", step: s.id, message: `does not wait for ${a}` });
        }
      }
    }
    // Every tag and release points at the release commit.
    if ((s.kind === "git-tag" || s.kind === "github-release") && s.payload.commit !== plan.commit) {
      out.push({ rule: "bound-to-commit", step: s.id, message: `names commit "${s.payload.commit}", the plan's is "${plan.commit}"` });
    }
    // 5. Floating pointers move last: after every artifact of the run.
    if (isFloating(s)) {
      for (const a of allArtifacts) {
        if (!waitsFor.get(s.id)!.has(a)) out.push({ rule: "floating-last", step: s.id, message: `does not wait for ${a}` });
      }
    }
  }

  // 3. One Latest, decided once (plan.latest, from the versions at the commit), created last.
  const releases = plan.steps.filter((s): s is Extract<Step, { kind: "github-release" }> => s.kind === "github-release");
  const latest = releases.filter((s) => s.payload.latest);
  if (latest.length > 1)
    out.push({ rule: "one-latest", message: `${latest.length} releases are Latest: ${latest.map((s) => s.id).join(", ")}` });
  for (const l of latest) {
    const tags = l.payload.combined?.map((c) => c.tag) ?? [l.payload.tag];
    if (!plan.latest || !tags.includes(plan.latest.tag)) {
      out.push({ rule: "one-latest", step: l.id, message: `is Latest, but the commit's Latest is ${plan.latest?.tag ?? "none"}` });
    }
    for (const r of releases) {
      if (r.id !== l.id && !ordersAfter.get(l.id)!.has(r.id))
        out.push({ rule: "latest-last", step: l.id, message: `is not created after ${r.id}` });
    }
  }
  return out;
}

function checkGraph(steps: readonly Step[], byId: Map<string, Step>): Violation[] {
  const out: Violation[] = [];
  if (byId.size !== steps.length) out.push({ rule: "graph", message: "step ids are not unique" });
  for (const s of steps) {
    for (const d of [...s.deps, ...(s.after ?? [])])
      if (!byId.has(d)) out.push({ rule: "graph", step: s.id, message: `waits for unknown step ${d}` });
  }
  // A cycle would deadlock the runner.
  const state = new Map<string, 1 | 2>();
  const visit = (id: string): boolean => {
    if (state.get(id) === 2) return false;
    if (state.get(id) === 1) return true;
    state.set(id, 1);
    const s = byId.get(id);
    const cyc = s ? [...s.deps, ...(s.after ?? [])].some((d) => byId.has(d) && visit(d)) : false;
    state.set(id, 2);
    return cyc;
  };
  for (const s of steps) if (visit(s.id)) return [...out, { rule: "graph", step: s.id, message: "is part of a dependency cycle" }];
  return out;
}

/** Every step each step waits for (transitively) through `edges`. */
function closure(steps: readonly Step[], byId: Map<string, Step>, edges: (s: Step) => readonly string[]): Map<string, Set<string>> {
  const memo = new Map<string, Set<string>>();
  const of = (s: Step): Set<string> => {
    const known = memo.get(s.id);
    if (known) return known;
    const set = new Set<string>();
    memo.set(s.id, set);
    for (const d of edges(s)) {
      set.add(d);
      const dep = byId.get(d);
      if (dep) for (const x of of(dep)) set.add(x);
    }
    return set;
  };
  for (const s of steps) of(s);
  return memo;
}
