import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import type { components } from "../../../api/schema";
import { atLeast, useMe } from "../../../auth/me";
import { ConfirmButton } from "../../../components/ConfirmButton";
import { Loading } from "../../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../../components/Problem";
import { RoleNote } from "../../../components/RoleNote";
import { formatTime } from "../format";
import { projectName, useProjects } from "../useProjects";

type Member = components["schemas"]["MemberPublic"];
type Role = components["schemas"]["Role"];
export const ROLES: Role[] = ["Viewer", "Editor", "Admin"];

/** The organization's members with their role and project narrowing; Admins add members,
 * change roles and project access, and remove members (their keys are revoked with them). */
export function MembersPage() {
  const me = useMe();
  const isAdmin = atLeast(me.data?.role, "Admin");
  const projects = useProjects();
  const members = useQuery({
    queryKey: ["members"],
    queryFn: async () => unwrap(await api.GET("/api/v1/members")),
  });

  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      {!isAdmin && <RoleNote needed="Admin" what="add, change or remove members" />}
      <ProblemBanner error={members.error} />
      {members.isPending ? (
        <Loading what="Loading members" />
      ) : (
        <table className="data">
          <caption className="visually-hidden">Members</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Project access</th>
              <th scope="col">Member since</th>
              {isAdmin && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {members.data?.data.map((m) => (
              <MemberRow
                key={m.user_id}
                member={m}
                editable={isAdmin}
                projects={projects.data?.data ?? []}
                projectLabel={
                  m.project_id ? projectName(projects.data, m.project_id) : "All projects"
                }
              />
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && <AddMemberForm projects={projects.data?.data ?? []} />}
    </section>
  );
}

function MemberRow({
  member,
  editable,
  projects,
  projectLabel,
}: {
  member: Member;
  editable: boolean;
  projects: { id: string; name: string }[];
  projectLabel: string;
}) {
  const queryClient = useQueryClient();
  const update = useMutation({
    mutationFn: async (body: components["schemas"]["MemberUpdate"]) =>
      unwrap(
        await api.PATCH("/api/v1/members/{user_id}", {
          params: { path: { user_id: member.user_id } },
          body,
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["members"] }),
  });
  const remove = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.DELETE("/api/v1/members/{user_id}", {
          params: { path: { user_id: member.user_id } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["members"] }),
  });
  const error = update.error ?? remove.error;
  const errorId = `member-${member.user_id}-error`;

  return (
    <tr>
      <th scope="row">{member.email}</th>
      <td>
        {editable ? (
          <>
            <label className="visually-hidden" htmlFor={`role-${member.user_id}`}>
              Role of {member.email}
            </label>
            <select
              id={`role-${member.user_id}`}
              value={member.role}
              disabled={update.isPending}
              aria-describedby={error ? errorId : undefined}
              onChange={(e) => update.mutate({ role: e.target.value as Role })}
            >
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </>
        ) : (
          member.role
        )}
      </td>
      <td>
        {editable ? (
          <>
            <label className="visually-hidden" htmlFor={`scope-${member.user_id}`}>
              Project access of {member.email}
            </label>
            <select
              id={`scope-${member.user_id}`}
              value={member.project_id ?? ""}
              disabled={update.isPending}
              onChange={(e) => update.mutate({ project_id: e.target.value || null })}
            >
              <option value="">All projects</option>
              {projects.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} only
                </option>
              ))}
            </select>
          </>
        ) : (
          projectLabel
        )}
      </td>
      <td>{formatTime(member.created_at)}</td>
      {editable && (
        <td>
          <ConfirmButton
            label="Remove"
            confirmLabel={`Remove ${member.email}`}
            busy={remove.isPending}
            onConfirm={() => remove.mutate()}
          />
          {error ? (
            <div id={errorId}>
              <ProblemBanner error={error} />
            </div>
          ) : null}
        </td>
      )}
    </tr>
  );
}

function AddMemberForm({ projects }: { projects: { id: string; name: string }[] }) {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("Viewer");
  const [projectId, setProjectId] = useState("");
  const add = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/members", {
          body: { email, role, project_id: projectId || null },
        }),
      ),
    onSuccess: async () => {
      setEmail("");
      await queryClient.invalidateQueries({ queryKey: ["members"] });
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate();
  }

  return (
    <form onSubmit={submit} className="card" aria-labelledby="add-member" noValidate>
      <h3 id="add-member">Add a member</h3>
      <p className="muted">
        The user is created if new; give them an API key on the API keys page to sign in.
      </p>
      <ProblemBanner error={add.error} />
      <label htmlFor="member-email">Email</label>
      <input
        id="member-email"
        type="email"
        value={email}
        onChange={(e) => setEmail(e.target.value)}
        aria-invalid={fieldInvalid(add.error, "email")}
        aria-describedby="member-email-error"
      />
      <FieldError error={add.error} field="email" id="member-email-error" />
      <label htmlFor="member-role">Role</label>
      <select id="member-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
        {ROLES.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>
      <FieldError error={add.error} field="role" id="member-role-error" />
      <label htmlFor="member-project">Project access</label>
      <select
        id="member-project"
        value={projectId}
        onChange={(e) => setProjectId(e.target.value)}
        aria-invalid={fieldInvalid(add.error, "project_id")}
        aria-describedby="member-project-error"
      >
        <option value="">All projects</option>
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name} only
          </option>
        ))}
      </select>
      <FieldError error={add.error} field="project_id" id="member-project-error" />
      <button type="submit" disabled={add.isPending}>
        Add member
      </button>
    </form>
  );
}
