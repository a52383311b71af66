// One Monaco editor for one template (a text prompt or one chat message).
// `value` is the initial text; changes go out through onChange.
import { useEffect, useRef } from "react";
import { monaco, TEMPLATE_LANGUAGE } from "../monaco";

export default function TemplateEditor({
  value,
  onChange,
  label,
  onSubmit,
  readOnly = false,
}: {
  value: string;
  onChange: (v: string) => void;
  label: string;
  onSubmit?: () => void;
  readOnly?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);
  const latest = useRef({ onChange, onSubmit });
  latest.current = { onChange, onSubmit };

  useEffect(() => {
    const e = monaco.editor.create(host.current!, {
      value,
      language: TEMPLATE_LANGUAGE,
      theme: "pvct",
      ariaLabel: label,
      readOnly,
      wordWrap: "on",
      minimap: { enabled: false },
      lineNumbers: "on",
      scrollBeyondLastLine: false,
      automaticLayout: true,
      fontSize: 13,
      // Prompts are prose: typed braces and quotes stay as typed.
      autoClosingBrackets: "never",
      autoClosingQuotes: "never",
      autoSurround: "never",
      quickSuggestions: false,
      renderLineHighlight: "none",
      padding: { top: 6, bottom: 6 },
    });
    editor.current = e;
    const sub = e.onDidChangeModelContent(() => latest.current.onChange(e.getValue()));
    e.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => latest.current.onSubmit?.());
    const grow = () => {
      const h = Math.min(Math.max(e.getContentHeight(), 60), 480);
      host.current!.style.height = `${h}px`;
      e.layout();
    };
    const sizeSub = e.onDidContentSizeChange(grow);
    grow();
    return () => {
      sub.dispose();
      sizeSub.dispose();
      e.dispose();
    };
    // Uncontrolled: `value` is the initial text. Feeding React state back in
    // would race the typist (state trails keystrokes and would reset the
    // cursor), so a parent that replaces the text remounts with a new key.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return <div className="template-editor" ref={host} data-testid={`editor-${label}`} />;
}
