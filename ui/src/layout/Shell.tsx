import { Suspense } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { ErrorBoundary } from "../components/ErrorBoundary";
import { Loading } from "../components/Loading";
import { useMe } from "../auth/me";
import { signOut } from "../auth/session";

/** Every page's frame: a skip link, the navigation, who is signed in, the page itself. */
export function Shell({ links }: { links: { to: string; label: string }[] }) {
  const me = useMe();
  const location = useLocation();
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">PromptOps</span>
        <span className="whoami">
          {me.data ? (
            <>
              {me.data.actor} · <strong>{me.data.role}</strong>
              {me.data.project_id ? " · one project" : ""}
            </>
          ) : null}
        </span>
        <button type="button" className="secondary" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <nav aria-label="Main" className="sidenav">
        <ul>
          {links.map((link) => (
            <li key={link.to}>
              <NavLink to={link.to} end={link.to === "/"}>
                {link.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1} className="content">
        <ErrorBoundary key={location.pathname}>
          <Suspense fallback={<Loading what="Loading the page" />}>
            <Outlet />
          </Suspense>
        </ErrorBoundary>
      </main>
    </div>
  );
}
