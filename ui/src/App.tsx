import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";
import { SignIn } from "./auth/SignIn";
import { useKey } from "./auth/session";
import { ProjectsPage } from "./features/projects/ProjectsPage";
import { Shell } from "./layout/Shell";

/** Pages of the navigation, in order (each feature adds its own). */
export const NAV = [{ to: "/", label: "Projects" }];

export function App() {
  const key = useKey();
  if (!key) return <SignIn />;
  return (
    <BrowserRouter>
      <Routes>
        <Route element={<Shell links={NAV} />}>
          <Route index element={<ProjectsPage />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}
