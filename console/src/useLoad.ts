// Loads data for a page and reloads it on demand (after a change).
//
// `reload` loads again and shows a failure as the page's error; `refresh`
// loads again in the background (a live update): the data shown stays until
// the new data arrives, and a failure keeps the data shown rather than
// replacing the page with an error (the next change or reload tries again).
import { useCallback, useEffect, useRef, useState } from "react";

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [version, setVersion] = useState(0);
  const quiet = useRef(false);
  const loaded = useRef(false);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);
  useEffect(() => {
    let live = true;
    const background = quiet.current;
    quiet.current = false;
    run().then(
      (d) => {
        if (!live) return;
        loaded.current = true;
        setData(d);
        setError(null);
      },
      (e) => {
        if (!live || (background && loaded.current)) return;
        setError(e instanceof Error ? e : new Error(String(e)));
      },
    );
    return () => {
      live = false;
    };
  }, [run, version]);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  const refresh = useCallback(() => {
    quiet.current = true;
    setVersion((v) => v + 1);
  }, []);
  return { data, error, reload, refresh };
}
