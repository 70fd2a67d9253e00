import type { Feature } from "../types";
import { ApprovalReviewPage } from "./ApprovalReviewPage";
import { ApprovalsPage } from "./ApprovalsPage";
import { SubmitApprovalPage } from "./SubmitApprovalPage";

export const feature: Feature = {
  name: "approvals",
  nav: [{ to: "/approvals", label: "Approvals" }],
  routes: [
    { path: "approvals", element: <ApprovalsPage /> },
    { path: "approvals/new", element: <SubmitApprovalPage /> },
    { path: "approvals/:approvalId", element: <ApprovalReviewPage /> },
  ],
};
