import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";
import { SignIn } from "./auth/SignIn";
import { useKey } from "./auth/session";
import { FEATURES } from "./features/registry";
import { Shell } from "./layout/Shell";

const NAV = FEATURES.flatMap((f) => f.nav);

export function App() {
  const key = useKey();
  if (!key) return <SignIn />;
  return (
    <BrowserRouter>
      <Routes>
        <Route element={<Shell links={NAV} />}>
          {FEATURES.flatMap((f) =>
            f.routes.map((r) =>
              r.path === "" ? (
                <Route key={`${f.name}:index`} index element={r.element} />
              ) : (
                <Route key={`${f.name}:${r.path}`} path={r.path} element={r.element} />
              ),
            ),
          )}
          <Route path="*" element={<Navigate to="/" replace />} />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}
