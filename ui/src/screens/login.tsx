import { useState } from "preact/hooks";
import { login, type Session } from "../api.js";

export function Login({ onLogin }: { onLogin: (s: Session) => void }): preact.JSX.Element {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError("");
    try {
      onLogin(await login({ username: String(f.get("username") ?? ""), password: String(f.get("password") ?? ""), token: String(f.get("token") ?? "") }));
    } catch (err) {
      setError((err as Error).message || "login failed");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1>Berth</h1>
      <form onSubmit={(e) => void submit(e)} aria-describedby="login-help">
        <p id="login-help">Log in with your username and password, or paste an API token.</p>
        <label>
          Username <input name="username" autoComplete="username" />
        </label>
        <label>
          Password <input name="password" type="password" autoComplete="current-password" />
        </label>
        <label>
          or API token <input name="token" type="password" autoComplete="off" />
        </label>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
