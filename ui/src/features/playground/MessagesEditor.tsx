import { FieldError, fieldInvalid } from "../../components/Problem";

export type Role = "system" | "user" | "assistant";
export interface Message {
  role: Role;
  content: string;
}

const ROLES: Role[] = ["system", "user", "assistant"];

/** Free-text messages (OpenAI chat format): a role and a text each; add and remove. The
 * API's message for `messages.<i>...` is shown next to message i. */
export function MessagesEditor({
  messages,
  onChange,
  error,
}: {
  messages: Message[];
  onChange: (messages: Message[]) => void;
  error: unknown;
}) {
  function update(index: number, patch: Partial<Message>) {
    onChange(messages.map((m, i) => (i === index ? { ...m, ...patch } : m)));
  }
  return (
    <fieldset className="messages" aria-describedby="messages-error">
      <legend>Messages</legend>
      {messages.map((message, index) => {
        const id = `message-${index}`;
        const n = index + 1;
        return (
          <div key={index} className="message">
            <div className="message-head">
              <label htmlFor={`${id}-role`} className="inline">
                Role of message {n}
              </label>
              <select
                id={`${id}-role`}
                value={message.role}
                onChange={(e) => update(index, { role: e.target.value as Role })}
              >
                {ROLES.map((role) => (
                  <option key={role} value={role}>
                    {role}
                  </option>
                ))}
              </select>
              <button
                type="button"
                className="secondary small"
                onClick={() => onChange(messages.filter((_, i) => i !== index))}
                disabled={messages.length === 1}
              >
                Remove message {n}
              </button>
            </div>
            <label htmlFor={`${id}-content`}>Message {n}</label>
            <textarea
              id={`${id}-content`}
              rows={3}
              value={message.content}
              onChange={(e) => update(index, { content: e.target.value })}
              aria-invalid={fieldInvalid(error, `messages.${index}.content`)}
              aria-describedby={`${id}-error`}
            />
            <FieldError error={error} field={`messages.${index}.content`} id={`${id}-error`} />
          </div>
        );
      })}
      <button
        type="button"
        className="secondary"
        onClick={() => onChange([...messages, { role: "user", content: "" }])}
      >
        Add a message
      </button>
      <FieldError error={error} field="messages" id="messages-error" />
    </fieldset>
  );
}
