// Monaco, from npm, with only what a prompt editor needs: the core editor,
// find, clipboard, context menu, line operations and multi-cursor, and a
// tokenizer for PromptVault templates so {{variables}} and {{> snippet}}
// includes stand out. Loaded only by the editor (a chunk of its own).
import * as monaco from "monaco-editor/editor/editor.api";
import "monaco-editor/editor/contrib/find/browser/findController.js";
import "monaco-editor/editor/contrib/clipboard/browser/clipboard.js";
import "monaco-editor/editor/contrib/contextmenu/browser/contextmenu.js";
import "monaco-editor/editor/contrib/linesOperations/browser/linesOperations.js";
import "monaco-editor/editor/contrib/multicursor/browser/multicursor.js";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";

(self as unknown as { MonacoEnvironment: unknown }).MonacoEnvironment = { getWorker: () => new EditorWorker() };

export const TEMPLATE_LANGUAGE = "pvct-template";

// The same lexical rules as core/src/template.rs: `\{{` is a literal, names
// are [A-Za-z_][A-Za-z0-9_.-]*, includes are {{> slug}} or {{> slug@N}}.
monaco.languages.register({ id: TEMPLATE_LANGUAGE });
monaco.languages.setMonarchTokensProvider(TEMPLATE_LANGUAGE, {
  tokenizer: {
    root: [
      [/\\\{\{/, "escape"],
      [/\{\{\s*>\s*[a-z0-9][a-z0-9-]*(@\d+)?\s*\}\}/, "include"],
      [/\{\{\s*[A-Za-z_][A-Za-z0-9_.-]*\s*\}\}/, "variable"],
      [/\{\{/, "invalid"],
    ],
  },
});
monaco.editor.defineTheme("pvct", {
  base: "vs",
  inherit: true,
  rules: [
    { token: "variable", foreground: "0550ae", fontStyle: "bold" },
    { token: "include", foreground: "8250df", fontStyle: "bold" },
    { token: "escape", foreground: "6e7781" },
    { token: "invalid", foreground: "cf222e", fontStyle: "underline" },
  ],
  colors: {},
});

export { monaco };
