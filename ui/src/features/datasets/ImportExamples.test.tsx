import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { ImportExamples } from "./ImportExamples";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };

afterEach(() => unmockApi());

const PATH = "/api/v1/datasets/ds-1/examples";

function jsonl(name: string, text: string): File {
  return new File([text], name, { type: "application/x-ndjson" });
}

describe("ImportExamples", SLOW, () => {
  it("shows the API's row-numbered error next to the file field, and that nothing was imported", async () => {
    mockApi({
      [`POST ${PATH}`]: () =>
        json(
          {
            detail: [
              {
                loc: ["body", "examples", "row 3"],
                msg: "row 3: missing field 'input'",
                type: "invalidinput",
              },
            ],
          },
          422,
        ),
    });
    renderPage(<ImportExamples datasetId="ds-1" />);
    const field = screen.getByLabelText("File (JSONL or CSV)");
    await userEvent.upload(field, jsonl("bad.jsonl", '{"id": "a", "input": "x"}\n'));
    await userEvent.click(screen.getByRole("button", { name: "Import" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("row 3: missing field 'input'");
    expect(alert).toHaveTextContent("Nothing was imported.");
    expect(alert).not.toHaveTextContent("examples.row 3");
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(field.getAttribute("aria-describedby")).toContain(alert.id);
  });

  it("uploads the file as multipart field `file` and says how many were imported", async () => {
    const calls = mockApi({
      [`POST ${PATH}`]: () => json({ dataset_id: "ds-1", imported: 2, total: 5 }, 201),
    });
    renderPage(<ImportExamples datasetId="ds-1" />);
    await userEvent.upload(
      screen.getByLabelText("File (JSONL or CSV)"),
      jsonl("good.jsonl", '{"id": "a", "input": "x"}\n{"id": "b", "input": "y"}\n'),
    );
    await userEvent.click(screen.getByRole("button", { name: "Import" }));
    expect(await screen.findByRole("status")).toHaveTextContent(
      "Imported 2 examples; the dataset now has 5.",
    );
    expect(calls[0].request.headers.get("content-type")).toMatch(/^multipart\/form-data/);
    const file = (await calls[0].request.formData()).get("file") as Blob;
    expect(await file.text()).toContain('"id": "b"');
  });

  it("sends pasted CSV rows as text/csv and shows a refusal next to the text box", async () => {
    const calls = mockApi({
      [`POST ${PATH}`]: () =>
        json(
          {
            detail: [
              { loc: ["body", "examples", "row 2"], msg: "row 2: missing field 'input'", type: "x" },
            ],
          },
          422,
        ),
    });
    renderPage(<ImportExamples datasetId="ds-1" />);
    await userEvent.click(screen.getByLabelText("pasted rows"));
    await userEvent.selectOptions(screen.getByLabelText("Format"), "csv");
    const rows = screen.getByLabelText("Rows");
    await userEvent.click(rows);
    await userEvent.paste("id,input,expected\nfr,France,Paris\nde,,Berlin");
    await userEvent.click(screen.getByRole("button", { name: "Import" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("row 2: missing field 'input'");
    expect(rows).toHaveAttribute("aria-invalid", "true");
    expect(rows.getAttribute("aria-describedby")).toContain(alert.id);
    expect(calls[0].request.headers.get("content-type")).toBe("text/csv");
    expect(await calls[0].request.text()).toBe("id,input,expected\nfr,France,Paris\nde,,Berlin");
  });

  it("sends pasted JSONL rows as application/x-ndjson and clears the box once imported", async () => {
    const calls = mockApi({
      [`POST ${PATH}`]: () => json({ dataset_id: "ds-1", imported: 1, total: 1 }, 201),
    });
    renderPage(<ImportExamples datasetId="ds-1" />);
    await userEvent.click(screen.getByLabelText("pasted rows"));
    expect(screen.getByRole("button", { name: "Import" })).toBeDisabled();
    const rows = screen.getByLabelText("Rows");
    await userEvent.click(rows);
    await userEvent.paste('{"id": "a", "input": "x"}');
    await userEvent.click(screen.getByRole("button", { name: "Import" }));
    expect(await screen.findByRole("status")).toHaveTextContent(
      "Imported 1 example; the dataset now has 1.",
    );
    expect(rows).toHaveValue("");
    expect(calls[0].request.headers.get("content-type")).toBe("application/x-ndjson");
    expect(await calls[0].request.text()).toBe('{"id": "a", "input": "x"}');
  });
});
