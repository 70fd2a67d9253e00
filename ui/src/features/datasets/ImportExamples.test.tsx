import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { ImportExamples } from "./ImportExamples";

afterEach(() => unmockApi());

const PATH = "/api/v1/datasets/ds-1/examples";

function jsonl(name: string, text: string): File {
  return new File([text], name, { type: "application/x-ndjson" });
}

describe("ImportExamples", () => {
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
});
