/** The magpie mark: decorative, so hidden from assistive technology. */
export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <circle cx="16" cy="16" r="16" class="logo-disc" />
      <path class="logo-bird" d="M8 19c3-1 5-4 7-7 2-3 5-4 8-3l2 2-3 1c-1 4-4 8-9 9l-6 1 3-2z" />
    </svg>
  );
}
