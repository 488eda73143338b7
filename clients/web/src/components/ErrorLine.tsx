// A refusal or failure under a form or in a panel: announced by screen
// readers when it appears (role="alert"), nothing at all when there is
// none, so every form shows its errors the same way.

export function ErrorLine({ text, className }: { text: string | undefined; className?: string }) {
  if (text === undefined) return null;
  return (
    <p class={className === undefined ? "error" : `error ${className}`} role="alert">
      {text}
    </p>
  );
}
