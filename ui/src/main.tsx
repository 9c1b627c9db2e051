/**
 * Berth's web dashboard (issue 19, docs/ui.md, ADR 0019). Every screen reads the public API's
 * lists and watches (./live.ts) and writes through the same API, with the session cookie.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { logout, onSessionExpired, session, type Session } from "./api.js";
import { useOffline, useRoute } from "./hooks.js";
import { Login } from "./screens/login.js";
import { Projects } from "./screens/projects.js";
import { Project } from "./screens/project.js";
import { ObjectScreen } from "./screens/object.js";
import { Rollouts } from "./screens/rollouts.js";
import { Syncs } from "./screens/syncs.js";
import { Audit } from "./screens/audit.js";
import "./style.css";

const ADMINS = new Set(["super_admin", "admin"]);

function Screen({ route, me }: { route: string[]; me: Session }): preact.JSX.Element {
  const [screen, a, b, c] = route;
  if (screen === "p" && a) return <Project name={a} />;
  if (screen === "o" && a && b && c) return <ObjectScreen namespace={a === "_" ? undefined : a} plural={b} name={c} />;
  if (screen === "r" && a && b) return <Rollouts namespace={a} name={b} />;
  if (screen === "syncs") return <Syncs />;
  if (screen === "audit") return ADMINS.has(me.role) ? <Audit /> : <p role="alert">Only admins may read the audit trail.</p>;
  return <Projects />;
}

function App(): preact.JSX.Element {
  const [me, setMe] = useState<Session | null | undefined>(undefined);
  const route = useRoute();
  const offline = useOffline();
  useEffect(() => {
    session().then(setMe, () => setMe(null));
    return onSessionExpired(() => setMe(null));
  }, []);
  if (me === undefined) return <p aria-busy="true">Loading…</p>;
  if (me === null) return <Login onLogin={setMe} />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="Main">
          <a href="#/">Projects</a>
          {ADMINS.has(me.role) && <a href="#/syncs">Syncs</a>}
          {ADMINS.has(me.role) && <a href="#/audit">Audit</a>}
        </nav>
        <span class="who" data-testid="who">
          {me.user} ({me.role})
        </span>
        <button type="button" onClick={() => void logout().finally(() => setMe(null))}>
          Log out
        </button>
      </header>
      {offline && (
        <div class="banner" role="status" data-testid="offline">
          Connection to Berth lost — reconnecting; the lists resume where they left off.
        </div>
      )}
      <main id="main" tabIndex={-1}>
        <Screen route={route} me={me} />
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
