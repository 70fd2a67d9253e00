import { Component, type ErrorInfo, type ReactNode } from "react";

interface Props {
  children: ReactNode;
}
interface State {
  error: Error | null;
}

/** A page that throws while rendering shows what failed instead of a blank screen; the rest of
 * the app (navigation, sign-out) stays usable. The Shell keys it by location, so moving to
 * another page starts afresh. */
export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("page failed", error, info.componentStack);
  }

  render() {
    if (this.state.error) {
      return (
        <div role="alert" className="banner error">
          <h1>This page failed</h1>
          <p>{this.state.error.message || String(this.state.error)}</p>
          <p>
            <button type="button" onClick={() => window.location.reload()}>
              Reload the page
            </button>
          </p>
        </div>
      );
    }
    return this.props.children;
  }
}
