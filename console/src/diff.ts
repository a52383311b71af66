// Word diffs computed in the browser by the npm package's WASM diff module:
// the same pvct-core code that answers GET /v1/prompts/{slug}/diff.
import init, { diffVersions as wasmDiffVersions } from "pvct-diff";
import type { Kind, Version } from "./api";

export type DiffOp = { op: "equal" | "insert" | "delete"; text: string };
export type FieldDiff = { field: string; changed: boolean; words_added: number; words_removed: number; ops: DiffOp[] };
export type VersionDiff = { fields: FieldDiff[]; words_added: number; words_removed: number };

let loaded: Promise<unknown> | null = null;
/** Compiles the diff module once, on first use. */
export const diffReady = () => (loaded ??= init());

type Side = { content: unknown; model_params: unknown };
export async function diffVersions(kind: Kind, from: Side | Version, to: Side | Version): Promise<VersionDiff> {
  await diffReady();
  const side = (v: Side) => JSON.stringify({ content: v.content, model_params: v.model_params });
  return JSON.parse(wasmDiffVersions(kind, side(from), side(to)));
}
