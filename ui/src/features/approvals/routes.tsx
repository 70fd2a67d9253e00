import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const ApprovalReviewPage = lazyPage(() => import("./ApprovalReviewPage"), "ApprovalReviewPage");
const ApprovalsPage = lazyPage(() => import("./ApprovalsPage"), "ApprovalsPage");
const SubmitApprovalPage = lazyPage(() => import("./SubmitApprovalPage"), "SubmitApprovalPage");

export const feature: Feature = {
  name: "approvals",
  nav: [{ to: "/approvals", label: "Approvals" }],
  routes: [
    { path: "approvals", element: <ApprovalsPage /> },
    { path: "approvals/new", element: <SubmitApprovalPage /> },
    { path: "approvals/:approvalId", element: <ApprovalReviewPage /> },
  ],
};
