import { useMe, type Role } from "../auth/me";

/** Why a control is disabled or missing: "Only Admins can <what>; you are signed in as a
 * Viewer." Give it an ``id`` and point the controls' ``aria-describedby`` at it. */
export function RoleNote({ needed, what, id }: { needed: Role; what: string; id?: string }) {
  const me = useMe();
  const role = me.data?.role ?? "…";
  const who = needed === "Admin" ? "Admins" : "Editors and Admins";
  return (
    <p className="role-note" id={id}>
      Only {who} can {what}; you are signed in as {article(role)} {role}.
    </p>
  );
}

function article(word: string): string {
  return /^[AEIOU]/i.test(word) ? "an" : "a";
}
