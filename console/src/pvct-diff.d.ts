// Types of the npm package's WASM diff module (wasm-bindgen --target web).
export default function init(options?: { module_or_path?: unknown }): Promise<unknown>;
export function diffWords(old: string, new_: string): string;
export function diffVersions(kind: string, oldJson: string, newJson: string): string;
