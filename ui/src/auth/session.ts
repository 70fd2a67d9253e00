// The signed-in API key lives in sessionStorage: it goes with the tab, never into a cookie.
import { useSyncExternalStore } from "react";

const STORAGE_KEY = "promptops.apiKey";
let notice: string | null = null;
const listeners = new Set<() => void>();

function emit(): void {
  for (const listener of listeners) listener();
}

export function getKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function signIn(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key.trim());
  notice = null;
  emit();
}

/** Forget the key; ``reason`` is shown on the sign-in page. */
export function signOut(reason: string | null = null): void {
  if (getKey() === null && reason === notice) return;
  sessionStorage.removeItem(STORAGE_KEY);
  notice = reason;
  emit();
}

export function signOutNotice(): string | null {
  return notice;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current key (null when signed out), re-rendering on sign-in and sign-out. */
export function useKey(): string | null {
  return useSyncExternalStore(subscribe, getKey, () => null);
}
