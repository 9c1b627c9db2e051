import { useEffect, useState } from "preact/hooks";
import { can, type Obj } from "./api.js";
import { isOffline, liveList, onConnection } from "./live.js";

export interface Live {
  items: Obj[];
  loaded: boolean;
  error?: string;
}

/** The objects at a collection path, current with every watch event. */
export function useLive(path: string | undefined): Live {
  const [state, setState] = useState<Live>({ items: [], loaded: false });
  useEffect(() => {
    if (!path) return undefined;
    const list = liveList(path);
    const update = (): void => setState({ items: [...list.items.values()], loaded: list.loaded, error: list.error });
    const off = list.subscribe(update);
    update();
    return off;
  }, [path]);
  return state;
}

export function useOffline(): boolean {
  const [down, setDown] = useState(isOffline());
  useEffect(() => onConnection(() => setDown(isOffline())), []);
  return down;
}

/** Whether the API would allow this (a SelfSubjectAccessReview); false until it answers. */
export function useCan(verb: string, resource: string, namespace?: string): boolean {
  const [allowed, setAllowed] = useState(false);
  useEffect(() => {
    let live = true;
    void can(verb, resource, namespace).then((a) => live && setAllowed(a));
    return () => {
      live = false;
    };
  }, [verb, resource, namespace]);
  return allowed;
}

/** The page's hash route, e.g. `#/p/shop` → ["p", "shop"]. */
export function useRoute(): string[] {
  const read = (): string[] => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const on = (): void => setRoute(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** Re-renders every few seconds so ages stay right (no request is made). */
export function useTick(ms = 5000): void {
  const [, set] = useState(0);
  useEffect(() => {
    const t = setInterval(() => set((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
}
